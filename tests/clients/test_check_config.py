#!/usr/bin/python3
"""xenrdpd --check-config on good and bad files: exit status and message."""
import os
import subprocess
import tempfile
import unittest

import harness


def check(text):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(text)
    try:
        return subprocess.run([harness.DAEMON, "--config", f.name, "--check-config"],
                              capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(f.name)


class CheckConfigTest(unittest.TestCase):
    def test_a_good_file_is_accepted_and_described(self):
        r = check("listen = 127.0.0.1:8080\ncall-plugin-interval = 5\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertIn("listen = 127.0.0.1:8080", r.stdout)

    def test_an_unknown_key_is_refused_with_its_name(self):
        r = check("lisen = 127.0.0.1:8080\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("lisen", r.stderr)

    def test_a_bad_value_is_refused_with_the_setting_name(self):
        r = check("rdp-port = 0\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("rdp-port", r.stderr)

    def test_a_secret_is_never_echoed(self):
        r = check("tls-listen = 127.0.0.1:8443\ntls-cert = /nonexistent.pem\ntls-key = /nonexistent.key\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not exist", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
