"""The RPM for XenServer/XCP-ng: built from this tree by packaging/build-rpm
(on Debian a packaging test, see the spec), then inspected with rpm: its
files, config files, scriptlets, and the unit and PAM file it carries.

Set XENRDP_RPM to an already built .rpm to test that one instead of building.
"""
import glob
import os
import re
import shutil
import subprocess
import unittest

from common import PACKAGE_OUT, SOURCE_DIR, run

UNIT = "/usr/lib/systemd/system/xenrdpd.service"


def build_rpm():
    out = os.path.join(PACKAGE_OUT, "rpm")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    log_path = os.path.join(PACKAGE_OUT, "build-rpm.log")
    with open(log_path, "w") as log:
        rc = subprocess.run([os.path.join(SOURCE_DIR, "packaging", "build-rpm"), out, "--fast"],
                            stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log_path) as f:
            raise AssertionError(f"build-rpm failed ({rc}); end of {log_path}:\n" + f.read()[-6000:])
    rpms = glob.glob(os.path.join(out, "xenrdpd-*.rpm"))
    assert len(rpms) == 1, rpms
    return rpms[0]


def cpio_files(data):
    """{path: bytes} of the regular files in a cpio "newc" archive."""
    files, pos = {}, 0
    while True:
        header = data[pos:pos + 110]
        assert header[:6] in (b"070701", b"070702"), f"not a newc cpio header at {pos}"
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_end = pos + 110 + namesize
        name = data[pos + 110:name_end - 1].decode()
        start = (name_end + 3) & ~3
        if name == "TRAILER!!!":
            return files
        if mode & 0o170000 == 0o100000:
            files["/" + name.lstrip("./")] = data[start:start + size]
        pos = (start + size + 3) & ~3


class RpmPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rpm = os.environ.get("XENRDP_RPM") or build_rpm()
        payload = subprocess.run(["rpm2cpio", cls.rpm], capture_output=True, check=True).stdout
        cls.payload = cpio_files(payload)

    def query(self, *args):
        r = run(["rpm", "-qp", *args, self.rpm])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_file_list(self):
        files = self.query("-l").split()
        for path in ("/usr/sbin/xenrdpd", UNIT, "/etc/xenrdpd/xenrdpd.conf", "/etc/pam.d/xenrdpd"):
            self.assertIn(path, files)
        # %license: /usr/share/licenses/NAME, or NAME-VERSION with older
        # %_docdir_fmt defaults (Debian's rpm).
        self.assertTrue(any(re.fullmatch(r"/usr/share/licenses/xenrdpd(-[0-9.]+)?/LICENSE", f)
                            for f in files), files)
        self.assertIn("/usr/bin/xenrdp-xe", files)
        # XenServer and XCP-ng dom0s have xapi's own xe: never shadow it.
        self.assertNotIn("/usr/bin/xe", files)
        self.assertNotIn("alternatives", self.query("--scripts"))
        for page in ("/usr/share/man/man8/xenrdpd.8", "/usr/share/man/man1/xenrdp-xe.1"):
            self.assertTrue(any(f.startswith(page) for f in files), files)

    def test_config_files_are_noreplace(self):
        # %config(noreplace) shows as flag "n" in --dump's "config" column.
        config = self.query("--configfiles").split()
        self.assertEqual(sorted(config), ["/etc/pam.d/xenrdpd", "/etc/xenrdpd/xenrdpd.conf"])
        fileflags = self.query("--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\\n]")
        for path in config:
            line = next(l for l in fileflags.splitlines() if l.startswith(path + " "))
            self.assertIn("n", line.split()[1], line)

    def test_header(self):
        self.assertEqual(self.query("--qf", "%{NAME} %{VERSION} %{LICENSE}"), "xenrdpd 0.1.0 ISC")

    def test_scriptlets_use_systemd(self):
        scripts = self.query("--scripts")
        self.assertNotIn("%systemd", scripts)  # every macro was expanded
        self.assertIn("preset xenrdpd.service", scripts)
        self.assertIn("disable --now xenrdpd.service", scripts)
        self.assertIn("try-restart xenrdpd.service", scripts)

    def test_unit_and_pam_file_are_the_xenserver_ones(self):
        unit = self.payload[UNIT].decode()
        self.assertIn("Requires=xenstored.service\n", unit)
        self.assertIn("After=xenstored.service proc-xen.mount", unit)
        self.assertIn("ExecStart=/usr/sbin/xenrdpd --log-journal true\n", unit)
        pam = self.payload["/etc/pam.d/xenrdpd"].decode()
        self.assertRegex(pam, r"(?m)^auth\s+include\s+system-auth$")
        self.assertRegex(pam, r"(?m)^account\s+include\s+system-auth$")
        self.assertNotIn("common-auth", pam)

    def test_binary_is_linked_against_libxenstore(self):
        requires = self.query("--requires")
        self.assertIn("libxenstore.so.4", requires)
        self.assertTrue(self.payload["/usr/sbin/xenrdpd"].startswith(b"\x7fELF"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
