#!/usr/bin/python3
"""xenrdpd's sd_notify(3) messages, as systemd would receive them: the test
binds the datagram socket named by NOTIFY_SOCKET and sets WATCHDOG_USEC.

READY=1 (with STATUS=) must come only once the listeners accept and the
initial xenstore scan is done, so at that moment every guest is already
visible through XenAPI on both the TCP and the Unix listener.  Then
WATCHDOG=1 repeats; SIGHUP gives RELOADING=1 (with MONOTONIC_USEC=) then
READY=1; SIGTERM gives STOPPING=1 and no watchdog ping after it.
"""
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest
import warnings
import xmlrpc.client

import harness

GUESTS = 40
FIRST_DOMID = 3
WATCHDOG_USEC = 400_000  # pings every 100 ms


def guest_names(proxy):
    login = proxy.session.login_with_password("reader", "reader-password", "2.20", "notify-test")
    assert login["Status"] == "Success", login
    try:
        records = proxy.VM.get_all_records(login["Value"])["Value"]
    finally:
        proxy.session.logout(login["Value"])
    return {r["name_label"] for r in records.values() if not r["is_control_domain"]}, len(records)


class NotifySocket:
    """The service manager's end: a bound datagram socket, read with deadlines."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []  # every message received, in order

    def next(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for a notification; got: " + repr(self.messages[-5:]))
        self.sock.settimeout(remaining)
        try:
            msg = self.sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("timed out waiting for a notification; got: " + repr(self.messages[-5:]))
        self.messages.append(msg)
        return msg

    def wait_for(self, field, timeout=20.0):
        """Reads until a message holding the line `field`; returns (it, the messages before it)."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            msg = self.next(deadline)
            if field in msg.split("\n"):
                return msg, skipped
            skipped.append(msg)

    def drain(self):
        self.sock.setblocking(False)
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return

    def close(self):
        self.sock.close()


class SystemdNotifyTest(unittest.TestCase):
    def test_ready_watchdog_reload_and_stop_as_systemd_sees_them(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        sandbox._cli("add-domains", str(FIRST_DOMID), str(GUESTS), "win")
        expected = {f"win-{d}" for d in range(FIRST_DOMID, FIRST_DOMID + GUESTS)}
        work = tempfile.mkdtemp(prefix="xenrdp-notify-")
        self.addCleanup(shutil.rmtree, work, True)
        notify = NotifySocket(os.path.join(work, "notify.sock"))
        self.addCleanup(notify.close)

        daemon = harness.Daemon(sandbox, wait_ready=False,
                                env={"NOTIFY_SOCKET": notify.sock.getsockname(),
                                     "WATCHDOG_USEC": str(WATCHDOG_USEC)})
        self.addCleanup(daemon.close)

        ready, before = notify.wait_for("READY=1")
        # At once, before anything else: both listeners accept and the scan is in.
        tcp_names, vm_count = guest_names(xmlrpc.client.ServerProxy(daemon.url))
        unix_names, _ = guest_names(xmlrpc.client.ServerProxy("http://localhost/",
                                                              transport=harness.UnixTransport(daemon.unix_socket)))
        self.assertEqual(tcp_names, expected)
        self.assertEqual(unix_names, expected)
        self.assertEqual(re.search(r"(?m)^STATUS=serving (\d+) VMs$", ready).group(1), str(vm_count), ready)
        self.assertTrue(all(m == "WATCHDOG=1" for m in before), before)
        self.assertIn("DAEMON_READY", daemon.log())

        # The watchdog keeps pinging from the main loop.
        for _ in range(3):
            self.assertEqual(notify.wait_for("WATCHDOG=1", timeout=5)[1], [])

        daemon.proc.send_signal(signal.SIGHUP)
        reloading, _ = notify.wait_for("RELOADING=1")
        self.assertRegex(reloading, r"(?m)^MONOTONIC_USEC=\d+$")
        usec = int(re.search(r"MONOTONIC_USEC=(\d+)", reloading).group(1))
        self.assertLessEqual(abs(usec - time.monotonic_ns() // 1000), 30_000_000,
                             "MONOTONIC_USEC is CLOCK_MONOTONIC")
        ready, between = notify.wait_for("READY=1")
        self.assertIn("STATUS=configuration reloaded", ready.split("\n"))
        self.assertTrue(all(m == "WATCHDOG=1" for m in between), between)

        daemon.proc.send_signal(signal.SIGTERM)
        self.assertEqual(daemon.proc.wait(timeout=30), 0)
        notify.drain()
        stopping = [i for i, m in enumerate(notify.messages) if "STOPPING=1" in m.split("\n")]
        self.assertEqual(len(stopping), 1, notify.messages[-5:])
        self.assertEqual(notify.messages[stopping[0] + 1:], [], "nothing after STOPPING=1")


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
