"""packaging/xenrdpd.conf lists every setting commented out with a valid
value, listens only on the Unix socket, and xenrdpd --check-config accepts it
as shipped and with every line switched on."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from common import DAEMON, SOURCE_DIR, run, setting_names

CONF = os.path.join(SOURCE_DIR, "packaging", "xenrdpd.conf")
COMMENTED = re.compile(r"^#([a-z][a-z-]*) = (.*)$")


class DefaultConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="xenrdpd-conf-")
        with open(CONF) as f:
            self.lines = f.read().splitlines()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, text):
        path = os.path.join(self.dir, "xenrdpd.conf")
        with open(path, "w") as f:
            f.write(text)
        return run([DAEMON, "--config", path, "--check-config"])

    def test_every_setting_is_there_commented_out(self):
        keys = {m.group(1) for m in map(COMMENTED.match, self.lines) if m}
        self.assertEqual(sorted(set(setting_names(DAEMON)) - keys), [])
        active = [l for l in self.lines if l.strip() and not l.lstrip().startswith("#")]
        self.assertEqual(active, [])

    def test_shipped_file_serves_only_the_unix_socket(self):
        r = self.check("\n".join(self.lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unix-socket = /run/xenrdpd/xapi.sock", r.stdout)
        self.assertNotRegex(r.stdout, r"(?m)^(tls-)?listen = ")

    def test_every_line_switched_on_is_valid(self):
        # --check-config loads the files the settings name: a real
        # certificate and key, and a users file that parses.
        files = {key: os.path.join(self.dir, key) for key in ("tls-cert", "tls-key", "users")}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-days", "1", "-keyout", files["tls-key"], "-out", files["tls-cert"]],
                       check=True, capture_output=True)
        with open(files["users"], "w") as f:
            f.write("# no accounts yet\n")
        out = []
        for line in self.lines:
            m = COMMENTED.match(line)
            if m:
                key, value = m.groups()
                out.append(f"{key} = {files.get(key, value)}")
        r = self.check("\n".join(out) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("listen = 127.0.0.1:8080", r.stdout)

    def test_a_bad_value_is_refused(self):
        r = self.check("max-sessions = 0\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("max-sessions", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
