#!/usr/bin/python3
"""Faults around the real xenrdpd: xenstored killed and restarted with a
changed layout (the daemon resyncs to exactly what xenstore holds, and an
event.from waiter sees each difference); the daemon killed with SIGKILL and
restarted (state rebuilt from xenstore, XenAPI.Session logs in again on
SESSION_INVALID); SIGTERM with an event.from long-poll in flight (the call
is answered or cleanly closed, and the process exits 0 within the drain
bound), and with a failed login in flight (answered after the full
failed-login delay, which the drain bound outlasts); an event.from client
that disconnects mid-poll (its waiter goes at once, over TCP and the Unix
socket).
"""
import http.client
import signal
import socket
import threading
import time
import unittest
import xmlrpc.client

from os_xenapi.client import XenAPI

import harness

DRAIN_MARGIN = 5.0  # ApplicationImpl::shutdown drains for login-failure-delay + this


def one_more_request_in_handler(daemon):
    """A predicate for wait_until: true once the daemon's HTTP server has handed
    one more request than now, the scrapes made here not counted, to its handler."""
    before = daemon.metric("xenrdpd_http_requests_total")  # counts this scrape too
    scrapes = [0]

    def handed_over():
        scrapes[0] += 1
        return daemon.metric("xenrdpd_http_requests_total") >= before + scrapes[0] + 1

    return handed_over


def login(daemon):
    session = XenAPI.Session(daemon.url)
    session.xenapi.login_with_password("admin", "admin-password")
    return session


def xenstore_domains(sandbox):
    """{domid: (name, uuid)} of the guests xenstore holds (dom0 left out)."""
    tree = sandbox.dump()
    domains = {}
    for path, value in tree.items():
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["local", "domain"] and parts[4] == "name":
            domid = int(parts[3])
            if domid == 0:
                continue
            vm = tree.get(f"/local/domain/{domid}/vm", '""').strip('"')
            domains[domid] = (value.strip('"'), vm.rsplit("/", 1)[-1])
    return domains


def daemon_running_guests(session):
    """{domid: (name, uuid)} of the running, non-control VMs the daemon serves."""
    out = {}
    for rec in session.xenapi.VM.get_all_records().values():
        if rec["power_state"] == "Running" and not rec["is_control_domain"]:
            out[int(rec["domid"])] = (rec["name_label"], rec["uuid"])
    return out


def event_from(session, classes, token, timeout):
    # "from" is a Python keyword: XenAPI.py's attribute chain needs getattr.
    return getattr(session.xenapi.event, "from")(classes, token, timeout)


def one_guest_daemon(test):
    """A sandbox with one guest and a daemon on it, both closed when `test`
    ends; returns the daemon, a logged-in session and the current event token."""
    sandbox = harness.Sandbox()
    test.addCleanup(sandbox.close)
    sandbox.add_domain(3, "win10-rdp")
    daemon = harness.Daemon(sandbox)
    test.addCleanup(daemon.close)
    session = login(daemon)
    return daemon, session, event_from(session, ["vm"], "", 0.0)["token"]


class EventCollector(threading.Thread):
    """event.from in a loop from `token`, keeping every VM event seen."""

    def __init__(self, session, token, deadline):
        super().__init__(daemon=True)
        self.session, self.token, self.deadline = session, token, deadline
        self.events, self.error = [], None
        self.stop = threading.Event()

    def run(self):
        try:
            while not self.stop.is_set() and time.monotonic() < self.deadline:
                result = event_from(self.session, ["vm"], self.token, 5.0)
                self.events.extend(result["events"])
                self.token = result["token"]
        except Exception as e:  # reported by the test
            self.error = e

    def seen(self, operation, uuid, check=lambda snapshot: True):
        return any(e["operation"] == operation and e.get("snapshot", {}).get("uuid") == uuid
                   and check(e.get("snapshot", {})) for e in self.events)


class XenstoredRestartTest(unittest.TestCase):
    def test_daemon_resyncs_to_a_restarted_xenstored_and_event_from_sees_the_changes(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        uuids = {d: sandbox.add_domain(d, f"guest-{d}") for d in (3, 4, 5)}
        daemon = harness.Daemon(sandbox)
        self.addCleanup(daemon.close)
        session = login(daemon)
        self.assertEqual(daemon_running_guests(session), xenstore_domains(sandbox))
        token = event_from(session, ["vm"], "", 0.0)["token"]
        collector = EventCollector(login(daemon), token, time.monotonic() + 60)
        collector.start()
        self.addCleanup(collector.stop.set)

        sandbox.kill_xenstored()
        sandbox.restart_xenstored()
        # Re-lay out, changed: 3 as it was, 4 gone, 5 renamed, 6 new.
        sandbox.add_domain(3, "guest-3", uuids[3])
        sandbox.add_domain(5, "guest-5-renamed", uuids[5])
        uuids[6] = sandbox.add_domain(6, "guest-6")
        daemon.wait_for_log(r"XS_RECONNECTED", timeout=30)

        harness.wait_until(lambda: daemon_running_guests(session) == xenstore_domains(sandbox), 30,
                           "the daemon's running VMs equal xenstore's domains")
        self.assertEqual(set(daemon_running_guests(session)), {3, 5, 6})
        by_uuid = {r["uuid"]: r for r in session.xenapi.VM.get_all_records().values()}
        self.assertEqual(by_uuid[uuids[4]]["power_state"], "Halted")
        self.assertEqual(by_uuid[uuids[5]]["name_label"], "guest-5-renamed")

        harness.wait_until(lambda: collector.seen("add", uuids[6])
                           and collector.seen("mod", uuids[5], lambda s: s.get("name_label") == "guest-5-renamed")
                           and collector.seen("mod", uuids[4], lambda s: s.get("power_state") == "Halted"),
                           30, "event.from reporting the new, renamed and vanished domains")
        self.assertIsNone(collector.error)
        self.assertFalse(collector.seen("del", uuids[3]), "an unchanged domain must not be deleted")
        self.assertGreaterEqual(daemon.metric("xenrdpd_xenstore_reconnects_total"), 1)

    def test_repeated_xenstored_restarts_lose_nothing(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        daemon = harness.Daemon(sandbox)
        self.addCleanup(daemon.close)
        session = login(daemon)
        rounds = 5
        for i in range(rounds):
            sandbox.kill_xenstored()
            sandbox.restart_xenstored()
            for d in range(3, 3 + i + 1):
                sandbox.add_domain(d, f"round{i}-dom{d}")
            harness.wait_until(lambda: daemon_running_guests(session) == xenstore_domains(sandbox), 30,
                               f"resync after restart {i + 1}")
        self.assertGreaterEqual(daemon.metric("xenrdpd_xenstore_reconnects_total"), rounds)


class DaemonKillTest(unittest.TestCase):
    def test_sigkill_then_restart_rebuilds_state_and_the_client_logs_in_again(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        sandbox.add_domain(3, "win10-rdp")
        sandbox.add_domain(4, "doomed")
        sandbox.start_agent(3, agent="current", ip="192.0.2.10")
        daemon = harness.Daemon(sandbox, extra_args=["--call-plugin-interval", "0"])
        self.addCleanup(daemon.close)
        session = XenAPI.Session(daemon.url)
        session.xenapi.login_with_password("admin", "admin-password")
        first = session.handle
        self.assertEqual(daemon_running_guests(session), xenstore_domains(sandbox))

        daemon.kill(signal.SIGKILL)
        self.assertEqual(daemon.proc.returncode, -signal.SIGKILL)
        # While it is down the world moves on.
        sandbox.release(4)
        new_uuid = sandbox.add_domain(7, "born-while-down")
        daemon.start()

        # The same Session object: SESSION_INVALID makes it log in again.
        guests = daemon_running_guests(session)
        self.assertNotEqual(session.handle, first)
        self.assertEqual(guests, xenstore_domains(sandbox))
        self.assertEqual(guests[7], ("born-while-down", new_uuid))
        self.assertNotIn(4, guests)

        def agent_metrics():
            for rec in session.xenapi.VM.get_all_records().values():
                if rec["name_label"] == "win10-rdp" and rec["guest_metrics"] != "OpaqueRef:NULL":
                    gm = session.xenapi.VM_guest_metrics.get_record(rec["guest_metrics"])
                    return gm["networks"].get("0/ip") == "192.0.2.10" and gm["other"].get("feature-ts2") == "1"
            return False
        harness.wait_until(agent_metrics, 15, "guest metrics rebuilt from xenstore")


class SigtermDrainTest(unittest.TestCase):
    def test_sigterm_answers_or_closes_an_event_from_in_flight_and_exits_0(self):
        daemon, session, token = one_guest_daemon(self)
        outcome = {}

        def long_poll():
            try:
                outcome["result"] = event_from(session, ["vm"], token, 60.0)
            except (xmlrpc.client.ProtocolError, http.client.HTTPException, ConnectionError, OSError) as e:
                outcome["closed"] = e
            except Exception as e:  # anything else is a wrong answer
                outcome["unexpected"] = e

        t = threading.Thread(target=long_poll, daemon=True)
        t.start()
        harness.wait_until(lambda: daemon.metric("xenrdpd_event_waiters") == 1, 10, "the event.from in flight")

        start = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        rc = daemon.proc.wait(timeout=5 + DRAIN_MARGIN + 10)
        took = time.monotonic() - start
        t.join(timeout=10)
        self.assertFalse(t.is_alive(), "the long-poll was neither answered nor closed")
        self.assertEqual(rc, 0, daemon.log())
        # The long-poll is answered at once (Dispatcher::releaseWaiters), not
        # cut off when the drain bound expires.
        self.assertLess(took, 2.0, f"exit took {took:.2f}s (drain bound {5 + DRAIN_MARGIN}s)")
        self.assertNotIn("unexpected", outcome, outcome)
        self.assertNotIn("closed", outcome, outcome)
        self.assertEqual(outcome["result"]["events"], [])
        self.assertIn("token", outcome["result"])
        log = daemon.log()
        self.assertIn("DAEMON_STOPPING signal=SIGTERM", log)
        self.assertIn("DAEMON_STOPPED", log)
        print(f"SIGTERM to exit: {took:.2f}s; long-poll answered")


    def test_sigterm_lets_a_failed_login_in_flight_get_its_answer(self):
        # A delay above the drain bound of 5 s that the daemon used to have
        # whatever the delay: a refused login was then cut off.
        delay = 6.0
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        daemon = harness.Daemon(sandbox, login_failure_delay=delay)
        self.addCleanup(daemon.close)
        outcome = {}

        def failed_login():
            proxy = xmlrpc.client.ServerProxy(daemon.url, allow_none=True)
            started = time.monotonic()
            try:
                outcome["answer"] = proxy.session.login_with_password("admin", "wrong-password")
            except Exception as e:  # a cut connection or anything else is a wrong answer
                outcome["error"] = e
            outcome["took"] = time.monotonic() - started

        handed_over = one_more_request_in_handler(daemon)
        t = threading.Thread(target=failed_login, daemon=True)
        t.start()
        harness.wait_until(handed_over, 10, "the failed login in the handler")

        start = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        rc = daemon.proc.wait(timeout=delay + DRAIN_MARGIN + 10)
        took = time.monotonic() - start
        t.join(timeout=10)
        self.assertFalse(t.is_alive(), "the failed login was neither answered nor closed")
        self.assertEqual(rc, 0, daemon.log())
        self.assertNotIn("error", outcome, outcome)
        self.assertEqual(outcome["answer"]["Status"], "Failure", outcome)
        self.assertEqual(outcome["answer"]["ErrorDescription"][0], "SESSION_AUTHENTICATION_FAILED")
        # Answered after the whole delay, and the daemon left as soon as it was.
        self.assertGreaterEqual(outcome["took"], delay * 0.95, outcome)
        self.assertLess(took, delay + DRAIN_MARGIN, f"exit took {took:.2f}s")
        log = daemon.log()
        self.assertIn("DAEMON_STOPPING signal=SIGTERM", log)
        self.assertIn("RPC_LOGIN_FAILED user=admin", log)
        self.assertIn("DAEMON_STOPPED", log)
        print(f"failed login answered after {outcome['took']:.2f}s; SIGTERM to exit {took:.2f}s")


class VanishedClientTest(unittest.TestCase):
    def test_an_event_from_whose_client_disconnects_stops_waiting_at_once(self):
        daemon, session, token = one_guest_daemon(self)
        body = xmlrpc.client.dumps((session.handle, ["vm"], token, 300.0), "event.from").encode()
        request = (b"POST / HTTP/1.1\r\nHost: xenrdpd\r\nContent-Type: text/xml\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body)) + body

        def unix_socket():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(daemon.unix_socket)
            return sock

        for name, connect in (("tcp", lambda: socket.create_connection(("127.0.0.1", daemon.port))),
                              ("unix", unix_socket)):
            with self.subTest(transport=name):
                sock = connect()
                sock.sendall(request)
                harness.wait_until(lambda: daemon.metric("xenrdpd_event_waiters") == 1, 10,
                                   f"the event.from over {name} waiting")
                start = time.monotonic()
                sock.close()  # the client goes away mid-poll (300 s timeout)
                harness.wait_until(lambda: daemon.metric("xenrdpd_event_waiters") == 0, 5,
                                   f"the waiter of the vanished {name} client to go")
                print(f"{name}: waiter gone {time.monotonic() - start:.3f}s after the client closed")
        # The daemon still serves the session.
        self.assertEqual(daemon_running_guests(session)[3][0], "win10-rdp")


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
