#!/usr/bin/python3
"""GET /metrics of a running xenrdpd (Prometheus text format, checked by
promtool), and log levels changed at run time through SIGHUP.
"""
import base64
import http.client
import json
import re
import signal
import subprocess
import unittest
import warnings
import xmlrpc.client

import harness

GUEST_DOMID = 3
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def request(conn, method="GET", path="/metrics", body=None):
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read().decode()
    finally:
        conn.close()


def fetch(daemon, method="GET", path="/metrics"):
    return request(http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10), method, path)


def parse(text):
    """{'name{labels}': float} for every sample line."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


def xenapi_calls(daemon):
    """login, VM.get_all_records, logout; returns the VM records."""
    with xmlrpc.client.ServerProxy(daemon.url) as proxy:
        login = proxy.session.login_with_password("admin", "admin-password", "2.20", "metrics-test")
        assert login["Status"] == "Success", login
        session = login["Value"]
        records = proxy.VM.get_all_records(session)["Value"]
        proxy.session.logout(session)
    return records


class MetricsEndpointTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        cls.sandbox.start_agent(GUEST_DOMID, agent="current", ip="192.0.2.10")
        cls.daemon = harness.Daemon(cls.sandbox)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    def scrape(self):
        status, ctype, body = fetch(self.daemon)
        self.assertEqual(status, 200, body)
        self.assertEqual(ctype, CONTENT_TYPE)
        return body

    def test_promtool_accepts_the_exposition_without_lint_problems(self):
        xenapi_calls(self.daemon)
        body = self.scrape()
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "promtool reported lint problems")

    def test_every_family_has_help_and_type(self):
        body = self.scrape()
        helped = set(re.findall(r"(?m)^# HELP (\S+) ", body))
        typed = dict(re.findall(r"(?m)^# TYPE (\S+) (\S+)$", body))
        self.assertEqual(helped, set(typed))
        for name, kind in typed.items():
            self.assertTrue(name.startswith("xenrdpd_"), name)
            self.assertEqual(name.endswith("_total"), kind == "counter", name)
        for family in ("xenrdpd_calls_total", "xenrdpd_call_errors_total", "xenrdpd_xenapi_errors_total",
                       "xenrdpd_watch_events_total", "xenrdpd_domains_watched",
                       "xenrdpd_xenstore_reconnects_total", "xenrdpd_sessions", "xenrdpd_event_waiters",
                       "xenrdpd_http_connections_open", "xenrdpd_http_connections_accepted_total",
                       "xenrdpd_http_connections_rejected_total", "xenrdpd_http_requests_total",
                       "xenrdpd_vms", "xenrdpd_build_info", "xenrdpd_console_tokens"):
            self.assertIn(family, typed)
        self.assertEqual(typed["xenrdpd_call_duration_seconds"], "histogram")

    def test_a_call_increases_its_counters(self):
        before = parse(self.scrape())
        xenapi_calls(self.daemon)
        after = parse(self.scrape())
        key = 'xenrdpd_calls_total{method="VM.get_all_records"}'
        self.assertEqual(after[key] - before.get(key, 0), 1)
        login = 'xenrdpd_logins_total{result="success"}'
        self.assertEqual(after[login] - before[login], 1)
        # login, get_all_records and logout are three calls in the histogram.
        self.assertEqual(after["xenrdpd_call_duration_seconds_count"]
                         - before["xenrdpd_call_duration_seconds_count"], 3)
        self.assertGreaterEqual(after["xenrdpd_http_requests_total"] - before["xenrdpd_http_requests_total"], 4)

    def test_a_failure_is_counted_by_code_and_method(self):
        before = parse(self.scrape())
        with xmlrpc.client.ServerProxy(self.daemon.url) as proxy:
            r = proxy.VM.get_all_records("OpaqueRef:00000000-0000-4000-8000-000000000000")
        self.assertEqual(r["ErrorDescription"][0], "SESSION_INVALID")
        after = parse(self.scrape())
        code = 'xenrdpd_xenapi_errors_total{code="SESSION_INVALID"}'
        self.assertEqual(after[code] - before.get(code, 0), 1)
        method = 'xenrdpd_call_errors_total{method="VM.get_all_records"}'
        self.assertEqual(after[method] - before.get(method, 0), 1)

    def test_histogram_buckets_are_cumulative_and_end_at_the_count(self):
        xenapi_calls(self.daemon)
        body = self.scrape()
        buckets = [(le, float(v)) for le, v in
                   re.findall(r'(?m)^xenrdpd_call_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$', body)]
        self.assertEqual(buckets[-1][0], "+Inf")
        self.assertEqual([le for le, _ in buckets[:-1]],
                         sorted((le for le, _ in buckets[:-1]), key=float))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts))
        self.assertEqual(counts[-1], parse(body)["xenrdpd_call_duration_seconds_count"])

    def test_vms_and_domains_match_what_xenapi_serves(self):
        records = xenapi_calls(self.daemon)
        values = parse(self.scrape())
        running = sum(1 for r in records.values() if r["power_state"] == "Running")
        self.assertEqual(values['xenrdpd_vms{power_state="Running"}'], running)
        self.assertEqual(values['xenrdpd_vms{power_state="Halted"}'],
                         sum(1 for r in records.values() if r["power_state"] == "Halted"))
        self.assertEqual(values["xenrdpd_domains_watched"], 1)
        self.assertGreater(values["xenrdpd_watch_events_total"], 0)
        self.assertEqual(values['xenrdpd_build_info{version="' +
                                re.search(r'version="([^"]+)"', self.scrape()).group(1) + '"}'], 1)

    def test_served_on_the_unix_socket_too(self):
        status, ctype, body = request(harness.UnixHTTPConnection(self.daemon.unix_socket))
        self.assertEqual((status, ctype), (200, CONTENT_TYPE))
        self.assertIn("xenrdpd_http_connections_open", body)

    def test_other_methods_are_refused(self):
        status, _, _ = fetch(self.daemon, method="POST")
        self.assertEqual(status, 405)

    def test_console_tokens_count_a_handed_out_url_until_it_expires(self):
        ttl = 2
        daemon = harness.Daemon(self.sandbox, extra_args=["--console-token-ttl", str(ttl)])
        self.addCleanup(daemon.close)

        def tokens():
            status, _, body = fetch(daemon)
            self.assertEqual(status, 200, body)
            return parse(body)["xenrdpd_console_tokens"]

        self.assertEqual(tokens(), 0)
        vm_uuid = next(r["uuid"] for r in xenapi_calls(daemon).values() if r["name_label"] == "win10-rdp")
        auth = base64.b64encode(b"operator:operator-password").decode()
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
        try:
            conn.request("POST", f"/servers/{vm_uuid}/action", body=json.dumps(
                {"os-getRDPConsole": {"type": "rdp-html5"}}),
                headers={"Content-Type": "application/json", "Authorization": "Basic " + auth})
            resp = conn.getresponse()
            body = resp.read().decode()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200, body)
        self.assertIn("?token=", json.loads(body)["console"]["url"])
        self.assertEqual(tokens(), 1)
        # Expired tokens wait up to a minute for the sweep; the gauge drops at once.
        harness.wait_until(lambda: tokens() == 0, ttl + 10, "the console token to expire")

    def test_the_setting_turns_it_off(self):
        daemon = harness.Daemon(self.sandbox, extra_args=["--metrics-endpoint", "false"])
        self.addCleanup(daemon.close)
        status, _, body = fetch(daemon)
        self.assertNotEqual(status, 200)
        self.assertNotIn("xenrdpd_", body)


class LogLevelReloadTest(unittest.TestCase):
    def test_sighup_changes_the_level_and_keeps_it_when_the_file_is_bad(self):
        sandbox = harness.Sandbox()
        self.addCleanup(sandbox.close)
        daemon = harness.ConfigFileDaemon(sandbox)
        self.addCleanup(daemon.close)

        # At info, a scrape logs nothing; the reload line after it proves the
        # scrape was handled (single io thread) without a METRICS_SCRAPE line.
        self.assertEqual(fetch(daemon)[0], 200)
        daemon.write_config("debug")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_count(r"CONFIG_RELOADED log_level=debug", 1)
        self.assertEqual(daemon.count(r"METRICS_SCRAPE"), 0)

        # At debug, every scrape logs METRICS_SCRAPE.
        self.assertEqual(fetch(daemon)[0], 200)
        daemon.wait_count(r"METRICS_SCRAPE", 1)

        # A bad level is refused; the daemon keeps serving, still at debug.
        daemon.write_config("loud")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_count(r"CONFIG_RELOAD_FAILED", 1)
        self.assertIsNone(daemon.proc.poll())
        self.assertTrue(any(r["name_label"] for r in xenapi_calls(daemon).values()))
        self.assertEqual(fetch(daemon)[0], 200)
        daemon.wait_count(r"METRICS_SCRAPE", 2)

        # So is an unknown key; then a good file at info applies again.
        daemon.write_config("info", "no-such-setting = 1\n")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_count(r"CONFIG_RELOAD_FAILED", 2)
        daemon.write_config("info")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_count(r"CONFIG_RELOADED log_level=info", 1)
        scrapes = daemon.count(r"METRICS_SCRAPE")
        self.assertEqual(fetch(daemon)[0], 200)
        daemon.write_config("info", "")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_count(r"CONFIG_RELOADED log_level=info", 2)
        self.assertEqual(daemon.count(r"METRICS_SCRAPE"), scrapes, "info level again: no debug line")


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
