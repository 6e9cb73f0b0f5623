"""The generated systemd unit passes `systemd-analyze verify` without a word
about xenrdpd.service, in both its Debian and XenServer/XCP-ng forms, and
keeps its sandboxing (systemd-analyze security)."""
import os
import re
import shutil
import tempfile
import unittest

from common import DAEMON, MAN_DIR, SBINDIR, SOURCE_DIR, UNIT, run


class SystemdUnitTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="xenrdpd-unit-")
        # Documentation=man:xenrdpd(8) is checked by verify with man(1): give
        # it the page from the source tree.
        man8 = os.path.join(self.dir, "man", "man8")
        os.makedirs(man8)
        shutil.copy(os.path.join(MAN_DIR, "xenrdpd.8"), man8)
        self.env = dict(os.environ, MANPATH=os.path.join(self.dir, "man"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def unit_text(self, text, daemon=DAEMON):
        """The unit with ExecStart pointing at the built daemon, since verify
        requires the binary to exist and it is not installed."""
        expected = f"ExecStart={SBINDIR}/xenrdpd --log-journal true\n"
        self.assertIn(expected, text)
        return text.replace(expected, f"ExecStart={daemon} --log-journal true\n")

    def write(self, name, text, subdir="units"):
        d = os.path.join(self.dir, subdir)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def verify(self, path, generators):
        args = ["systemd-analyze", "verify"]
        if generators:
            # Debian's xenstored comes from /etc/init.d/xen, which only the
            # sysv generator turns into xen.service.
            args.append("--generators=yes")
        r = run(args + [path], env=self.env)
        output = r.stdout + r.stderr
        about_unit = [line for line in output.splitlines() if "xenrdpd" in line]
        return r.returncode, about_unit, output

    def test_generated_unit_verifies_cleanly(self):
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("Requires=xen.service\n", text)
        path = self.write("xenrdpd.service", self.unit_text(text))
        rc, about_unit, output = self.verify(path, generators=True)
        self.assertEqual(rc, 0, output)
        self.assertEqual(about_unit, [], output)

    def test_xenserver_form_verifies_cleanly(self):
        # The RPM configures the same template for Xen's own xenstored.service
        # (XenServer, XCP-ng); a stand-in for that unit sits beside it.
        with open(os.path.join(SOURCE_DIR, "systemd", "xenrdpd.service.in")) as f:
            text = f.read()
        text = text.replace("@XENRDP_SYSTEMD_XENSTORE_UNIT@", "xenstored.service")
        text = text.replace("@XENRDP_SBINDIR@", SBINDIR)
        self.assertNotIn("@XENRDP", text)
        path = self.write("xenrdpd.service", self.unit_text(text))
        self.write("xenstored.service",
                   "[Unit]\nDescription=stand-in for Xen's xenstored.service\n"
                   "[Service]\nType=notify\nExecStart=/bin/true\n")
        rc, about_unit, output = self.verify(path, generators=False)
        self.assertEqual(rc, 0, output)
        self.assertEqual(about_unit, [], output)

    def test_verify_catches_a_broken_unit(self):
        # The check above can fail: a missing binary and a misspelt key are
        # both reported about xenrdpd.service.
        with open(UNIT) as f:
            text = self.unit_text(f.read(), daemon="/nonexistent/xenrdpd")
        text = text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
        path = self.write("xenrdpd.service", text)
        rc, about_unit, output = self.verify(path, generators=True)
        self.assertNotEqual(rc, 0, output)
        self.assertTrue(any("NoNewPrivilege" in line for line in about_unit), output)

    def test_notify_watchdog_and_reload_are_wired(self):
        with open(UNIT) as f:
            text = f.read()
        for line in ("Type=notify", "WatchdogSec=30s", "Restart=on-failure",
                     "ExecReload=/bin/kill -HUP $MAINPID", "RuntimeDirectory=xenrdpd",
                     "ConditionPathExists=/proc/xen/capabilities"):
            self.assertIn(line + "\n", text)
        # Under systemd xenrdpd logs with syslog prefixes, no timestamps.
        self.assertRegex(text, r"ExecStart=\S+/xenrdpd --log-journal true\n")

    def test_sandboxing_stays_strong(self):
        with open(UNIT) as f:
            path = self.write("xenrdpd.service", self.unit_text(f.read()))
        r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", path], env=self.env)
        output = r.stdout + r.stderr
        m = re.search(r"Overall exposure level for xenrdpd\.service: ([0-9.]+)", output)
        self.assertIsNotNone(m, output)
        # 2.8 when written; anything above 3.0 means a protection was dropped.
        self.assertLessEqual(float(m.group(1)), 3.0, output)


if __name__ == "__main__":
    unittest.main(verbosity=2)
