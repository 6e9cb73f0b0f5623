#!/usr/bin/python3
"""Walks through xenrdpd's Remote Desktop control on a sandbox host.

Three Windows-like guests: one with a current guest agent (RDP off), one with
an old agent that only advertises feature-ts, and one with no agent at all.
A XenAPI client (Debian's python3-os-xenapi XenAPI.Session, the same library
xe scripts and OpenStack use) lists them, turns RDP on where the agent can
do it, watches the change arrive through event.from, and shows the errors
the two others get.

The binaries come from $XENRDP_BUILD_DIR (default: build/ of this tree), as
in the client tests; tests/clients/test_demo.py runs this end to end.
"""
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "clients"))
import harness  # noqa: E402
from os_xenapi.client import XenAPI  # noqa: E402

GUESTS = [
    (3, "win10-current-agent", "current", "192.0.2.10"),
    (4, "win7-old-agent", "old", "192.0.2.11"),
    (5, "win2012-no-agent", None, None),
]


def step(text):
    print(f"\n== {text}")


def rdp_state(other):
    if other.get("feature-ts2", "0") not in ("", "0"):
        return "RDP " + ("on" if other.get("data-ts") == "1" else "off") + " (agent can switch it)"
    if other.get("feature-ts", "0") not in ("", "0"):
        return "old agent: RDP state not reported, cannot be switched"
    return "no guest agent"


def list_vms(session):
    print(f"   {'name':24} {'power':8} {'domid':5}  RDP")
    for ref, vm in sorted(session.xenapi.VM.get_all_records().items(), key=lambda kv: int(kv[1]["domid"])):
        if vm["is_control_domain"]:
            continue
        gm = vm["guest_metrics"]
        other = session.xenapi.VM_guest_metrics.get_other(gm) if gm != "OpaqueRef:NULL" else {}
        print(f"   {vm['name_label']:24} {vm['power_state']:8} {vm['domid']:>5}  {rdp_state(other)}")


def vm_named(session, name):
    for ref, vm in session.xenapi.VM.get_all_records().items():
        if vm["name_label"] == name:
            return ref, vm
    raise SystemExit(f"demo: no VM {name}")


def main():
    step("Starting a private xenstored (Debian's own, no hypervisor needed) with three guests")
    sandbox = harness.Sandbox()
    daemon = None
    try:
        for domid, name, agent, ip in GUESTS:
            sandbox.add_domain(domid, name)
            if agent:
                sandbox.start_agent(domid, agent=agent, ip=ip,
                                    os_name="Microsoft Windows|C:\\Windows|\\Device\\Harddisk0\\Partition2")
            print(f"   domain {domid}: {name}: " + (f"{agent} guest agent" if agent else "no agent"))

        step("Starting xenrdpd")
        daemon = harness.Daemon(sandbox, extra_args=["--call-plugin-interval", "0"])
        print(f"   XenAPI on {daemon.url} and on {daemon.unix_socket}")
        print("   " + daemon.wait_for_log("DAEMON_READY").strip())

        step("Logging in as a VM operator and listing the VMs (VM.get_all_records, VM_guest_metrics.get_other)")
        session = XenAPI.Session(daemon.url)
        session.xenapi.login_with_password("operator", "operator-password", "2.20", "xenrdpd-demo")
        harness.wait_until(lambda: "feature-ts2" in session.xenapi.VM_guest_metrics.get_other(
            vm_named(session, "win10-current-agent")[1]["guest_metrics"]), 10, "the agent's features")
        list_vms(session)

        step("Turning RDP on for win10-current-agent, and following the change with event.from")
        ref, vm = vm_named(session, "win10-current-agent")
        token = getattr(session.xenapi.event, "from")(["vm_guest_metrics"], "", 0.0)["token"]
        print('   VM.call_plugin(vm, "guest-agent-operation", "request-rdp-on", {}) -> '
              + repr(session.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-on", {})))
        print("   (xenrdpd wrote control/ts = 1; the agent acknowledges, switches RDP and reports through data/ts)")
        seen = False
        while not seen:
            batch = getattr(session.xenapi.event, "from")(["vm_guest_metrics"], token, 10.0)
            token = batch["token"]
            if not batch["events"]:
                raise SystemExit("demo: no event within 10 s")
            for ev in batch["events"]:
                if ev["ref"] == vm["guest_metrics"]:
                    other = ev["snapshot"]["other"]
                    print(f"   event: class={ev['class']} operation={ev['operation']} ref={ev['ref']}")
                    print(f"          other.data-ts={other.get('data-ts')!r} other.ts={other.get('ts', '(gone)')!r}")
                    seen = other.get("data-ts") == "1"
        list_vms(session)

        step("The two other guests cannot do it: their XenAPI errors")
        for name in ("win7-old-agent", "win2012-no-agent"):
            ref, _ = vm_named(session, name)
            try:
                session.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-on", {})
                raise SystemExit(f"demo: {name} unexpectedly accepted")
            except XenAPI.Failure as failure:
                print(f"   {name}: {failure.details[0]} {json.dumps(failure.details[1:2])}")

        step("A read-only user may look but not ask")
        reader = XenAPI.Session(daemon.url)
        reader.xenapi.login_with_password("reader", "reader-password")
        try:
            reader.xenapi.VM.call_plugin(ref, "guest-agent-operation", "request-rdp-off", {})
        except XenAPI.Failure as failure:
            print(f"   {failure.details[0]}: {failure.details[2]}")
        reader.xenapi.session.logout()

        console_demo(daemon, session)
        xe_demo(daemon)
        session.xenapi.session.logout()
        step("Done: stopping xenrdpd, the agents and xenstored")
    finally:
        if daemon:
            daemon.close()
        sandbox.close()
    return 0


def console_demo(daemon, session):
    """Nova-style RDP console URL and token lookup, when this build serves them."""
    step("Getting an RDP console URL (Nova API) and resolving its token")
    _, vm = vm_named(session, "win10-current-agent")
    headers = {"X-Auth-Token": session.handle, "Content-Type": "application/json"}
    body = json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}}).encode()
    req = urllib.request.Request(daemon.url + f"servers/{vm['uuid']}/action", data=body, headers=headers)
    with urllib.request.urlopen(req) as resp:
        console = json.load(resp)["console"]
    print(f"   POST /servers/{vm['uuid']}/action -> {json.dumps(console)}")
    token = console["url"].split("token=", 1)[1].split("&", 1)[0]
    admin = XenAPI.Session(daemon.url)
    admin.xenapi.login_with_password("admin", "admin-password")
    req = urllib.request.Request(daemon.url + f"os-console-auth-tokens/{token}",
                                 headers={"X-Auth-Token": admin.handle})
    with urllib.request.urlopen(req) as resp:
        print(f"   GET /os-console-auth-tokens/<token> (pool-admin) -> {resp.read().decode()}")
    admin.xenapi.session.logout()


def xe_demo(daemon):
    """The xe-compatible CLI, as an xe script would use it."""
    step("The same from a shell, with the xe-compatible CLI (xenrdp-xe)")
    xe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "xenrdp-xe")
    conn = ["-s", "127.0.0.1", "-p", str(daemon.port), "--nossl", "-u", "admin", "-pw", "admin-password"]
    for args in (["vm-list", "is-control-domain=false", "params=name-label,power-state,dom-id"],
                 ["vm-param-get", "uuid=" + vm_uuid(daemon, "win10-current-agent"), "param-name=other",
                  "param-key=data-ts"]):
        print("   $ xenrdp-xe " + " ".join(args))
        out = subprocess.run([sys.executable, xe, *conn, *args], check=True, capture_output=True, text=True)
        for line in out.stdout.rstrip().splitlines():
            print("     " + line)


def vm_uuid(daemon, name):
    s = XenAPI.Session(daemon.url)
    s.xenapi.login_with_password("reader", "reader-password")
    try:
        return vm_named(s, name)[1]["uuid"]
    finally:
        s.xenapi.session.logout()


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    sys.exit(main())
