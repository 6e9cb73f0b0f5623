"""A small XenAPI JSON-RPC client over one keep-alive http.client connection,
for the benchmarks: lighter than XenAPI.py (no xmlrpc.client marshalling),
so the client's own cost stays small beside what it measures."""
import http.client
import json


class XapiError(RuntimeError):
    def __init__(self, details):
        super().__init__(repr(details))
        self.details = details


class JsonRpc:
    def __init__(self, port, host="127.0.0.1", timeout=120):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.next_id = 0
        self.session = None

    def call(self, method, *params):
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params),
                           "id": self.next_id})
        self.conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        reply = json.loads(resp.read())
        if reply.get("error"):
            err = reply["error"]
            raise XapiError(err.get("data") or err)
        result = reply.get("result")
        # Both shapes: a bare value, or xapi's XML-RPC-style status record.
        if isinstance(result, dict) and result.get("Status") == "Failure":
            raise XapiError(result.get("ErrorDescription"))
        if isinstance(result, dict) and result.get("Status") == "Success":
            return result.get("Value")
        return result

    def login(self, user="admin", password="admin-password"):
        self.session = self.call("session.login_with_password", user, password, "1.0", "bench")
        return self.session

    def api(self, method, *params):
        return self.call(method, self.session, *params)

    def close(self):
        self.conn.close()
