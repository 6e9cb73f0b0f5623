#!/usr/bin/python3
"""Security properties of the real xenrdpd.

- Only session.login_with_password and system.listMethods answer without a
  session: every other listed method gives SESSION_INVALID to a bogus one.
- Roles: read-only may call every listed method but VM.call_plugin and
  host.call_plugin; vm-operator every one but host.call_plugin (pool-admin
  only, as in xapi); pool-admin all of them.
- A failed login's delay does not hold up other clients.
- TLS: 1.0 and 1.1 refused, 1.2 and 1.3 accepted, weak ciphers refused.
- The Unix socket's mode follows --unix-socket-mode (default 0660), owner root.
- No client-supplied ref, uuid, plugin or fn writes anywhere in xenstore but
  /local/domain/<domid>/control/ts of a running guest (whole store diffed).
- Passwords, session refs and console tokens never reach the log, and
  client-supplied user names are escaped and bounded there.
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import stat
import tempfile
import threading
import time
import unittest
import xmlrpc.client

from os_xenapi.client import XenAPI

import harness

GUEST_DOMID = 3      # running, feature-ts2 written, no agent: control/ts stays as written
HALTED_DOMID = 4     # laid out, then released
BOGUS = "OpaqueRef:00000000-0000-0000-0000-00000000bad0"
NO_SESSION = {"session.login_with_password", "system.listMethods"}


def call_with_arity(proxy, method, first, filler):
    """Calls `method` with `first` plus as many `filler` args as it wants
    (learnt from MESSAGE_PARAMETER_COUNT_MISMATCH); returns the raw answer."""
    args = [first]
    for _ in range(3):
        answer = getattr(proxy, method)(*args)
        desc = answer.get("ErrorDescription") if isinstance(answer, dict) else None
        if desc and desc[0] == "MESSAGE_PARAMETER_COUNT_MISMATCH":
            args = [first] + [filler] * (int(desc[2]) - 1)
            continue
        return answer
    return answer


def error_code(answer):
    if isinstance(answer, dict) and answer.get("Status") == "Failure":
        return answer["ErrorDescription"][0]
    return None


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.guest_uuid = cls.sandbox.add_domain(GUEST_DOMID, "win-guest")
        # What a current agent advertises; no agent runs, so nothing answers
        # control/ts and the daemon's write stays visible.
        cls.sandbox.write(f"/local/domain/{GUEST_DOMID}/control/feature-ts", "1")
        cls.sandbox.write(f"/local/domain/{GUEST_DOMID}/control/feature-ts2", "1")
        cls.halted_uuid = cls.sandbox.add_domain(HALTED_DOMID, "win-halted")
        cls.daemon = harness.Daemon(cls.sandbox, extra_args=["--call-plugin-interval", "0"],
                                    log_level="trace")
        cls.proxy = xmlrpc.client.ServerProxy(cls.daemon.url, allow_none=True)
        cls.methods = cls.proxy.system.listMethods()
        # Released once the daemon knows it: its VM stays, Halted.
        cls.sandbox.release(HALTED_DOMID)
        admin = cls.proxy.session.login_with_password("admin", "admin-password")["Value"]
        harness.wait_until(lambda: any(r["name_label"] == "win-halted" and r["power_state"] == "Halted"
                                       for r in cls.proxy.VM.get_all_records(admin)["Value"].values()),
                           10, "win-halted halted")
        cls.proxy.session.logout(admin)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    def login(self, user, password):
        answer = self.proxy.session.login_with_password(user, password, "2.1", "security-test")
        self.assertEqual(answer["Status"], "Success", answer)
        self.addCleanup(self.proxy.session.logout, answer["Value"])
        return answer["Value"]

    def vm_refs(self, session):
        records = self.proxy.VM.get_all_records(session)["Value"]
        by_name = {r["name_label"]: ref for ref, r in records.items()}
        dom0 = next(ref for ref, r in records.items() if r["is_control_domain"])
        return by_name, dom0

    def test_no_method_but_login_and_list_methods_works_without_a_session(self):
        self.assertGreater(len(self.methods), 100)
        for method in self.methods:
            if method in NO_SESSION:
                continue
            answer = call_with_arity(self.proxy, method, BOGUS, BOGUS)
            self.assertEqual(error_code(answer), "SESSION_INVALID", (method, answer))
            # A session ref from a logged-out session is no better.
        session = self.login("reader", "reader-password")
        self.proxy.session.logout(session)
        for method in ("VM.get_all_records", "VM.call_plugin", "session.get_uuid"):
            self.assertEqual(error_code(call_with_arity(self.proxy, method, session, BOGUS)), "SESSION_INVALID")

    def test_roles_are_enforced_on_every_method(self):
        denied = {}
        for user, password in (("reader", "reader-password"), ("operator", "operator-password"),
                               ("admin", "admin-password")):
            session = self.login(user, password)
            denied[user] = {m for m in self.methods if m not in NO_SESSION and m != "session.logout"
                            and error_code(call_with_arity(self.proxy, m, session, BOGUS))
                            == "RBAC_PERMISSION_DENIED"}
        self.assertEqual(denied, {"reader": {"VM.call_plugin", "host.call_plugin"},
                                  "operator": {"host.call_plugin"}, "admin": set()})
        # And with real refs: the reader reads, the operator acts.
        reader = self.login("reader", "reader-password")
        by_name, _ = self.vm_refs(reader)
        self.assertEqual(self.proxy.VM.get_power_state(reader, by_name["win-guest"])["Value"], "Running")
        answer = self.proxy.VM.call_plugin(reader, by_name["win-guest"], "guest-agent-operation",
                                           "request-rdp-on", {})
        self.assertEqual(answer["ErrorDescription"][0], "RBAC_PERMISSION_DENIED")
        operator = self.login("operator", "operator-password")
        answer = self.proxy.VM.call_plugin(operator, by_name["win-guest"], "guest-agent-operation",
                                           "request-rdp-off", {})
        self.assertEqual(answer["Status"], "Success", answer)

    def test_a_failing_login_in_flight_does_not_delay_other_clients(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        daemon = harness.Daemon(sandbox, login_failure_delay=3)
        self.addCleanup(daemon.close)
        failed = {}

        def bad_login():
            start = time.monotonic()
            proxy = xmlrpc.client.ServerProxy(daemon.url)
            failed["answer"] = proxy.session.login_with_password("admin", "wrong")
            failed["took"] = time.monotonic() - start

        threads = [threading.Thread(target=bad_login) for _ in range(4)]
        for t in threads:
            t.start()
        start = time.monotonic()
        session = XenAPI.Session(daemon.url)
        session.xenapi.login_with_password("admin", "admin-password")
        session.xenapi.VM.get_all_records()
        session.xenapi.session.logout()
        good = time.monotonic() - start
        for t in threads:
            t.join(timeout=20)
        self.assertEqual(error_code(failed["answer"]), "SESSION_AUTHENTICATION_FAILED")
        self.assertGreaterEqual(failed["took"], 2.9)
        self.assertLess(good, 1.0, f"a good login + call took {good:.2f}s behind failing logins")
        print(f"good login+call {good * 1000:.0f} ms while failing logins took {failed['took']:.2f}s")

    def test_tls_only_1_2_and_1_3_with_strong_ciphers(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        certdir = tempfile.mkdtemp(prefix="xenrdp-tls-")
        self.addCleanup(shutil.rmtree, certdir, True)
        cert, key = harness.make_cert(certdir, "server")
        port = harness.free_port()
        daemon = harness.Daemon(sandbox, extra_args=["--tls-listen", f"127.0.0.1:{port}",
                                                     "--tls-cert", cert, "--tls-key", key])
        self.addCleanup(daemon.close)

        def handshake(version, ciphers=None):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = version
            ctx.maximum_version = version
            # Let this client offer what the server must refuse.
            ctx.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                    with ctx.wrap_socket(raw) as tls:
                        return tls.version(), tls.cipher()[0]
            except (ssl.SSLError, ConnectionError):
                return None

        self.assertIsNone(handshake(ssl.TLSVersion.TLSv1))
        self.assertIsNone(handshake(ssl.TLSVersion.TLSv1_1))
        v12 = handshake(ssl.TLSVersion.TLSv1_2)
        v13 = handshake(ssl.TLSVersion.TLSv1_3)
        self.assertEqual(v12[0], "TLSv1.2")
        self.assertEqual(v13[0], "TLSv1.3")
        self.assertRegex(v12[1], r"^ECDHE-.*(GCM|CHACHA20)")
        for weak in ["RC4-SHA", "DES-CBC3-SHA", "NULL-SHA256", "AES128-SHA", "AES256-SHA256",
                     "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-SHA", "ADH-AES128-SHA", "aNULL", "eNULL",
                     "EXPORT", "LOW", "MD5", "PSK", "SRP", "CAMELLIA", "ARIA"]:
            try:
                got = handshake(ssl.TLSVersion.TLSv1_2, weak)
            except ssl.SSLError:
                continue  # this OpenSSL cannot even offer it
            self.assertIsNone(got, f"weak cipher {weak} accepted: {got}")
        # The daemon still serves after the refused handshakes.
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        session = XenAPI.Session(f"https://127.0.0.1:{port}/", transport=xmlrpc.client.SafeTransport(context=ctx))
        session.xenapi.login_with_password("admin", "admin-password")
        session.xenapi.session.logout()

    def test_unix_socket_permissions(self):
        st = os.stat(self.daemon.unix_socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_uid, os.geteuid())
        if os.geteuid() == 0:
            self.assertEqual(st.st_uid, 0)
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        daemon = harness.Daemon(sandbox, extra_args=["--unix-socket-mode", "0600"])
        self.addCleanup(daemon.close)
        self.assertEqual(stat.S_IMODE(os.stat(daemon.unix_socket).st_mode), 0o600)

    def test_client_input_writes_only_control_ts_of_a_running_guest(self):
        admin = self.login("admin", "admin-password")
        by_name, dom0 = self.vm_refs(admin)
        guest, halted = by_name["win-guest"], by_name["win-halted"]
        before = self.sandbox.dump()
        plugin, fn = "guest-agent-operation", "request-rdp-on"
        refs = [halted, dom0, BOGUS, "OpaqueRef:../../local/domain/0", "/local/domain/0/control/ts",
                "../0/control/ts", "OpaqueRef:" + self.guest_uuid, self.guest_uuid, "", "x" * 5000,
                "OpaqueRef:NULL", guest + "/../0"]
        fns = ["request-rdp-on/../../x", "../../../local/domain/0/control/ts", "request-rdp-on\n",
               "request-rdp-on/", "/request-rdp-on", "..", "request-rdp", "x" * 5000, ""]
        plugins = ["guest-agent-operation/../x", "../../bin/sh", "", "guest-agent-operation\0"]
        attempts = 0

        def status(*args):
            try:
                return self.proxy.VM.call_plugin(admin, *args)["Status"]
            except xmlrpc.client.ProtocolError as e:  # e.g. a NUL: not even XML, HTTP 500
                self.assertEqual(e.errcode, 500)
                return "Failure"

        for ref in refs:
            attempts += 1
            self.assertEqual(status(ref, plugin, fn, {}), "Failure", ref)
        for bad_fn in fns:
            attempts += 1
            self.assertEqual(status(guest, plugin, bad_fn, {}), "Failure", bad_fn)
        for bad_plugin in plugins:
            attempts += 1
            self.assertEqual(status(guest, bad_plugin, fn, {}), "Failure", bad_plugin)
        for args in ({"path": "/local/domain/0/control/ts"}, {"../../x": "1"}, {"domid": "0"}):
            attempts += 1
            status(guest, plugin, fn, args)
        for uuid in ("../../local/domain/0", self.halted_uuid + "/..", "*"):
            attempts += 1
            self.proxy.VM.get_by_uuid(admin, uuid)
        after = self.sandbox.dump()
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        self.assertLessEqual(changed, {f"/local/domain/{GUEST_DOMID}/control/ts"},
                             f"{attempts} hostile calls changed {sorted(changed)}")
        # The legitimate call writes exactly control/ts of the running guest.
        self.sandbox.write(f"/local/domain/{GUEST_DOMID}/control/ts", "")
        before = self.sandbox.dump()
        self.assertEqual(self.proxy.VM.call_plugin(admin, guest, plugin, fn, {})["Status"], "Success")
        after = self.sandbox.dump()
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        self.assertEqual(changed, {f"/local/domain/{GUEST_DOMID}/control/ts"})
        self.assertEqual(after[f"/local/domain/{GUEST_DOMID}/control/ts"], '"1"')

    def test_client_supplied_user_names_cannot_forge_log_lines(self):
        import base64
        # journald reads "<3>" at a line's start as priority "err".
        rpc_name = "evil\n<3>FAKE-RPC-LINE user=root"
        self.assertEqual(error_code(self.proxy.session.login_with_password(rpc_name, "x")),
                         "SESSION_AUTHENTICATION_FAILED")
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)
        conn.request("POST", f"/servers/{self.guest_uuid}/action",
                     body=json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}}), headers={
                         "Content-Type": "application/json",
                         "Authorization": "Basic " + base64.b64encode(
                             b"evil\r\n<3>FAKE-CONSOLE-LINE:x").decode()})
        self.assertEqual(conn.getresponse().status, 401)
        conn.close()
        long_name = "L" * 5000
        self.assertEqual(error_code(self.proxy.session.login_with_password(long_name, "x")),
                         "SESSION_AUTHENTICATION_FAILED")

        rpc = self.daemon.wait_for_log(r"RPC_LOGIN_FAILED user=evil\\n<3>FAKE-RPC-LINE")
        console = self.daemon.wait_for_log(r"CONSOLE_AUTH_FAILED .*FAKE-CONSOLE-LINE")
        long = self.daemon.wait_for_log(r"RPC_LOGIN_FAILED user=L+")
        self.assertIn(r"user=evil\n<3>FAKE-RPC-LINE\x20user=root peer=127.0.0.1", rpc)
        self.assertIn(r"user=evil\r\n<3>FAKE-CONSOLE-LINE", console)
        self.assertIn("user=" + "L" * 64 + "\u2026(+4936 bytes) ", long)
        # Each name left exactly one line, and no line starts with what followed the newline.
        lines = self.daemon.log().splitlines()
        for needle in ("FAKE-RPC-LINE", "FAKE-CONSOLE-LINE"):
            self.assertEqual(len([line for line in lines if needle in line]), 1, needle)
        self.assertFalse([line for line in lines if line.startswith("<3>")])
        self.assertNotIn("L" * 65, self.daemon.log())

    def test_passwords_session_refs_and_tokens_never_reach_the_log(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        uuid = sandbox.add_domain(GUEST_DOMID, "win-rdp")
        sandbox.start_agent(GUEST_DOMID, rdp=True, ip="192.0.2.20")
        secret = "S3cret-Pa55word-in-the-clear"
        daemon = harness.Daemon(sandbox, log_level="trace",
                                users=[("admin", "pool-admin", secret), ("operator", "vm-operator", secret)])
        self.addCleanup(daemon.close)
        proxy = xmlrpc.client.ServerProxy(daemon.url, allow_none=True)
        wrong = "Wr0ng-Pa55word-also-secret"
        self.assertEqual(error_code(proxy.session.login_with_password("admin", wrong)),
                         "SESSION_AUTHENTICATION_FAILED")
        session = proxy.session.login_with_password("admin", secret)["Value"]
        proxy.VM.get_all_records(session)
        # A console token through the Nova API, resolved once.
        import base64
        auth = {"Authorization": "Basic " + base64.b64encode(f"operator:{secret}".encode()).decode(),
                "Content-Type": "application/json"}
        body = json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}})

        def console_url():
            conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
            conn.request("POST", f"/servers/{uuid}/action", body=body, headers=auth)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            return json.loads(data)["console"]["url"] if resp.status == 200 else None
        url = harness.wait_until(console_url, 20, "a console URL")
        token = url.split("token=", 1)[1]
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
        conn.request("GET", f"/os-console-auth-tokens/{token}", headers={
            "Authorization": "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()})
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        proxy.session.logout(session)
        daemon.kill()  # flush and close the log
        log = daemon.log()
        self.assertIn("DAEMON_READY", log)
        for needle in (secret, wrong, session, session.split(":", 1)[-1], token):
            self.assertNotIn(needle, log, f"{needle!r} leaked into the log")


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
