#!/usr/bin/env python3
"""The reference peer for the RPC benchmark: what an administrator would
write instead of xenrdpd, with nothing but the Python standard library.

A threaded SimpleXMLRPCServer (socketserver.ThreadingMixIn: one thread per
connection, HTTP/1.1 keep-alive) answers session.login_with_password,
VM.get_power_state and VM_guest_metrics.get_record in XenAPI's shape
({"Status": "Success", "Value": ...}) from in-memory data, and the same
methods as JSON-RPC on POST /jsonrpc.

    python_peer.py --port N --data FILE

FILE is JSON: {"vms": {ref: power_state}, "guest_metrics": {ref: record}},
which bench/suite.py copies from the running daemon, so both servers answer
with the same bytes of data.  Prints "ready" when listening; stops on SIGTERM.
"""
import argparse
import json
import signal
import socketserver
import sys
import threading
import uuid
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer


class Api:
    def __init__(self, data):
        self.vms = data["vms"]
        self.guest_metrics = data["guest_metrics"]
        self.sessions = set()
        self.lock = threading.Lock()

    @staticmethod
    def ok(value):
        return {"Status": "Success", "Value": value}

    @staticmethod
    def failure(*details):
        return {"Status": "Failure", "ErrorDescription": list(details)}

    def login(self, user, password, *_rest):
        if (user, password) != ("admin", "admin-password"):
            return self.failure("SESSION_AUTHENTICATION_FAILED", user, "Authentication failure")
        ref = f"OpaqueRef:{uuid.uuid4()}"
        with self.lock:
            self.sessions.add(ref)
        return self.ok(ref)

    def valid(self, session):
        with self.lock:
            return session in self.sessions

    def power_state(self, session, ref):
        if not self.valid(session):
            return self.failure("SESSION_INVALID", session)
        if ref not in self.vms:
            return self.failure("HANDLE_INVALID", "VM", ref)
        return self.ok(self.vms[ref])

    def gm_record(self, session, ref):
        if not self.valid(session):
            return self.failure("SESSION_INVALID", session)
        if ref not in self.guest_metrics:
            return self.failure("HANDLE_INVALID", "VM_guest_metrics", ref)
        return self.ok(self.guest_metrics[ref])

    def table(self):
        return {
            "session.login_with_password": self.login,
            "VM.get_power_state": self.power_state,
            "VM_guest_metrics.get_record": self.gm_record,
        }


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2", "/jsonrpc")
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

    def log_message(self, *_args):
        pass

    def do_POST(self):
        if self.path != "/jsonrpc":
            super().do_POST()
            return
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        method = self.server.api_table.get(request.get("method"))
        if method is None:
            reply = {"jsonrpc": "2.0", "id": request.get("id"),
                     "error": {"code": -32601, "message": "MESSAGE_METHOD_UNKNOWN"}}
        else:
            result = method(*request.get("params", []))
            if result["Status"] == "Success":
                reply = {"jsonrpc": "2.0", "id": request.get("id"), "result": result["Value"]}
            else:
                reply = {"jsonrpc": "2.0", "id": request.get("id"),
                         "error": {"code": 1, "message": result["ErrorDescription"][0],
                                   "data": result["ErrorDescription"]}}
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # wrk resets its connections when a run ends: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    with open(args.data) as f:
        api = Api(json.load(f))
    server = Server(("127.0.0.1", args.port), requestHandler=Handler, logRequests=False,
                    allow_none=True)
    server.api_table = api.table()
    for name, fn in server.api_table.items():
        server.register_function(fn, name)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("ready", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
