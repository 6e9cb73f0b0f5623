#!/usr/bin/python3
"""Writes fuzz/corpus/<target>/ seed inputs: requests as the real clients
send them (python xmlrpc.client as used by XenAPI.py, Xen Orchestra's
JSON-RPC shape, Nova's console bodies) plus a few hostile ones.  Run once;
the files are committed, so the fuzz ctests never depend on this script."""
import hashlib
import json
import os
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


CALLS = [
    ("session.login_with_password", ("admin", "secret", "2.1", "XenAPI.py")),
    ("session.login_with_password", ("reader", "wrong")),
    ("session.logout", ("@session",)),
    ("VM.get_all_records", ("@session",)),
    ("VM.get_all", ("@reader",)),
    ("VM.get_record", ("@session", "@vm")),
    ("VM.get_guest_metrics", ("@session", "@vm")),
    ("VM.get_by_uuid", ("@session", "not-a-uuid")),
    ("VM.call_plugin", ("@session", "@vm", "guest-agent-operation", "request-rdp-on", {})),
    ("VM.call_plugin", ("@reader", "@vm", "guest-agent-operation", "request-rdp-off", {})),
    ("VM.call_plugin", ("@session", "@halted", "guest-agent-operation", "request-rdp-on", {})),
    ("VM.call_plugin", ("@session", "@dom0", "guest-agent-operation", "../../x", {"a": "b"})),
    ("VM_guest_metrics.get_record", ("@session", "@gm")),
    ("VM_guest_metrics.get_other", ("@session", "@gm")),
    ("host.get_all_records", ("@session",)),
    ("pool.get_all", ("@session",)),
    ("event.from", ("@session", ["vm", "vm_guest_metrics"], "", 0.01)),
    ("event.register", ("@session", ["*"])),
    ("event.next", ("@session",)),
    ("system.listMethods", ()),
    ("VM.get_power_state", ("@session", "OpaqueRef:forged")),
    ("VM.get_all_records_where", ("@session", 'field "power_state" = "Running"')),
]


def main():
    for method, params in CALLS:
        put("xml_rpc", xmlrpc.client.dumps(params, method, allow_none=True))
        for version in ("2.0", None):
            body = {"method": method, "params": list(params), "id": 1}
            if version:
                body["jsonrpc"] = version
            put("json_rpc", json.dumps(body))
    put("xml_rpc", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        '<methodCall><methodName>&b;</methodName></methodCall>')
    put("xml_rpc", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<methodCall><methodName>&x;</methodName></methodCall>')
    put("xml_rpc", "<methodCall><methodName>VM.get_all</methodName><params><param><value>"
        + "<array><data><value>" * 40 + "</value></data></array>" * 40 + "</value></param></params></methodCall>")
    put("xml_rpc", b"<methodCall><methodName>\xff\xfe</methodName></methodCall>")
    # <i8>, and UTF-16 bodies (with and without a byte-order mark), which
    # expat decodes by itself: regression inputs for the pre-pass bypass.
    i8 = ("<?xml version='1.0'?><methodCall><methodName>VM.get_all</methodName><params>"
          "<param><value><i8>-9223372036854775808</i8></value></param></params></methodCall>")
    put("xml_rpc", i8)
    put("xml_rpc", b"\xff\xfe" + i8.replace("-9223372036854775808", "abc").encode("utf-16-le"))
    put("xml_rpc", ("<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE m [<!ENTITY a 'x'>]>"
                    "<methodCall><methodName>&a;</methodName></methodCall>").encode("utf-16-be"))
    put("json_rpc", '{"jsonrpc":"2.0","method":"VM.get_record","params":["@session",1e400],"id":null}')
    put("json_rpc", '{"jsonrpc":"2.0","method":"x","params":' + "[" * 100 + "]" * 100 + ',"id":"a"}')
    put("json_rpc", '[{"jsonrpc":"2.0","method":"system.listMethods","id":1}]')

    xml = xmlrpc.client.dumps(("admin", "secret"), "session.login_with_password")
    put("http", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(xml)}\r\n\r\n{xml}")
    js = json.dumps({"jsonrpc": "2.0", "method": "system.listMethods", "params": [], "id": 0})
    put("http", "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(js)}\r\n\r\n{js}")
    put("http", f"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{len(xml):x}\r\n{xml}\r\n0\r\n\r\n"
        "GET /metrics HTTP/1.1\r\n\r\n")
    put("http", "POST / HTTP/1.0\r\nContent-Length: 99999999999\r\n\r\n")
    put("http", "GET / HTTP/1.1\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\r\n")
    put("http", "BREW /pot HTCPCP/1.0\r\n\r\n")

    # First byte: 0 JSON parser, 1 XML parser, 2 by Content-Type (XML).
    for body in ['{"os-getRDPConsole": {"type": "rdp-html5"}}',
                 '{"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}',
                 '{"os-getRDPConsole": null}', '{"os-getRDPConsole": {"type": ' + "[" * 80 + "]" * 80 + "}}"]:
        put("nova_body", "\0" + body)
    for body in ['<?xml version="1.0" encoding="UTF-8"?><os-getRDPConsole type="rdp-html5"/>',
                 '<?xml version="1.0"?><remote_console protocol="rdp" type="rdp-html5"/>',
                 '<!DOCTYPE a [<!ENTITY e "x">]><os-getRDPConsole type="&e;"/>']:
        put("nova_body", "\1" + body)
        put("nova_body", "\2" + body)

    put("guest_rules", "control/feature-ts=1\ncontrol/feature-ts2=1\ndata/ts=0\n"
        "attr/vif/0/ipv4/0=192.0.2.10\nattr/vif/0/ipv6/0=fe80::1\n"
        "data/os_name=Microsoft Windows 10 Pro|C:\\Windows|\\Device\\Harddisk0\\Partition2\n"
        "attr/PVAddons/MajorVersion=9\nattr/PVAddons/MinorVersion=3\nattr/PVAddons/MicroVersion=1\n"
        "attr/PVAddons/BuildVersion=74\ndata/service/rdp/port=3389\nfeature/hotplug/vbd=1\n")
    put("guest_rules", b"data/os_name=\xc3\xa9\xed\xa0\x80\xf4\x90\x80\x80\x00\x01\xef\xbf\xbf\n"
        b"data/os_uname=" + b"x" * 100 + b"\n")
    put("guest_rules", "data/os_distro=debian\ndata/os_majorver=12\ndata/os_minorver=4\n"
        "data/host_name_dns=guest.example\ndata/domain=example\nattr/os/spmajor=1\n")


main()
