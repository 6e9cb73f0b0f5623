#!/usr/bin/python3
"""Bad XML-RPC and JSON-RPC through the real xenrdpd: each gets the answer
xapi gives (HTTP 500 for a request that cannot be parsed, reference
xapi-rdp-and-wire.md; a XenAPI Failure such as MESSAGE_METHOD_UNKNOWN,
MESSAGE_PARAMETER_COUNT_MISMATCH or FIELD_TYPE_ERROR for a parsed one), and
after each the daemon is still up and a XenAPI.Session still works.  Another
client is served while a huge hostile body is still arriving.
"""
import http.client
import json
import socket
import time
import unittest
import xmlrpc.client

from os_xenapi.client import XenAPI

import harness

GUEST_DOMID = 3


def xml_call(method, params_xml=""):
    return (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            f"<params>{params_xml}</params></methodCall>").encode()


def param(value_xml):
    return f"<param><value>{value_xml}</value></param>"


def s(text):
    return param(f"<string>{text}</string>")


class HostileRpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox()
        cls.sandbox.add_domain(GUEST_DOMID, "win10-rdp")
        cls.daemon = harness.Daemon(cls.sandbox)
        cls.pid = cls.daemon.proc.pid

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.sandbox.close()

    def post(self, path, body, content_type):
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post_xml(self, body):
        return self.post("/", body, "text/xml")

    def post_json(self, body):
        if isinstance(body, str):
            body = body.encode()
        status, data = self.post("/jsonrpc", body, "application/json")
        return status, json.loads(data)

    def xapi_failure(self, data):
        """The ErrorDescription of a Status: Failure XML-RPC answer."""
        (result,), _ = xmlrpc.client.loads(data)
        self.assertEqual(result["Status"], "Failure", result)
        return result["ErrorDescription"]

    def tearDown(self):
        # After every hostile input: same process, and a real client works.
        self.assertIsNone(self.daemon.proc.poll(), "xenrdpd died")
        self.assertEqual(self.daemon.proc.pid, self.pid)
        self.assertIn("win10-rdp", harness.vm_names(self.daemon.url))

    # ---- XML-RPC that cannot be parsed: HTTP 500, as xapi.
    def test_malformed_xml_is_http_500(self):
        for body in [b"<methodCall><methodName>x</methodName", b"not xml at all", b"",
                     b"<methodCall><methodName>a</methodName><params><param><value><struct>"
                     b"<member><value>1</value></member></struct></value></param></params></methodCall>",
                     b"<?xml version='1.0'?><methodResponse/>"]:
            status, data = self.post_xml(body)
            self.assertEqual(status, 500, (body, data))

    def test_billion_laughs_is_refused_without_expansion(self):
        levels = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10))
        body = ('<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY l0 "lol">' + levels + ']>'
                '<methodCall><methodName>&l9;</methodName></methodCall>').encode()
        start = time.monotonic()
        status, data = self.post_xml(body)
        self.assertEqual(status, 500)
        self.assertIn(b"DOCTYPE", data)
        self.assertLess(time.monotonic() - start, 2.0)

    def test_utf16_bodies_cannot_smuggle_entities_or_bad_i8(self):
        # expat decodes UTF-16 by itself (from a byte-order mark, or from the
        # zero bytes around "<"); such bodies are refused before parsing, so
        # an entity is never expanded and a bad <i8> never reaches xmlrpc-c.
        entity = ("<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE m [<!ENTITY a 'EXPANDED'>]>"
                  "<methodCall><methodName>&a;&a;</methodName><params></params></methodCall>")
        bad_i8 = xml_call("VM.get_all", param("<i8>99999999999999999999999</i8>")).decode()
        for text in (entity, bad_i8):
            for codec, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                               ("utf-16-le", b""), ("utf-16-be", b"")):
                status, data = self.post_xml(bom + text.encode(codec))
                self.assertEqual(status, 500, (codec, bom, data))
                self.assertNotIn(b"EXPANDED", data)
                self.assertIsNone(self.daemon.proc.poll(), "xenrdpd died")

    def test_external_entities_are_never_resolved(self):
        for target in ["file:///etc/passwd", "file:///etc/hostname", "http://127.0.0.1:1/x"]:
            body = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "{target}">]>'
                    f"<methodCall><methodName>session.login_with_password</methodName><params>"
                    f"{param('&x;')}{s('p')}</params></methodCall>").encode()
            status, data = self.post_xml(body)
            self.assertEqual(status, 500)
            self.assertNotIn(b"root:", data)
        # A parameter entity, too.
        status, _ = self.post_xml(b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
                                  + xml_call("system.listMethods"))
        self.assertEqual(status, 500)

    def test_deep_nesting_is_refused(self):
        # Both bodies are inside the 1 MiB body limit (20000 levels: 860 KB),
        # so the transport passes them on and the parser's depth limit
        # (512 elements) refuses them: a request that cannot be parsed.
        for depth in (600, 20000):
            value = "<array><data><value>" * depth + "</value></data></array>" * depth
            body = xml_call("VM.get_all", param(value))
            self.assertLess(len(body), 1 << 20)
            status, data = self.post_xml(body)
            self.assertEqual(status, 500, data[:200])
            self.assertIn(b"XML nesting too deep", data)
        status, data = self.post_xml(xml_call("VM.get_all", param("<struct><member><name>a</name><value>" * 600
                                                                  + "x" + "</value></member></struct>" * 600)))
        self.assertEqual(status, 500, data[:200])
        self.assertIn(b"XML nesting too deep", data)

    def test_another_client_is_served_while_a_huge_hostile_body_is_in_flight(self):
        # 860 KB of 20000-deep nesting, sent in two parts: while half of it is
        # in, another client logs in and lists the VMs.
        depth = 20000
        body = xml_call("VM.get_all", param("<array><data><value>" * depth + "</value></data></array>" * depth))
        hostile = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=30)
        self.addCleanup(hostile.close)
        hostile.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nConnection: close\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body))
        half = len(body) // 2
        hostile.sendall(body[:half])
        start = time.monotonic()
        names = harness.vm_names(self.daemon.url)
        took = time.monotonic() - start
        self.assertIn("win10-rdp", names)
        self.assertLess(took, 5.0, f"the other client took {took:.2f}s")
        # The hostile request is still in flight: no answer yet, not closed.
        hostile.setblocking(False)
        with self.assertRaises(BlockingIOError):
            hostile.recv(1)
        hostile.setblocking(True)
        hostile.sendall(body[half:])
        answer = b""
        while chunk := hostile.recv(65536):
            answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 500 "), answer[:200])
        self.assertIn(b"XML nesting too deep", answer)
        print(f"another client served in {took * 1000:.0f} ms with half a hostile body in flight")

    def test_huge_arrays_and_strings_within_the_body_limit_are_answered(self):
        array = "<array><data>" + "<value><int>1</int></value>" * 30000 + "</data></array>"
        status, data = self.post_xml(xml_call("VM.get_all_records", param(array)))
        self.assertEqual(status, 200)
        # As xapi, parameters are unmarshalled before the session is checked:
        # an array where the session ref goes is a type error, not a bad session.
        self.assertEqual(self.xapi_failure(data), ["FIELD_TYPE_ERROR", "session_id"])
        big = "p" * 900_000
        status, data = self.post_xml(xml_call("session.login_with_password", s("admin") + s(big)))
        self.assertEqual(status, 200)
        self.assertEqual(self.xapi_failure(data)[0], "SESSION_AUTHENTICATION_FAILED")
        members = "".join(f"<member><name>k{i}</name><value>v</value></member>" for i in range(20000))
        status, data = self.post_xml(xml_call("VM.call_plugin", s("OpaqueRef:x") + s("OpaqueRef:y") + s("p")
                                              + s("f") + param(f"<struct>{members}</struct>")))
        self.assertEqual(status, 200)
        self.assertEqual(self.xapi_failure(data)[0], "SESSION_INVALID")

    def test_wrong_types_are_field_type_errors(self):
        status, data = self.post_xml(xml_call("session.login_with_password",
                                              param("<int>1</int>") + param("<int>2</int>")))
        self.assertEqual(status, 200)
        self.assertEqual(self.xapi_failure(data)[0], "FIELD_TYPE_ERROR")
        session = XenAPI.Session(self.daemon.url)
        session.xenapi.login_with_password("admin", "admin-password")
        self.addCleanup(session.xenapi.session.logout)
        for params in [param("<array><data></data></array>"), param("<boolean>1</boolean>"),
                       param("<double>1.5</double>"), param("<struct></struct>"), param("<nil/>")]:
            status, data = self.post_xml(xml_call("VM.get_record", s(session.handle) + params))
            self.assertEqual(status, 200)
            # A ref is a string: any other type is refused before any lookup.
            self.assertEqual(self.xapi_failure(data), ["FIELD_TYPE_ERROR", "self"], params)
        # A string that is no ref of a VM is a lookup failure.
        status, data = self.post_xml(xml_call("VM.get_record", s(session.handle) + s("OpaqueRef:nope")))
        self.assertEqual(self.xapi_failure(data), ["HANDLE_INVALID", "VM", "OpaqueRef:nope"])

    def test_invalid_utf8_is_refused(self):
        status, _ = self.post_xml(xml_call("session.login_with_password").replace(b"password", b"pass\xffword"))
        self.assertEqual(status, 500)
        # 0xC3 must be followed by a continuation byte; "(" is not one.  XML
        # 1.0 documents must be well-formed UTF-8, so this does not parse.
        body = xml_call("session.login_with_password", s("adm@in") + s("x")).replace(b"@", b"\xc3\x28")
        self.assertIn(b"adm\xc3(in", body)
        status, data = self.post_xml(body)
        self.assertEqual(status, 500, data[:200])
        status, reply = self.post_json(b'{"jsonrpc":"2.0","method":"session.login_with_password",'
                                       b'"params":["\xed\xa0\x80","x"],"id":1}')
        self.assertEqual(status, 500)
        self.assertEqual(reply["error"]["message"], "MALFORMED_METHOD_REQUEST")

    def test_unknown_methods_and_wrong_arity(self):
        status, data = self.post_xml(xml_call("VM.destroy_everything", s("x")))
        self.assertEqual(status, 200)
        self.assertEqual(self.xapi_failure(data), ["MESSAGE_METHOD_UNKNOWN", "VM.destroy_everything"])
        status, data = self.post_xml(xml_call("session.login_with_password", s("admin")))
        self.assertEqual(self.xapi_failure(data)[:2], ["MESSAGE_PARAMETER_COUNT_MISMATCH",
                                                      "session.login_with_password"])
        status, data = self.post_xml(xml_call("VM.get_all", s("a") + s("b") + s("c")))
        self.assertEqual(self.xapi_failure(data)[0], "MESSAGE_PARAMETER_COUNT_MISMATCH")
        status, reply = self.post_json('{"jsonrpc":"2.0","method":"nope","params":[],"id":7}')
        self.assertEqual(status, 200)
        self.assertEqual(reply["error"]["message"], "MESSAGE_METHOD_UNKNOWN")
        self.assertEqual(reply["id"], 7)

    def test_bad_json_is_a_malformed_method_request(self):
        cases = [
            '{"jsonrpc":"2.0","method":"session.login_with_password","params":["admin",1e99999],"id":1}',
            '{"jsonrpc":"2.0","method":"VM.get_record","params":["x",123456789012345678901234567890],"id":1}',
            '{"jsonrpc":"2.0","method":"VM.get_record","params":["x",-99999999999999999999],"id":1}',
            '{"jsonrpc":"2.0","method":',
            '{"jsonrpc":"2.0","method":"x","params":' + "[" * 5000 + "]" * 5000 + ',"id":1}',
            '{"jsonrpc":"2.0","method":"x","params":[],"id":null}',
            '{"jsonrpc":"2.0","method":42,"params":[],"id":1}',
            '[1,2,3]',
        ]
        for body in cases:
            status, reply = self.post_json(body)
            self.assertEqual(status, 500, body[:80])
            self.assertEqual(reply["error"]["message"], "MALFORMED_METHOD_REQUEST", body[:80])
        big = "[" + ",".join(["1"] * 100000) + "]"
        status, reply = self.post_json('{"jsonrpc":"2.0","method":"VM.get_all","params":' + big + ',"id":2}')
        self.assertEqual(status, 200)
        self.assertEqual(reply["error"]["message"], "MESSAGE_PARAMETER_COUNT_MISMATCH")


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
