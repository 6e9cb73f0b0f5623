#!/usr/bin/python3
"""Session limits of a running xenrdpd, driven through its flags with
Debian's python3-os-xenapi XenAPI.Session objects.

--max-sessions-per-user: a user logging in again and again ends only their
own least recently used sessions; --max-sessions: at the overall cap the user
holding the most sessions gives one up, so a read-only account cannot push
out the pool-admin's or XenCenter's (root's) session.
--session-idle-timeout: an unused session expires, and XenAPI.Session logs in
again on the SESSION_INVALID that follows.
"""
import unittest
import xmlrpc.client

from os_xenapi.client import XenAPI

import harness


def is_live(daemon, handle):
    """Asks with a raw proxy (XenAPI.Session would log in again on SESSION_INVALID)."""
    answer = xmlrpc.client.ServerProxy(daemon.url).session.get_uuid(handle, handle)
    if answer["Status"] == "Success":
        return True
    if answer["ErrorDescription"][0] == "SESSION_INVALID":
        return False
    raise AssertionError(f"unexpected answer {answer}")


class SessionLimitsTest(unittest.TestCase):
    def setUp(self):
        self.sandbox = harness.Sandbox()
        self.addCleanup(self.sandbox.close)
        self.sandbox.add_domain(3, "win10-rdp")

    def start_daemon(self, *args):
        daemon = harness.Daemon(self.sandbox, extra_args=list(args))
        self.addCleanup(daemon.close)
        return daemon

    def login(self, daemon, user, password, originator="xenrdpd-tests"):
        session = XenAPI.Session(daemon.url)
        session.xenapi.login_with_password(user, password, "2.20", originator)
        return session

    def assert_still_logged_in(self, session, handle):
        names = [r["name_label"] for r in session.xenapi.VM.get_all_records().values()]
        self.assertIn("win10-rdp", names)
        self.assertEqual(session.handle, handle, "the session survived: no new login was needed")

    def test_a_read_only_user_logging_in_again_and_again_cannot_evict_the_admins(self):
        daemon = self.start_daemon("--max-sessions", "4", "--max-sessions-per-user", "2")
        admin = self.login(daemon, "admin", "admin-password", "XenCenter 2023.4.0")
        admin_handle = admin.handle
        # Root on the Unix socket: counted per originator, as xapi does.
        root = XenAPI.Session("http://localhost/", transport=harness.UnixTransport(daemon.unix_socket))
        root.xenapi.login_with_password("root", "", "2.20", "XenCenter 2023.4.0")
        root_handle = root.handle

        readers = [self.login(daemon, "reader", "reader-password").handle for _ in range(6)]
        self.assertEqual([is_live(daemon, h) for h in readers], [False] * 4 + [True] * 2)
        self.assert_still_logged_in(admin, admin_handle)
        self.assert_still_logged_in(root, root_handle)
        self.assertEqual(daemon.metric("xenrdpd_sessions"), 4)

        # At the overall cap the operator's first login is let in; the reader,
        # holding the most sessions, gives up its least recently used one.
        operator = self.login(daemon, "operator", "operator-password")
        self.assertEqual([is_live(daemon, h) for h in readers[4:]], [False, True])
        self.assert_still_logged_in(admin, admin_handle)
        self.assert_still_logged_in(root, root_handle)
        self.assert_still_logged_in(operator, operator.handle)
        self.assertEqual(daemon.metric("xenrdpd_sessions"), 4)

    def test_an_idle_session_expires_and_xenapi_session_logs_in_again(self):
        daemon = self.start_daemon("--session-idle-timeout", "1")
        session = self.login(daemon, "operator", "operator-password")
        first = session.handle
        # The gauge counts live sessions only; reading it does not use ours.
        harness.wait_until(lambda: daemon.metric("xenrdpd_sessions") == 0, 10, "the idle session to expire")
        self.assertFalse(is_live(daemon, first))
        names = [r["name_label"] for r in session.xenapi.VM.get_all_records().values()]
        self.assertIn("win10-rdp", names)
        self.assertNotEqual(session.handle, first, "XenAPI.Session logged in again on SESSION_INVALID")
        self.assertTrue(is_live(daemon, session.handle))


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
