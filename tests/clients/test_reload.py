#!/usr/bin/python3
"""SIGHUP on a running xenrdpd configured by a file: settings that reload take
effect at once (seen through HTTP and XenAPI), settings read only at start
are logged as needing a restart and keep their running value.
"""
import http.client
import signal
import unittest
import warnings

from os_xenapi.client import XenAPI

import harness

GUEST_DOMID = 3
GUEST_IP = "192.0.2.40"


def post_status(daemon, body):
    """Status of a POST of `body` to the XML-RPC path."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers={"Content-Type": "text/xml"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.sandbox = harness.Sandbox()
        self.addCleanup(self.sandbox.close)
        self.sandbox.add_domain(GUEST_DOMID, "win-rdp")
        self.sandbox.start_agent(GUEST_DOMID, rdp=True, ip=GUEST_IP)
        self.daemon = harness.ConfigFileDaemon(self.sandbox)
        self.addCleanup(self.daemon.close)

    def reload(self, extra, reloads):
        self.daemon.write_config("info", extra)
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.daemon.wait_count(r"CONFIG_RELOADED", reloads)
        return [line for line in self.daemon.log().splitlines() if "CONFIG_RELOADED" in line][-1]

    def with_guest(self, user, action):
        """action(xenapi, vm_ref) in a session of `user` (password: user + "-password")."""
        session = XenAPI.Session(self.daemon.url)
        session.xenapi.login_with_password(user, f"{user}-password", "2.1", "reload-test")
        try:
            vm = next(ref for ref, r in session.xenapi.VM.get_all_records().items() if r["name_label"] == "win-rdp")
            return action(session.xenapi, vm)
        finally:
            session.xenapi.session.logout()

    def console_location(self):
        def location(xenapi, vm):
            consoles = xenapi.VM.get_consoles(vm)
            return xenapi.console.get_location(consoles[0]) if consoles else None
        return self.with_guest("reader", location)

    def call_plugin_twice(self):
        """The second of two request-rdp-on calls on one VM: "" or the rate-limit error code."""
        def twice(xenapi, vm):
            results = []
            for _ in range(2):
                try:
                    results.append(xenapi.VM.call_plugin(vm, "guest-agent-operation", "request-rdp-on", {}))
                except XenAPI.Failure as failure:
                    results.append(failure.details[0])
            return results[1]
        return self.with_guest("operator", twice)

    def test_reloadable_settings_take_effect_at_once(self):
        big = b"<" + b"x" * 4000 + b">"
        self.assertNotEqual(post_status(self.daemon, big), 413)
        harness.wait_until(lambda: self.console_location() == f"rdp://{GUEST_IP}:3389", 10, "the rdp console")

        self.assertEqual(self.call_plugin_twice(), "VM_CALL_PLUGIN_RATE_LIMIT")

        line = self.reload("max-body-bytes = 1024\nrdp-port = 3390\ncall-plugin-interval = 0\n", 1)
        for key in ("max-body-bytes", "rdp-port", "call-plugin-interval"):
            self.assertIn(key, line)
        self.assertEqual(self.call_plugin_twice(), "")
        self.assertEqual(post_status(self.daemon, big), 413)
        self.assertNotEqual(post_status(self.daemon, b"<x/>"), 413)
        self.assertEqual(self.console_location(), f"rdp://{GUEST_IP}:3390")
        self.assertEqual(self.daemon.count(r"CONFIG_RELOAD_NEEDS_RESTART"), 0)

        # Back to the defaults: both go back too.
        line = self.reload("", 2)
        self.assertIn("max-body-bytes", line)
        self.assertNotEqual(post_status(self.daemon, big), 413)
        self.assertEqual(self.console_location(), f"rdp://{GUEST_IP}:3389")

    def test_a_restart_only_setting_warns_and_keeps_its_running_value(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)

        def metrics_status():
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            resp.read()
            return resp.status

        self.addCleanup(conn.close)
        self.assertEqual(metrics_status(), 200)
        line = self.reload("metrics-endpoint = false\n", 1)
        self.assertIn("changed=-", line)
        self.daemon.wait_count(r"CONFIG_RELOAD_NEEDS_RESTART key=metrics-endpoint", 1)
        self.assertEqual(metrics_status(), 200, "still served until a restart")
        # The next reload compares with what runs, so it says so again.
        self.reload("metrics-endpoint = false\n", 2)
        self.assertEqual(self.daemon.count(r"CONFIG_RELOAD_NEEDS_RESTART key=metrics-endpoint"), 2)
        # Back to the running value: nothing to warn about.
        self.reload("", 3)
        self.assertEqual(self.daemon.count(r"CONFIG_RELOAD_NEEDS_RESTART"), 2)
        self.assertEqual(metrics_status(), 200)


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
