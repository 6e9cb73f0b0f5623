#!/usr/bin/python3
"""xenrdpd --check-config on good and bad files: exit status and message.
The files a configuration names are checked as the daemon will use them: an
unreadable config file, a users file that does not parse and a TLS key that
does not belong to its certificate are refused, at --check-config and at a
SIGHUP reload (which keeps the running configuration).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
import xmlrpc.client

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

    def test_a_config_file_that_cannot_be_read_is_refused(self):
        work = tempfile.mkdtemp(prefix="xenrdp-check-")
        self.addCleanup(shutil.rmtree, work, True)
        r = subprocess.run([harness.DAEMON, "--config", work, "--check-config"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("is a directory", r.stderr)
        # A file its reader may not open (the daemon run as nobody).
        path = os.path.join(work, "xenrdpd.conf")
        with open(path, "w") as f:
            f.write("listen = 127.0.0.1:8080\n")
        os.chmod(path, 0o600)
        os.chmod(work, 0o755)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", harness.DAEMON,
                            "--config", path, "--check-config"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("Permission denied", r.stderr)

    def test_the_users_file_is_parsed(self):
        work = tempfile.mkdtemp(prefix="xenrdp-check-")
        self.addCleanup(shutil.rmtree, work, True)
        users = os.path.join(work, "users")
        harness.make_users_file(users, [("admin", "pool-admin", "pw")])
        self.assertEqual(check(f"users = {users}\n").returncode, 0)
        with open(users, "a") as f:
            f.write("bob:vm-operator\n")
        r = check(f"users = {users}\n")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn(f"users: {users}:2:", r.stderr)

    def test_the_tls_key_must_belong_to_the_certificate(self):
        work = tempfile.mkdtemp(prefix="xenrdp-check-")
        self.addCleanup(shutil.rmtree, work, True)
        pairs = [harness.make_cert(work, name) for name in ("a", "b")]
        (cert_a, key_a), (_, key_b) = pairs
        base = "tls-listen = 127.0.0.1:8443\n"
        r = check(base + f"tls-cert = {cert_a}\ntls-key = {key_a}\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = check(base + f"tls-cert = {cert_a}\ntls-key = {key_b}\n")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("not a usable certificate and key", r.stderr)
        self.assertIn("mismatch", r.stderr)
        # A key that is not PEM at all.
        with open(key_b, "w") as f:
            f.write("not a key\n")
        r = check(base + f"tls-cert = {cert_a}\ntls-key = {key_b}\n")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("not a usable certificate and key", r.stderr)


class ReloadValidationTest(unittest.TestCase):
    def test_a_broken_users_file_fails_the_reload_and_the_old_accounts_stay(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        daemon = harness.ConfigFileDaemon(sandbox)
        self.addCleanup(daemon.close)
        with open(daemon.users_file, "a") as f:
            f.write("mallory:pool-admin:plaintext\n")
        daemon.proc.send_signal(signal.SIGHUP)
        line = daemon.wait_for_log(r"CONFIG_RELOAD_FAILED")
        self.assertIn(daemon.users_file, line)
        self.assertEqual(daemon.count(r"CONFIG_RELOADED"), 0)
        with xmlrpc.client.ServerProxy(daemon.url) as proxy:
            login = proxy.session.login_with_password("admin", "admin-password", "2.20", "check-config-test")
            self.assertEqual(login["Status"], "Success", login)
            proxy.session.logout(login["Value"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
