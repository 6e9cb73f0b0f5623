#!/usr/bin/python3
"""cli/xenrdp-xe against a running xenrdpd, over TCP (-s/-p/-u/-pw) and the
Unix socket (root: the local superuser), with simulated guest agents.

The layout test compares against text written out by hand from the rules of
xapi's ocaml/xapi-cli-server/cli_printer.ml (multi_line_record): the first
key padded on the right and the others on the left to the longest key plus
four, ": " and the value, and every record followed by two blank lines (the
server prints record + "\\n", the xe client adds a newline).
"""
import http.client
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import warnings
import xmlrpc.client

import harness

CLI = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "cli", "xenrdp-xe"))

GUEST_DOMID = 3
OLD_AGENT_DOMID = 4
NO_AGENT_DOMID = 5
GUEST_IP = "192.0.2.10"


class RecordingRelay:
    """A plain HTTP relay between the CLI and the daemon that keeps every
    request body it passes on: what the daemon received, byte for byte."""

    def __init__(self, daemon_port):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                bodies.append(body)
                upstream = http.client.HTTPConnection("127.0.0.1", daemon_port, timeout=30)
                try:
                    upstream.request("POST", self.path, body=body,
                                     headers={"Content-Type": self.headers.get("Content-Type", "text/xml")})
                    resp = upstream.getresponse()
                    answer = resp.read()
                finally:
                    upstream.close()
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type", "text/xml"))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def calls(self, method):
        """The params of every call of `method` that went through."""
        out = []
        for body in self.bodies:
            params, name = xmlrpc.client.loads(body)
            if name == method:
                out.append(params)
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class XeCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        cls.sandbox.add_domain(OLD_AGENT_DOMID, "win7-old-agent")
        cls.sandbox.add_domain(NO_AGENT_DOMID, "win-no-agent")
        cls.sandbox.start_agent(GUEST_DOMID, agent="current", ip=GUEST_IP, os_name="Microsoft Windows 10 Pro")
        cls.sandbox.start_agent(OLD_AGENT_DOMID, agent="old")
        cls.daemon = harness.Daemon(cls.sandbox, extra_args=["--call-plugin-interval", "0"])
        cls.uuid = {}
        for name in ("win10-rdp", "win7-old-agent", "win-no-agent"):
            r = cls.xe_tcp("vm-list", f"name-label={name}", "--minimal")
            assert r.returncode == 0, r.stderr
            cls.uuid[name] = r.stdout.strip()
        # Wait until both agents are seen, so guest-metrics fields are stable.
        harness.wait_until(lambda: cls.param(cls.uuid["win10-rdp"], "other", "feature-ts2") == "1",
                           10, "win10-rdp feature-ts2")
        harness.wait_until(lambda: cls.param(cls.uuid["win10-rdp"], "networks", "0/ip") == GUEST_IP,
                           10, "win10-rdp networks")
        harness.wait_until(lambda: cls.param(cls.uuid["win7-old-agent"], "other", "feature-ts") == "1",
                           10, "win7-old-agent feature-ts")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    @classmethod
    def run_cli(cls, args, env_socket=None):
        env = {k: v for k, v in os.environ.items() if k != "XENRDP_SOCKET"}
        if env_socket:
            env["XENRDP_SOCKET"] = env_socket
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30, env=env)

    @classmethod
    def xe_tcp(cls, *args, user="admin", password="admin-password"):
        return cls.run_cli(["-s", "127.0.0.1", "-p", str(cls.daemon.port), "--nossl",
                            "-u", user, "-pw", password, *args])

    @classmethod
    def xe_unix(cls, *args):
        return cls.run_cli(["--socket", cls.daemon.unix_socket, *args])

    @classmethod
    def param(cls, uuid, name, key=None):
        args = ["vm-param-get", f"uuid={uuid}", f"param-name={name}"] + ([f"param-key={key}"] if key else [])
        r = cls.xe_tcp(*args)
        return r.stdout.rstrip("\n") if r.returncode == 0 else None

    def ok(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        return result.stdout

    @staticmethod
    def records(text):
        """Splits vm-list output into {label: value} dicts."""
        self_records = []
        for chunk in text.split("\n\n\n"):
            if not chunk.strip():
                continue
            rec = {}
            for line in chunk.split("\n"):
                label, _, value = line.partition(": ")
                rec[label.strip()] = value
            self_records.append(rec)
        return self_records

    # ---- vm-list

    def test_vm_list_shows_uuid_name_and_power_state_of_every_vm(self):
        out = self.ok(self.xe_tcp("vm-list"))
        self.assertTrue(out.endswith("\n\n\n"), repr(out[-10:]))
        recs = self.records(out)
        by_name = {r["name-label ( RW)"]: r for r in recs}
        for rec in recs:
            self.assertEqual(list(rec), ["uuid ( RO)", "name-label ( RW)", "power-state ( RO)"])
        self.assertEqual(by_name["win10-rdp"]["power-state ( RO)"], "running")
        self.assertEqual(by_name["win10-rdp"]["uuid ( RO)"], self.uuid["win10-rdp"])
        self.assertEqual(len(recs), 4, "three guests and the control domain")

    def test_vm_list_layout_matches_xe_exactly(self):
        out = self.ok(self.xe_tcp("vm-list", "name-label=win10-rdp",
                                  "params=uuid,name-label,power-state,networks,live,is-control-domain"))
        uuid = self.uuid["win10-rdp"]
        expected = (
            f"uuid ( RO)                 : {uuid}\n"
            "           name-label ( RW): win10-rdp\n"
            "    is-control-domain ( RO): false\n"
            "          power-state ( RO): running\n"
            f"             networks (MRO): 0/ip: {GUEST_IP}; 0/ipv4/0: {GUEST_IP}\n"
            "                 live ( RO): true\n"
            "\n\n")
        self.assertEqual(out, expected)

    def test_vm_list_minimal_prints_comma_separated_uuids(self):
        out = self.ok(self.xe_tcp("vm-list", "is-control-domain=false", "--minimal"))
        self.assertEqual(out[-1], "\n")
        self.assertEqual(set(out.strip().split(",")), set(self.uuid.values()))
        out = self.ok(self.xe_tcp("vm-list", "name-label=win10-rdp", "params=name-label", "--minimal"))
        self.assertEqual(out, "win10-rdp\n")

    def test_vm_list_filters_on_fields_and_map_keys(self):
        out = self.ok(self.xe_tcp("vm-list", "is-control-domain=true", "--minimal"))
        self.assertEqual(len(out.strip().split(",")), 1)
        self.assertNotIn(out.strip(), self.uuid.values())
        out = self.ok(self.xe_tcp("vm-list", "other:feature-ts2=1", "--minimal"))
        self.assertEqual(out, self.uuid["win10-rdp"] + "\n")
        out = self.ok(self.xe_tcp("vm-list", f"uuid={self.uuid['win-no-agent']}", "power-state=running",
                                  "--minimal"))
        self.assertEqual(out, self.uuid["win-no-agent"] + "\n")
        out = self.ok(self.xe_tcp("vm-list", "power-state=halted", "--minimal"))
        self.assertEqual(out, "\n")

    def test_params_all_lists_what_vm_param_list_lists(self):
        uuid = self.uuid["win7-old-agent"]
        listed = self.ok(self.xe_tcp("vm-list", f"uuid={uuid}", "params=all"))
        self.assertEqual(listed, self.ok(self.xe_tcp("vm-param-list", f"uuid={uuid}")))

    # ---- vm-param-get / vm-param-list

    def test_vm_param_get_prints_one_value(self):
        uuid = self.uuid["win10-rdp"]
        self.assertEqual(self.ok(self.xe_tcp("vm-param-get", f"uuid={uuid}", "param-name=name-label")),
                         "win10-rdp\n")
        self.assertEqual(self.ok(self.xe_tcp("vm-param-get", f"uuid={uuid}", "param-name=power-state")),
                         "running\n")
        self.assertEqual(self.ok(self.xe_tcp("vm-param-get", f"uuid={uuid}", "param-name=networks",
                                             "param-key=0/ip")), GUEST_IP + "\n")
        self.assertEqual(self.ok(self.xe_tcp("vm-param-get", f"uuid={uuid}", "param-name=os-version",
                                             "param-key=name")), "Microsoft Windows 10 Pro\n")

    def test_vm_param_list_shows_guest_metrics_as_xe_names_them(self):
        out = self.ok(self.xe_tcp("vm-param-list", f"uuid={self.uuid['win10-rdp']}"))
        self.assertTrue(out.endswith("\n\n\n"))
        lines = out.rstrip("\n").split("\n")
        width = lines[0].index(": ")
        for line in lines:
            self.assertEqual(line[width:width + 2], ": ", f"misaligned: {line!r}")
        rec = self.records(out)[0]
        self.assertIn(f"0/ip: {GUEST_IP}", rec["networks (MRO)"])
        self.assertIn("feature-ts2: 1", rec["other (MRO)"])
        self.assertIn("name: Microsoft Windows 10 Pro", rec["os-version (MRO)"])
        self.assertIn("PV-drivers-version (MRO)", rec)
        self.assertIn(rec["PV-drivers-detected ( RO)"], ("true", "false"))
        self.assertIn("PV-drivers-up-to-date ( RO) [DEPRECATED]", rec)
        self.assertEqual(rec["live ( RO)"], "true")
        self.assertRegex(rec["guest-metrics-last-updated ( RO)"], r"^\d{8}T\d\d:\d\d:\d\dZ$")
        self.assertEqual(rec["dom-id ( RO)"], str(GUEST_DOMID))
        self.assertEqual(rec["is-control-domain ( RO)"], "false")

    # ---- vm-call-plugin

    def test_request_rdp_on_is_answered_by_the_agent(self):
        uuid = self.uuid["win10-rdp"]
        r = self.xe_tcp("vm-call-plugin", f"vm-uuid={uuid}", "plugin=guest-agent-operation",
                        "fn=request-rdp-on", user="operator", password="operator-password")
        self.assertEqual(self.ok(r), "\n", "the plugin's result is the empty string")
        harness.wait_until(lambda: self.param(uuid, "other", "data-ts") == "1", 10, "data-ts == 1")

    def test_old_agent_gives_xapis_plugin_failure_and_exit_1(self):
        r = self.xe_tcp("vm-call-plugin", f"vm-uuid={self.uuid['win7-old-agent']}",
                        "plugin=guest-agent-operation", "fn=request-rdp-on")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        msg = ('The requested fn "request-rdp-on" of plugin "guest-agent-operation" could not be '
               "executed for lack of guest agent control feature.")
        self.assertEqual(r.stderr, "There was a failure communicating with the plugin.\n"
                                   "status: failed to execute fn\n"
                                   f"stdout: {msg}\n"
                                   f"stderr: {msg}\n")

    def test_call_plugin_args_reach_the_daemon_as_xe_sends_them(self):
        # xe: every args:<key>=<value> is one entry of the (string -> string)
        # map VM.call_plugin takes; args:<key>:file=<path> sends the file's content.
        relay = RecordingRelay(self.daemon.port)
        self.addCleanup(relay.close)
        work = tempfile.mkdtemp(prefix="xenrdp-xe-args-")
        self.addCleanup(shutil.rmtree, work, True)
        note = os.path.join(work, "note.txt")
        with open(note, "w") as f:
            f.write("line 1\nline 2, with a comma\n")
        uuid = self.uuid["win10-rdp"]
        r = self.run_cli(["-s", "127.0.0.1", "-p", str(relay.port), "--nossl", "-u", "operator",
                          "-pw", "operator-password", "vm-call-plugin", f"vm-uuid={uuid}",
                          "plugin=guest-agent-operation", "fn=request-rdp-on", "args:reason=helpdesk ticket 42",
                          "args:empty=", f"args:note:file={note}"])
        self.assertEqual(self.ok(r), "\n", "the daemon answered Success with the plugin's empty result")
        calls = relay.calls("VM.call_plugin")
        self.assertEqual(len(calls), 1)
        _session, vm_ref, plugin, fn, args = calls[0]
        self.assertEqual((plugin, fn), ("guest-agent-operation", "request-rdp-on"))
        self.assertTrue(vm_ref.startswith("OpaqueRef:"), vm_ref)
        self.assertEqual(args, {"reason": "helpdesk ticket 42", "empty": "", "note": "line 1\nline 2, with a comma\n"})
        # Without args the map is empty, not missing: VM.call_plugin always takes five parameters.
        r = self.run_cli(["-s", "127.0.0.1", "-p", str(relay.port), "--nossl", "-u", "operator",
                          "-pw", "operator-password", "vm-call-plugin", f"vm-uuid={uuid}",
                          "plugin=guest-agent-operation", "fn=request-rdp-on"])
        self.ok(r)
        self.assertEqual(relay.calls("VM.call_plugin")[1][4], {})

    def test_call_plugin_args_file_that_cannot_be_read_fails(self):
        r = self.xe_tcp("vm-call-plugin", f"vm-uuid={self.uuid['win10-rdp']}", "plugin=guest-agent-operation",
                        "fn=request-rdp-on", "args:note:file=/nonexistent/note.txt")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Failed to read args: /nonexistent/note.txt"), r.stderr)

    def test_read_only_user_is_denied_with_rbac_error(self):
        r = self.xe_tcp("vm-call-plugin", f"vm-uuid={self.uuid['win10-rdp']}", "plugin=guest-agent-operation",
                        "fn=request-rdp-on", user="reader", password="reader-password")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("RBAC permission denied.\npermission: "), r.stderr)

    # ---- errors

    def test_wrong_password_fails_without_echoing_it(self):
        r = self.xe_tcp("vm-list", password="not-the-password")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "Authentication failed\nFor usage run: 'xenrdp-xe help'\n")
        self.assertNotIn("not-the-password", r.stdout + r.stderr)

    def test_unknown_uuid_is_reported_as_xe_does(self):
        bad = "00000000-0000-4000-8000-000000000000"
        r = self.xe_tcp("vm-param-list", f"uuid={bad}")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"The uuid you supplied was invalid.\ntype: VM\nuuid: {bad}\n")

    def test_missing_parameter_and_unknown_command(self):
        r = self.xe_tcp("vm-param-get", f"uuid={self.uuid['win10-rdp']}")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "Required parameter not found: param-name\nFor usage run: 'xenrdp-xe help'\n")
        r = self.xe_tcp("vm-frobnicate")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Unknown command: vm-frobnicate\n"))

    def test_missing_map_key_fails(self):
        r = self.xe_tcp("vm-param-get", f"uuid={self.uuid['win10-rdp']}", "param-name=other",
                        "param-key=no-such-key")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Key no-such-key not found in map", r.stderr)

    # ---- the Unix socket

    def test_unix_socket_root_needs_no_password(self):
        out = self.ok(self.xe_unix("vm-list", "name-label=win10-rdp", "--minimal"))
        self.assertEqual(out, self.uuid["win10-rdp"] + "\n")
        out = self.ok(self.run_cli(["vm-param-get", f"uuid={self.uuid['win10-rdp']}", "param-name=power-state"],
                                   env_socket=self.daemon.unix_socket))
        self.assertEqual(out, "running\n")

    def test_unix_socket_call_plugin(self):
        uuid = self.uuid["win10-rdp"]
        self.assertEqual(self.ok(self.xe_unix("vm-call-plugin", f"vm-uuid={uuid}", "plugin=guest-agent-operation",
                                              "fn=request-rdp-on")), "\n")
        harness.wait_until(lambda: self.param(uuid, "other", "data-ts") == "1", 10, "data-ts == 1")

    def test_missing_socket_is_a_connection_error(self):
        r = self.run_cli(["--socket", os.path.join(self.daemon.dir, "nope.sock"), "vm-list"])
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Unable to contact server."), r.stderr)

    def test_help_lists_the_commands(self):
        out = self.ok(self.run_cli(["help"]))
        for cmd in ("vm-list", "vm-param-list", "vm-param-get", "vm-call-plugin"):
            self.assertRegex(out, rf"(?m)^  {re.escape(cmd)} ")


class XeCliTlsTest(unittest.TestCase):
    """-s over HTTPS to a daemon with a self-signed certificate."""

    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        cls.certdir = tempfile.mkdtemp(prefix="xenrdp-xe-tls-")
        cls.cert, key = harness.make_cert(cls.certdir, "dom0", cn="dom0", san="IP:127.0.0.1")
        cls.other_cert, _ = harness.make_cert(cls.certdir, "elsewhere", cn="elsewhere",
                                               san="DNS:elsewhere.example")
        cls.port = harness.free_port()
        cls.daemon = harness.Daemon(cls.sandbox, extra_args=["--tls-listen", f"127.0.0.1:{cls.port}",
                                                             "--tls-cert", cls.cert, "--tls-key", key])

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def xe(self, *args, env=None):
        environ = {k: v for k, v in os.environ.items() if k != "XENRDP_CACERT"}
        environ.update(env or {})
        return subprocess.run([CLI, "-s", "127.0.0.1", "-p", str(self.port), "-u", "admin", "-pw",
                               "admin-password", *args, "vm-list", "name-label=win10-rdp", "params=name-label",
                               "--minimal"], capture_output=True, text=True, timeout=30, env=environ)

    def test_an_unknown_certificate_is_refused_by_default(self):
        r = self.xe()
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Unable to contact server."), r.stderr)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", r.stderr)

    def test_cacert_trusts_the_hosts_certificate(self):
        r = self.xe("--cacert", self.cert)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "win10-rdp\n", ""))
        r = self.xe(env={"XENRDP_CACERT": self.cert})
        self.assertEqual((r.returncode, r.stdout), (0, "win10-rdp\n"), r.stderr)

    def test_cacert_trusts_only_what_it_names(self):
        # Another self-signed certificate does not vouch for this server's.
        r = self.xe("--cacert", self.other_cert)
        self.assertEqual(r.returncode, 1)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", r.stderr)

    def test_a_cacert_that_is_not_a_certificate_is_a_usage_error(self):
        r = self.xe("--cacert", os.path.join(self.certdir, "missing.pem"))
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Syntax error: cannot use CA file"), r.stderr)

    def test_no_verify_does_what_xe_does(self):
        r = self.xe("--no-verify")
        self.assertEqual((r.returncode, r.stdout), (0, "win10-rdp\n"), r.stderr)

    def test_nossl_still_means_plain_http(self):
        r = self.xe("--nossl")
        self.assertEqual(r.returncode, 1, "the TLS port does not speak plain HTTP")


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
