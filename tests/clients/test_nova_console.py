#!/usr/bin/python3
"""Nova's RDP console API on a running xenrdpd (issue 5), with real HTTP.

Console URLs in the 2014 V2 and V3 forms (JSON and XML) and the later
remote-consoles form, token resolution by an admin, every error status in
Nova's fault shapes, token expiry with a short TTL, tokens dropped when the
VM halts, hostile bodies, X-Auth-Token sessions and HTTP Basic, and the
XenAPI rdp console object.  Waits are conditions with deadlines.
"""
import base64
import http.client
import json
import sys
import unittest
import xmlrpc.client
import xml.etree.ElementTree as ET

from os_xenapi.client import XenAPI

import harness

RDP_DOMID = 3       # RDP on, address reported
NO_ADDR_DOMID = 4   # RDP on, no address
HALT_DOMID = 5      # released by one test
FLAP_DOMID = 6      # RDP and address switched off and on by one test
TOKEN_TTL = 5       # seconds
PROXY = "http://proxy.example:6083/"

V2_JSON = json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}})
V3_JSON = json.dumps({"get_rdp_console": {"type": "rdp-html5"}})
V2_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<os-getRDPConsole type="rdp-html5" />'
V3_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<get_rdp_console type="rdp-html5" />'
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "application/xml"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ADMIN = basic("admin", "admin-password")
OPERATOR = basic("operator", "operator-password")
READER = basic("reader", "reader-password")


class NovaConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.uuid = cls.sandbox.add_domain(RDP_DOMID, "win-rdp")
        cls.no_addr_uuid = cls.sandbox.add_domain(NO_ADDR_DOMID, "win-no-address")
        cls.halt_uuid = cls.sandbox.add_domain(HALT_DOMID, "win-to-halt")
        cls.flap_uuid = cls.sandbox.add_domain(FLAP_DOMID, "win-flapping")
        cls.sandbox.start_agent(RDP_DOMID, rdp=True, ip="192.0.2.20")
        cls.sandbox.start_agent(NO_ADDR_DOMID, rdp=True)
        cls.sandbox.start_agent(HALT_DOMID, rdp=True, ip="192.0.2.30")
        cls.sandbox.start_agent(FLAP_DOMID, rdp=True, ip="192.0.2.40")
        cls.daemon = harness.Daemon(cls.sandbox, extra_args=[
            "--console-token-ttl", str(TOKEN_TTL), "--console-proxy-base-url", PROXY])
        for uuid in (cls.uuid, cls.halt_uuid):
            harness.wait_until(lambda u=uuid: cls.request("POST", f"/servers/{u}/action", V2_JSON,
                                                          {**OPERATOR, **JSON})[0] == 200,
                               20, f"a console URL for {uuid}")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    @classmethod
    def request(cls, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", cls.daemon.port, timeout=30)
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                         headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def url_token(self, url):
        self.assertTrue(url.startswith(PROXY + "?token="), url)
        return url[len(PROXY + "?token="):]

    def get_url(self, path=None, body=V2_JSON, headers=None):
        status, hdrs, text = self.request("POST", path or f"/servers/{self.uuid}/action", body,
                                          headers or {**OPERATOR, **JSON})
        self.assertEqual(status, 200, text)
        return hdrs, text

    def resolve(self, token, headers=None, path="/os-console-auth-tokens/"):
        return self.request("GET", path + token, None, headers or ADMIN)

    def assert_fault(self, status, name, response):
        got, _, text = response
        self.assertEqual(got, status, text)
        fault = json.loads(text)
        self.assertEqual(list(fault), [name])
        self.assertEqual(fault[name]["code"], status)
        self.assertIsInstance(fault[name]["message"], str)

    # --- getting a URL -------------------------------------------------

    def test_v2_json_url_resolves_to_the_guest_address(self):
        hdrs, text = self.get_url()
        self.assertEqual(hdrs["Content-Type"], "application/json")
        console = json.loads(text)["console"]
        self.assertEqual(console["type"], "rdp-html5")
        status, _, info = self.resolve(self.url_token(console["url"]))
        self.assertEqual(status, 200, info)
        info = json.loads(info)["console"]
        self.assertEqual(info, {"instance_uuid": self.uuid, "host": "192.0.2.20", "port": 3389,
                                "internal_access_path": self.uuid})

    def test_v2_xml_and_v3_forms_answer_in_the_request_format(self):
        for path, body, headers in [(f"/servers/{self.uuid}/action", V2_XML, XML),
                                    (f"/v2.1/servers/{self.uuid}/action", V2_XML, XML),
                                    (f"/v3/servers/{self.uuid}/action", V3_XML, XML)]:
            hdrs, text = self.get_url(path, body, {**OPERATOR, **headers})
            self.assertEqual(hdrs["Content-Type"], "application/xml")
            self.assertTrue(text.startswith("<?xml version='1.0' encoding='UTF-8'?>\n<console>"), text)
            root = ET.fromstring(text)
            self.assertEqual(root.findtext("type"), "rdp-html5")
            self.assertEqual(self.resolve(self.url_token(root.findtext("url")))[0], 200)
        hdrs, text = self.get_url(f"/v3/servers/{self.uuid}/action", V3_JSON)
        self.assertEqual(json.loads(text)["console"]["type"], "rdp-html5")
        hdrs, text = self.get_url(body=V2_JSON, headers={**OPERATOR, **JSON, "Accept": "application/xml"})
        self.assertEqual(ET.fromstring(text).tag, "console")

    def test_novas_vendor_media_types_are_spoken(self):
        for ctype in ("application/vnd.openstack.compute+xml", "application/vnd.openstack.compute+json"):
            body = V2_XML if ctype.endswith("xml") else V2_JSON
            hdrs, text = self.get_url(body=body, headers={**OPERATOR, "Content-Type": ctype})
            self.assertEqual(hdrs["Content-Type"], ctype)
            url = ET.fromstring(text).findtext("url") if ctype.endswith("xml") else json.loads(text)["console"]["url"]
            status, hdrs, info = self.resolve(self.url_token(url), {**ADMIN, "Accept": ctype})
            self.assertEqual(status, 200, info)
            self.assertEqual(hdrs["Content-Type"], ctype)
        # Faults too.
        status, hdrs, text = self.resolve("00000000-0000-4000-8000-000000000000",
                                          {**ADMIN, "Accept": "application/vnd.openstack.compute+xml"})
        self.assertEqual((status, hdrs["Content-Type"]), (404, "application/vnd.openstack.compute+xml"))
        self.assertEqual(ET.fromstring(text).tag, "{http://docs.openstack.org/compute/api/v1.1}itemNotFound")

    def test_accept_q_values_choose_the_answer_format(self):
        for accept, expected in [("application/json;q=0.2, application/xml;q=0.8", "application/xml"),
                                 ("application/xml;q=0.5, application/json", "application/json"),
                                 ("application/xml;q=0, */*", "application/json"),
                                 ("application/json;q=0, application/vnd.openstack.compute+json;q=0, */*;q=0.1",
                                  "application/xml"),
                                 ("application/xml, application/json", "application/json")]:
            hdrs, text = self.get_url(body=V2_JSON, headers={**OPERATOR, **JSON, "Accept": accept})
            self.assertEqual(hdrs["Content-Type"], expected, accept)
            if expected == "application/xml":
                self.assertEqual(ET.fromstring(text).tag, "console")
            else:
                self.assertIn("console", json.loads(text))

    def test_remote_consoles_answer_in_xml(self):
        for body, headers in [(json.dumps({"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}),
                               {**JSON, "Accept": "application/xml"}),
                              ('<remote_console protocol="rdp" type="rdp-html5"/>', XML)]:
            status, hdrs, text = self.request("POST", f"/v2.1/servers/{self.uuid}/remote-consoles", body,
                                              {**OPERATOR, **headers})
            self.assertEqual(status, 200, text)
            self.assertEqual(hdrs["Content-Type"], "application/xml")
            self.assertTrue(text.startswith("<?xml version='1.0' encoding='UTF-8'?>\n<remote_console>"), text)
            root = ET.fromstring(text)
            self.assertEqual([child.tag for child in root], ["protocol", "type", "url"])
            self.assertEqual((root.findtext("protocol"), root.findtext("type")), ("rdp", "rdp-html5"))
            status, _, info = self.resolve(self.url_token(root.findtext("url")))
            self.assertEqual(status, 200, info)

    def test_remote_consoles_form_echoes_the_api_version(self):
        status, hdrs, text = self.request(
            "POST", f"/v2.1/servers/{self.uuid}/remote-consoles",
            json.dumps({"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}),
            {**OPERATOR, **JSON, "OpenStack-API-Version": "compute 2.6"})
        self.assertEqual(status, 200, text)
        self.assertEqual(hdrs["OpenStack-API-Version"], "compute 2.6")
        remote = json.loads(text)["remote_console"]
        self.assertEqual((remote["protocol"], remote["type"]), ("rdp", "rdp-html5"))
        self.assertEqual(self.resolve(self.url_token(remote["url"]))[0], 200)

    # --- resolving a token ---------------------------------------------

    def test_every_token_path_resolves_and_only_for_an_admin(self):
        token = self.url_token(json.loads(self.get_url()[1])["console"]["url"])
        for path in ("/console-auth-tokens/", "/v3/console-auth-tokens/", "/os-console-auth-tokens/",
                     "/v2.1/os-console-auth-tokens/"):
            self.assertEqual(self.resolve(token, path=path)[0], 200, path)
        actions = [("POST", "/console-auth-tokens/%s/action", json.dumps({"os-getConsoleConnectInfo": None}), JSON),
                   ("POST", "/console-auth-tokens/%s/action", "<os-getConsoleConnectInfo/>", XML),
                   ("GET", "/console-auth-tokens/%s/action", None, {}),
                   ("POST", "/v3/console-auth-tokens/%s/action", json.dumps({"get_console_connect_info": None}), JSON),
                   ("POST", "/v3/console-auth-tokens/%s/action", "<get_console_connect_info/>", XML)]
        for method, path, body, headers in actions:
            status, hdrs, text = self.request(method, path % token, body, {**ADMIN, **headers})
            self.assertEqual(status, 200, f"{method} {path}: {text}")
            if headers is XML:
                self.assertEqual(ET.fromstring(text).findtext("host"), "192.0.2.20")
                self.assertEqual(ET.fromstring(text).findtext("port"), "3389")
        self.assert_fault(403, "forbidden", self.resolve(token, OPERATOR))
        self.assert_fault(403, "forbidden", self.resolve(token, READER))

    def test_tokens_expire_after_their_ttl(self):
        token = self.url_token(json.loads(self.get_url()[1])["console"]["url"])
        self.assertEqual(self.resolve(token)[0], 200)
        self.assertEqual(self.resolve(token)[0], 200, "tokens are multi-use until they expire")
        harness.wait_until(lambda: self.resolve(token)[0] == 404, TOKEN_TTL + 10, "the token to expire")
        self.assert_fault(404, "itemNotFound", self.resolve(token))

    def test_a_halted_vms_tokens_are_gone(self):
        status, _, text = self.request("POST", f"/servers/{self.halt_uuid}/action", V2_JSON, {**OPERATOR, **JSON})
        self.assertEqual(status, 200, text)
        token = self.url_token(json.loads(text)["console"]["url"])
        self.assertEqual(self.resolve(token)[0], 200)
        self.sandbox.release(HALT_DOMID)
        harness.wait_until(lambda: self.resolve(token)[0] == 404, 10, "the halted VM's token to go")
        self.assert_fault(409, "conflictingRequest",
                          self.request("POST", f"/servers/{self.halt_uuid}/action", V2_JSON, {**OPERATOR, **JSON}))
        self.daemon.wait_for_log(r"CONSOLE_TOKENS_DROPPED")
        self.assertNotIn(token, self.daemon.log(), "tokens are never logged")

    # --- errors ----------------------------------------------------------

    def test_bad_requests_are_400_in_novas_shape(self):
        path = f"/servers/{self.uuid}/action"
        for body in [json.dumps({"os-getRDPConsole": {"type": "novnc"}}),
                     json.dumps({"os-getRDPConsole": {}}),
                     json.dumps({"os-getRDPConsole": {"type": "rdp-html5", "extra": "x"}}),
                     json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}, "other": {}}),
                     "{this is not json", ""]:
            self.assert_fault(400, "badRequest", self.request("POST", path, body, {**OPERATOR, **JSON}))
        self.assert_fault(400, "badRequest", self.request(
            "POST", f"/v2.1/servers/{self.uuid}/remote-consoles",
            json.dumps({"remote_console": {"protocol": "vnc", "type": "rdp-html5"}}), {**OPERATOR, **JSON}))
        for body in ['<os-getRDPConsole type="rdp-html5">', '<os-getRDPConsole type="vnc"/>',
                     '<!DOCTYPE x [<!ENTITY e "rdp-html5">]><os-getRDPConsole type="&e;"/>']:
            status, hdrs, text = self.request("POST", path, body, {**OPERATOR, **XML})
            self.assertEqual(status, 400, body)
            root = ET.fromstring(text)
            self.assertEqual(root.tag, "{http://docs.openstack.org/compute/api/v1.1}badRequest")
            self.assertEqual(root.get("code"), "400")

    def test_missing_or_wrong_credentials_are_401_with_a_challenge(self):
        path = f"/servers/{self.uuid}/action"
        for headers in [JSON, {**JSON, **basic("admin", "wrong-pass-xyzzy")}, {**JSON, "X-Auth-Token": "OpaqueRef:nope"}]:
            response = self.request("POST", path, V2_JSON, headers)
            self.assert_fault(401, "unauthorized", response)
            self.assertEqual(response[1]["WWW-Authenticate"], 'Basic realm="xenrdpd"')
        self.assertNotIn("wrong-pass-xyzzy", self.daemon.log(), "passwords are never logged")

    def test_a_read_only_user_may_not_get_a_url(self):
        self.assert_fault(403, "forbidden",
                          self.request("POST", f"/servers/{self.uuid}/action", V2_JSON, {**READER, **JSON}))

    def test_unknown_vms_and_tokens_are_404(self):
        self.assert_fault(404, "itemNotFound", self.request(
            "POST", "/servers/00000000-0000-4000-8000-000000000000/action", V2_JSON, {**OPERATOR, **JSON}))
        self.assert_fault(404, "itemNotFound", self.resolve("00000000-0000-4000-8000-000000000000"))

    def test_a_guest_without_an_address_is_409(self):
        self.assert_fault(409, "conflictingRequest", self.request(
            "POST", f"/servers/{self.no_addr_uuid}/action", V2_JSON, {**OPERATOR, **JSON}))

    def test_hostile_bodies_are_400_and_the_daemon_keeps_serving(self):
        path = f"/servers/{self.uuid}/action"
        for body in [b"\xff\xfe\x00garbage", b"[" * 200000 + b"]" * 200000, b'{"os-getRDPConsole": "' + b"\\" * 1000,
                     b"<" * 100000, b'<os-getRDPConsole type="' + b"&amp;" * 50000 + b'"/>']:
            for headers in (JSON, XML, {}):
                status, _, text = self.request("POST", path, body, {**OPERATOR, **headers})
                self.assertEqual(status, 400, text[:200])
        self.get_url()
        self.assertIsNone(self.daemon.proc.poll())

    # --- sessions and XenAPI -------------------------------------------

    def test_a_xenapi_session_ref_works_as_x_auth_token(self):
        proxy = xmlrpc.client.ServerProxy(self.daemon.url)
        op = proxy.session.login_with_password("operator", "operator-password", "2.1", "nova-test")
        admin = proxy.session.login_with_password("admin", "admin-password", "2.1", "nova-test")
        self.assertEqual(op["Status"], "Success")
        status, _, text = self.request("POST", f"/servers/{self.uuid}/action", V2_JSON,
                                       {**JSON, "X-Auth-Token": op["Value"]})
        self.assertEqual(status, 200, text)
        token = self.url_token(json.loads(text)["console"]["url"])
        self.assertEqual(self.resolve(token, {"X-Auth-Token": admin["Value"]})[0], 200)
        self.assert_fault(403, "forbidden", self.resolve(token, {"X-Auth-Token": op["Value"]}))
        proxy.session.logout(op["Value"])
        self.assert_fault(401, "unauthorized", self.request("POST", f"/servers/{self.uuid}/action", V2_JSON,
                                                            {**JSON, "X-Auth-Token": op["Value"]}))

    def test_vm_get_consoles_lists_the_rdp_console(self):
        session = XenAPI.Session(self.daemon.url)
        session.xenapi.login_with_password("reader", "reader-password", "2.1", "nova-test")
        self.addCleanup(session.xenapi.session.logout)
        vm = session.xenapi.VM.get_by_uuid(self.uuid)
        consoles = harness.wait_until(lambda: session.xenapi.VM.get_consoles(vm), 10, "an rdp console")
        self.assertEqual(len(consoles), 1)
        record = session.xenapi.console.get_record(consoles[0])
        self.assertEqual(record["protocol"], "rdp")
        self.assertEqual(record["location"], "rdp://192.0.2.20:3389")
        self.assertEqual(record["VM"], vm)
        self.assertEqual(session.xenapi.console.get_by_uuid(record["uuid"]), consoles[0])
        self.assertEqual(session.xenapi.console.get_location(consoles[0]), record["location"])
        self.assertIn(consoles[0], session.xenapi.console.get_all_records())
        no_addr = session.xenapi.VM.get_by_uuid(self.no_addr_uuid)
        self.assertEqual(session.xenapi.VM.get_consoles(no_addr), [])
        # system.listMethods answers a bare list, as xapi does (no Status struct).
        self.assertIn("console.get_all_records", xmlrpc.client.ServerProxy(self.daemon.url).system.listMethods())
        events = getattr(session.xenapi.event, "from")(["console"], "", 0.0)
        self.assertIn("console", events["valid_ref_counts"])
        self.assertIn(consoles[0], [e["ref"] for e in events["events"]])

    def test_a_console_that_goes_is_seen_through_event_from(self):
        session = XenAPI.Session(self.daemon.url)
        session.xenapi.login_with_password("reader", "reader-password", "2.1", "nova-test")
        self.addCleanup(session.xenapi.session.logout)
        event_from = getattr(session.xenapi.event, "from")
        vm = session.xenapi.VM.get_by_uuid(self.flap_uuid)
        domain = f"/local/domain/{FLAP_DOMID}"

        def console_event(token, operation):
            """Follows event.from on class console until `operation` for this VM's console."""
            def next_batch():
                nonlocal token
                batch = event_from(["console"], token, 5.0)
                token = batch["token"]
                for ev in batch["events"]:
                    if ev["class"] == "console" and ev["operation"] == operation and (
                            operation == "del" or ev["snapshot"]["VM"] == vm):
                        return ev
                return None
            return harness.wait_until(next_batch, 15, f"a console {operation} event"), token

        consoles = harness.wait_until(lambda: session.xenapi.VM.get_consoles(vm), 10, "the flapping VM's console")
        token = event_from(["console"], "", 0.0)["token"]

        # The guest switches RDP off: the console goes.
        self.sandbox.write(f"{domain}/data/ts", "0")
        ev, token = console_event(token, "del")
        self.assertEqual(ev["ref"], consoles[0])
        self.assertEqual(session.xenapi.VM.get_consoles(vm), [])

        # On again: a new console; then the guest's address goes: it goes too.
        self.sandbox.write(f"{domain}/data/ts", "1")
        ev, token = console_event(token, "add")
        self.assertEqual(ev["snapshot"]["location"], "rdp://192.0.2.40:3389")
        self.sandbox.remove(f"{domain}/attr/vif/0/ipv4/0")
        gone, token = console_event(token, "del")
        self.assertEqual(gone["ref"], ev["ref"])
        self.assertEqual(session.xenapi.VM.get_consoles(vm), [])
        self.assert_fault(409, "conflictingRequest", self.request(
            "POST", f"/servers/{self.flap_uuid}/action", V2_JSON, {**OPERATOR, **JSON}))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
