#!/usr/bin/python3
"""Debian's python3-os-xenapi XenAPI.Session against a running xenrdpd.

Login, list VMs, read guest metrics, request-rdp-on and see data-ts become
"1" once the simulated agent answers, over TCP and over the Unix socket;
SESSION_INVALID after a daemon restart makes the client log in again.
"""
import shutil
import ssl
import tempfile
import unittest
import warnings
import xmlrpc.client

from os_xenapi.client import XenAPI

import harness

GUEST_DOMID = 3
OLD_AGENT_DOMID = 4


def find_vm(session, name):
    for ref, rec in session.xenapi.VM.get_all_records().items():
        if rec["name_label"] == name:
            return ref, rec
    raise AssertionError(f"no VM named {name}")


def wait_metric(session, vm_name, key, value):
    """Waits until the VM's guest metrics `other[key]` is `value`; returns `other`."""
    def check():
        _, rec = find_vm(session, vm_name)
        gm = rec["guest_metrics"]
        if gm == "OpaqueRef:NULL":
            return None
        other = session.xenapi.VM_guest_metrics.get_record(gm)["other"]
        return other if other.get(key) == value else None
    return harness.wait_until(check, 10, f"{vm_name} other[{key}] == {value!r}")


class AcceptanceFlow:
    """The acceptance flow of issue 4, run once per transport by the classes
    below: log in, list VMs, read guest metrics, request-rdp-on and see data-ts
    become "1" once the simulated agent answers, then SIGKILL and restart the
    daemon and see the same XenAPI.Session log in again on SESSION_INVALID.

    Each transport gets its own sandbox and daemon: the flow changes the
    guest's state and kills the daemon."""

    transport = None  # set by the subclasses

    def new_session(self):
        """A XenAPI.Session on this transport, not yet logged in."""
        raise NotImplementedError

    def login(self, session):
        """Logs `session` in as a user allowed VM.call_plugin."""
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        cls.sandbox.start_agent(GUEST_DOMID, agent="current", ip="192.0.2.10",
                                os_name="Microsoft Windows 10 Pro|C:\\Windows|\\Device\\Harddisk0\\Partition2")
        cls.daemon = harness.Daemon(cls.sandbox, extra_args=["--call-plugin-interval", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    def test_login_list_read_request_rdp_on_and_log_in_again_after_a_daemon_restart(self):
        session = self.new_session()
        self.login(session)
        self.addCleanup(session.xenapi.session.logout)
        first = session.handle
        self.assertTrue(first.startswith("OpaqueRef:"))

        # List VMs: every VM carries the same fields; dom0 is there.
        records = session.xenapi.VM.get_all_records()
        by_name = {r["name_label"]: r for r in records.values()}
        self.assertIn("win10-rdp", by_name)
        self.assertEqual(by_name["win10-rdp"]["power_state"], "Running")
        self.assertEqual(by_name["win10-rdp"]["domid"], str(GUEST_DOMID))
        self.assertTrue(any(r["is_control_domain"] for r in records.values()))
        self.assertEqual(len(set(frozenset(r.keys()) for r in records.values())), 1,
                         "every VM record must carry the same fields")

        # Read guest metrics as xapi builds them.
        other = wait_metric(session, "win10-rdp", "feature-ts2", "1")
        self.assertEqual(other["feature-ts"], "1")
        self.assertEqual(other["data-ts"], "0")
        ref, rec = find_vm(session, "win10-rdp")
        self.assertEqual(session.xenapi.VM.get_guest_metrics(ref), rec["guest_metrics"])
        gm = session.xenapi.VM_guest_metrics.get_record(rec["guest_metrics"])
        self.assertEqual(gm["networks"]["0/ip"], "192.0.2.10")
        self.assertTrue(gm["os_version"]["name"].startswith("Microsoft Windows 10 Pro"))

        # request-rdp-on: only a request; the agent answers through data/ts.
        result = session.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-on", {})
        self.assertEqual(result, "")
        wait_metric(session, "win10-rdp", "data-ts", "1")
        self.assertIsNone(self.sandbox.read(f"/local/domain/{GUEST_DOMID}/control/ts"),
                          "the agent acknowledges by deleting control/ts")

        # SIGKILL: every session is gone. The restarted daemon rebuilds its
        # state from xenstore and answers the old handle SESSION_INVALID, on
        # which the same Session object logs in again by itself.
        self.daemon.kill()
        self.daemon.start()
        ref, _ = find_vm(session, "win10-rdp")
        self.assertNotEqual(session.handle, first, "XenAPI.Session logged in again on SESSION_INVALID")
        wait_metric(session, "win10-rdp", "data-ts", "1")
        self.assertEqual(session.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-off", {}), "")
        wait_metric(session, "win10-rdp", "data-ts", "0")


class TcpAcceptanceTest(AcceptanceFlow, unittest.TestCase):
    """Over TCP, as a vm-operator from the users file."""

    def new_session(self):
        return XenAPI.Session(self.daemon.url)

    def login(self, session):
        session.xenapi.login_with_password("operator", "operator-password", "2.1", "xenrdpd-tests")


class UnixSocketAcceptanceTest(AcceptanceFlow, unittest.TestCase):
    """Over the Unix socket, as root: no password, local superuser."""

    def new_session(self):
        # os-xenapi's own xapi_local() and UDSTransport are broken on
        # Python 3 (xenapi-clients.md §0.11): the same Session class over
        # the transport above.
        return XenAPI.Session("http://localhost/", transport=harness.UnixTransport(self.daemon.unix_socket))

    def login(self, session):
        session.xenapi.login_with_password("root", "")
        self.assertTrue(session.xenapi.session.get_is_local_superuser(session.handle))


class XenAPISessionTest(unittest.TestCase):
    """Refusals, over TCP."""

    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        cls.sandbox.add_domain(OLD_AGENT_DOMID, "win7-old-agent")
        cls.sandbox.start_agent(GUEST_DOMID, agent="current", ip="192.0.2.10")
        cls.sandbox.start_agent(OLD_AGENT_DOMID, agent="old")
        cls.daemon = harness.Daemon(cls.sandbox, extra_args=["--call-plugin-interval", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    def login_tcp(self, user="admin", password="admin-password"):
        session = XenAPI.Session(self.daemon.url)
        session.xenapi.login_with_password(user, password, "2.1", "xenrdpd-tests")
        self.addCleanup(session.xenapi.session.logout)
        return session

    def test_old_agent_refuses_with_xapis_plugin_failure(self):
        session = self.login_tcp()
        wait_metric(session, "win7-old-agent", "feature-ts", "1")
        ref, _ = find_vm(session, "win7-old-agent")
        with self.assertRaises(XenAPI.Failure) as ctx:
            session.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-on", {})
        details = ctx.exception.details
        self.assertEqual(details[0], "XENAPI_PLUGIN_FAILURE")
        self.assertEqual(details[1], "failed to execute fn")
        self.assertIsNone(self.sandbox.read(f"/local/domain/{OLD_AGENT_DOMID}/control/ts"))

    def test_read_only_user_is_denied_call_plugin(self):
        session = self.login_tcp("reader", "reader-password")
        ref, _ = find_vm(session, "win10-rdp")
        with self.assertRaises(XenAPI.Failure) as ctx:
            session.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-on", {})
        self.assertEqual(ctx.exception.details[0], "RBAC_PERMISSION_DENIED")

    def test_wrong_password_is_refused(self):
        session = XenAPI.Session(self.daemon.url)
        with self.assertRaises(XenAPI.Failure) as ctx:
            session.xenapi.login_with_password("admin", "not-the-password")
        self.assertEqual(ctx.exception.details[0], "SESSION_AUTHENTICATION_FAILED")
        self.assertEqual(ctx.exception.details[1], "admin")


class TlsTest(unittest.TestCase):
    def test_xenapi_session_works_over_tls(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        certdir = tempfile.mkdtemp(prefix="xenrdp-tls-")
        self.addCleanup(shutil.rmtree, certdir, True)
        cert, key = harness.make_cert(certdir, "server")
        port = harness.free_port()
        daemon = harness.Daemon(sandbox, extra_args=["--tls-listen", f"127.0.0.1:{port}",
                                                     "--tls-cert", cert, "--tls-key", key])
        self.addCleanup(daemon.close)
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False
        session = XenAPI.Session(f"https://127.0.0.1:{port}/",
                                 transport=xmlrpc.client.SafeTransport(context=context))
        session.xenapi.login_with_password("admin", "admin-password")
        self.addCleanup(session.xenapi.session.logout)
        names = [r["name_label"] for r in session.xenapi.VM.get_all_records().values()]
        self.assertIn("win10-rdp", names)


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
