"""The .deb: built from this tree by packaging/build-deb (lintian errors fail
it), installed with dpkg, checked, run from /usr/sbin against a sandbox
xenstored with the installed configuration, then purged.

Set XENRDP_DEB to an already built .deb to test that one instead of building.
The test changes the machine's package set (it must run as root) and leaves
it as it found it; it refuses to run if xenrdpd is already installed.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import xmlrpc.client

from common import PACKAGE_OUT, SOURCE_DIR, run

import harness  # noqa: E402  (path set up by common)

INSTALLED_FILES = [
    "/usr/sbin/xenrdpd",
    "/lib/systemd/system/xenrdpd.service",
    "/etc/xenrdpd/xenrdpd.conf",
    "/etc/pam.d/xenrdpd",
    "/usr/share/man/man8/xenrdpd.8.gz",
    "/usr/bin/xenrdp-xe",
    "/usr/share/man/man1/xenrdp-xe.1.gz",
    "/usr/share/doc/xenrdpd/copyright",
]
ENABLED_LINK = "/etc/systemd/system/multi-user.target.wants/xenrdpd.service"
# The CLI is offered as xe through update-alternatives, at a low priority.
XE_LINK = "/usr/bin/xe"
XE_MAN_LINK = "/usr/share/man/man1/xe.1.gz"
XE_PRIORITY = "10"


def package_status():
    r = run(["dpkg-query", "-W", "-f=${Status}", "xenrdpd"])
    return r.stdout if r.returncode == 0 else ""


def build_deb():
    out = os.path.join(PACKAGE_OUT, "deb")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    log_path = os.path.join(PACKAGE_OUT, "build-deb.log")
    with open(log_path, "w") as log:
        rc = subprocess.run([os.path.join(SOURCE_DIR, "packaging", "build-deb"), out, "--fast"],
                            stdout=log, stderr=subprocess.STDOUT).returncode
    with open(log_path) as f:
        text = f.read()
    if rc != 0:
        raise AssertionError(f"build-deb failed ({rc}); end of {log_path}:\n" + text[-6000:])
    # What lintian said, for the reader of the test log.
    print("\n".join(l for l in text.splitlines() if re.match(r"^[EWI]: xenrdpd", l)))
    debs = glob.glob(os.path.join(out, "xenrdpd_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


class DebPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.geteuid() == 0, "installing the .deb needs root"
        assert "installed" not in package_status(), \
            "xenrdpd is already installed here; not replacing it"
        cls.deb = os.environ.get("XENRDP_DEB") or build_deb()
        r = run(["dpkg-deb", "-f", cls.deb, "Version"])
        cls.version = r.stdout.strip()
        # Purged afterwards even if the installation itself fails half-way.
        cls.addClassCleanup(cls.purge)
        r = run(["dpkg", "-i", cls.deb], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        assert r.returncode == 0, "dpkg -i failed:\n" + r.stdout + r.stderr

    @classmethod
    def purge(cls):
        r = run(["dpkg", "--purge", "xenrdpd"])
        assert r.returncode == 0, "dpkg --purge failed:\n" + r.stdout + r.stderr
        left = [p for p in INSTALLED_FILES + [ENABLED_LINK, "/etc/xenrdpd", XE_LINK, XE_MAN_LINK]
                if os.path.lexists(p)]
        assert left == [], f"left behind after purge: {left}"
        assert run(["update-alternatives", "--query", "xe"]).returncode != 0, "the xe alternative outlived the package"
        assert package_status() in ("", "unknown ok not-installed"), package_status()

    def test_files_are_installed(self):
        for path in INSTALLED_FILES:
            self.assertTrue(os.path.isfile(path), path)
        self.assertTrue(os.access("/usr/sbin/xenrdpd", os.X_OK))
        self.assertTrue(os.access("/usr/bin/xenrdp-xe", os.X_OK))
        with open("/etc/pam.d/xenrdpd") as f:
            pam = f.read()
        self.assertIn("@include common-auth", pam)
        self.assertIn("@include common-account", pam)

    def test_the_cli_is_offered_as_xe_where_there_is_none(self):
        self.assertEqual(os.readlink(XE_LINK), "/etc/alternatives/xe")
        self.assertEqual(os.path.realpath(XE_LINK), "/usr/bin/xenrdp-xe")
        self.assertEqual(os.path.realpath(XE_MAN_LINK), "/usr/share/man/man1/xenrdp-xe.1.gz")
        query = run(["update-alternatives", "--query", "xe"]).stdout
        self.assertRegex(query, r"(?m)^Status: auto$")
        self.assertRegex(query, rf"(?m)^Alternative: /usr/bin/xenrdp-xe\nPriority: {XE_PRIORITY}$")
        r = run(["xe", "help", "vm-call-plugin"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("vm-call-plugin", r.stdout)

    def test_a_real_xe_is_left_alone(self):
        # A dom0 with XenServer's own xe: the package's postinst, run as dpkg
        # runs it, registers the alternative but does not replace the file.
        postinst = "/var/lib/dpkg/info/xenrdpd.postinst"
        self.assertEqual(run(["update-alternatives", "--remove", "xe", "/usr/bin/xenrdp-xe"]).returncode, 0)
        self.assertFalse(os.path.lexists(XE_LINK))
        real_xe = "#!/bin/sh\necho the real xe\n"
        try:
            with open(XE_LINK, "w") as f:
                f.write(real_xe)
            os.chmod(XE_LINK, 0o755)
            r = run([postinst, "configure", self.version])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertFalse(os.path.islink(XE_LINK))
            with open(XE_LINK) as f:
                self.assertEqual(f.read(), real_xe)
            self.assertEqual(run(["xe"]).stdout, "the real xe\n")
        finally:
            if not os.path.islink(XE_LINK) and os.path.exists(XE_LINK):
                os.unlink(XE_LINK)
        # Without it, the postinst offers the CLI as xe again.
        r = run([postinst, "configure", self.version])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(os.path.realpath(XE_LINK), "/usr/bin/xenrdp-xe")

    def test_config_and_pam_files_are_conffiles(self):
        r = run(["dpkg-query", "-W", "-f=${Conffiles}", "xenrdpd"])
        conffiles = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
        self.assertIn("/etc/xenrdpd/xenrdpd.conf", conffiles)
        self.assertIn("/etc/pam.d/xenrdpd", conffiles)

    def test_depends_come_from_the_shared_libraries(self):
        depends = run(["dpkg-query", "-W", "-f=${Depends}", "xenrdpd"]).stdout
        for lib in ("libxenstore4", "libsystemd0", "libpam0g"):
            self.assertIn(lib, depends)
        # The unit requires xen.service, which xen-utils-common's script provides.
        self.assertIn("xen-utils-common", depends)

    def test_service_is_enabled_and_its_unit_verifies(self):
        self.assertTrue(os.path.islink(ENABLED_LINK), ENABLED_LINK)
        with open("/lib/systemd/system/xenrdpd.service") as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/sbin/xenrdpd --log-journal true\n", unit)
        self.assertIn("Requires=xen.service\n", unit)
        r = run(["systemd-analyze", "verify", "--generators=yes", "/lib/systemd/system/xenrdpd.service"])
        output = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, output)
        self.assertEqual([l for l in output.splitlines() if "xenrdpd" in l], [], output)

    def test_version_and_installed_config(self):
        r = run(["/usr/sbin/xenrdpd", "--version"])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"xenrdpd {self.version}"))
        r = run(["/usr/sbin/xenrdpd", "--check-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config = /etc/xenrdpd/xenrdpd.conf", r.stdout)
        self.assertIn("unix-socket = /run/xenrdpd/xapi.sock", r.stdout)

    def test_installed_daemon_serves_a_sandbox(self):
        sandbox = harness.Sandbox()
        work = tempfile.mkdtemp(prefix="xenrdpd-deb-run-")
        proc = None
        try:
            uuid = sandbox.add_domain(7, "packaged-guest")
            users = os.path.join(work, "users")
            harness.make_users_file(users, [("admin", "pool-admin", "admin-password")])
            port = harness.free_port()
            log_path = os.path.join(work, "xenrdpd.log")
            # No --config: the installed /etc/xenrdpd/xenrdpd.conf is read.
            with open(log_path, "w") as log:
                proc = subprocess.Popen(
                    ["/usr/sbin/xenrdpd", "--xenstore-socket", sandbox.socket,
                     "--unix-socket", os.path.join(work, "xapi.sock"),
                     "--listen", f"127.0.0.1:{port}", "--pam", "false", "--users", users,
                     "--login-failure-delay", "0"],
                    stdout=log, stderr=subprocess.STDOUT)

            def log_text():
                with open(log_path) as f:
                    return f.read()

            def log_has(pattern):
                text = log_text()
                if proc.poll() is not None:
                    raise AssertionError(f"xenrdpd exited ({proc.returncode}):\n{text}")
                return re.search(pattern, text)

            harness.wait_until(lambda: log_has(r"DAEMON_READY"), 30, "DAEMON_READY")
            self.assertIn("config=/etc/xenrdpd/xenrdpd.conf", log_text())

            with xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/") as server:
                methods = server.system.listMethods()
                for name in ("session.login_with_password", "VM.get_all_records", "VM.call_plugin"):
                    self.assertIn(name, methods)
                login = server.session.login_with_password("admin", "admin-password", "1.0", "test_deb")
                self.assertEqual(login["Status"], "Success", login)
                vms = server.VM.get_all_records(login["Value"])
                self.assertEqual(vms["Status"], "Success", vms)
                self.assertIn(uuid, [r["uuid"] for r in vms["Value"].values()])

            # The installed client, as root on the Unix socket (no password).
            r = run(["/usr/bin/xenrdp-xe", "--socket", os.path.join(work, "xapi.sock"),
                     "vm-list", "name-label=packaged-guest", "params=uuid", "--minimal"])
            self.assertEqual((r.returncode, r.stdout.strip()), (0, uuid), r.stderr)

            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)
            self.assertIn("DAEMON_STOPPED", log_text())
        finally:
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
            sandbox.close()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
