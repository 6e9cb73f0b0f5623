#!/usr/bin/env python3
"""Counts the instructions xenrdpd executes per XenAPI call, and where.

Runs the daemon under valgrind's callgrind against a private xenstored
sandbox with one guest, sends `--requests` keep-alive calls of one method
(after 20 unmeasured ones), with instrumentation switched on only around
them, and prints instructions (Ir) per request: in total, by library, and
the heaviest functions.  Instruction counts do not depend on the machine's
load, so this shows what a change costs where wrk's timings are too noisy.
Kernel time (the socket calls) is not counted.

    bench/rpc/callgrind_rpc.py --build-dir build-bench xml VM.get_power_state
    bench/rpc/callgrind_rpc.py --build-dir build-bench json VM_guest_metrics.get_record

The raw profile stays in --out for callgrind_annotate.
"""
import argparse
import collections
import http.client
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "bench", "common"))
sys.path.insert(0, os.path.join(REPO, "bench"))


def annotate(path):
    """(total Ir, [(Ir, function, object)]) from callgrind_annotate."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                          capture_output=True, text=True, check=True).stdout
    total, rows = 0, []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if not m:
            continue
        count = int(m.group(1).replace(",", ""))
        rest = m.group(2)
        if "PROGRAM TOTALS" in rest:
            total = count
            continue
        obj = re.search(r"\[([^\]]+)\]\s*$", rest)
        obj = os.path.basename(obj.group(1)) if obj else "?"
        func = re.sub(r"\s*\[[^\]]+\]\s*$", "", rest.split(":", 1)[-1])
        rows.append((count, func, obj))
    return total, rows


def owner(func, obj):
    """Which code a function's instructions belong to."""
    if obj != "xenrdpd":
        return obj
    for prefix, name in (("xenrdp::", "xenrdpd"), ("nlohmann::", "nlohmann-json"),
                         ("boost::", "Boost.Beast/Asio"), ("fmt::", "spdlog/fmt"),
                         ("spdlog::", "spdlog/fmt")):
        if func.startswith(prefix) or f" {prefix}" in func[:60]:
            return name
    return "libstdc++ (inlined)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build-bench")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--out", default=None, help="callgrind output (default in /tmp)")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("proto", choices=("xml", "json"))
    ap.add_argument("method", choices=("VM.get_power_state", "VM_guest_metrics.get_record"))
    opts = ap.parse_args()

    build = os.path.abspath(opts.build_dir)
    os.environ["XENRDP_BUILD_DIR"] = build
    sys.path.insert(0, os.path.join(REPO, "tests", "clients"))
    import harness  # noqa: E402  (needs XENRDP_BUILD_DIR)
    import suite  # noqa: E402
    from xapi_client import JsonRpc  # noqa: E402
    suite.harness = harness

    out = opts.out or f"/tmp/xenrdp-callgrind-{opts.proto}-{opts.method}.out"
    for stale in (out, out + ".1"):
        if os.path.exists(stale):
            os.remove(stale)
    wrapper = out + ".sh"
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                f"--callgrind-out-file={out} {harness.DAEMON} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    harness.DAEMON = wrapper

    sb = harness.Sandbox()
    try:
        sb.add_domain(1, "rpc-guest-1")
        sb.start_agent(1, rdp=True, ip="192.0.2.1")
        daemon, _, _ = suite.start_daemon(sb, deadline=120)
        api = JsonRpc(daemon.port)
        api.login()
        vms = api.api("VM.get_all_records")
        vm_ref = next(r for r, v in vms.items() if v["name_label"] == "rpc-guest-1")
        # As the suite's RPC section: the agent has reported, so the record
        # measured is the one wrk's runs get.
        harness.wait_until(lambda: api.api("VM_guest_metrics.get_record",
                                           vms[vm_ref]["guest_metrics"])["other"].get("feature-ts2"),
                           120)
        ref = vms[vm_ref]["guest_metrics"] if opts.method.startswith("VM_guest") else vm_ref
        body = suite.request_body(opts.proto, opts.method, api.session, ref)
        path, ctype = (("/RPC2", "text/xml") if opts.proto == "xml"
                       else ("/jsonrpc", "application/json"))
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)

        def call():
            conn.request("POST", path, body, {"Content-Type": ctype})
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:
                raise RuntimeError(f"HTTP {reply.status}")

        for _ in range(20):
            call()
        pid = str(daemon.proc.pid)  # valgrind execs in place: the daemon's pid
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        for _ in range(opts.requests):
            call()
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        conn.close()
        api.close()
        daemon.close()
    finally:
        sb.close()

    total, rows = annotate(out + ".1")
    n = opts.requests
    print(f"{opts.proto} {opts.method}: {total / n:,.0f} instructions per request "
          f"({n} requests, profile {out}.1)")
    by_owner = collections.Counter()
    for count, func, obj in rows:
        by_owner[owner(func, obj)] += count
    for name, count in by_owner.most_common():
        print(f"  {name:28s} {count / n:9,.0f}  {100 * count / total:5.1f}%")
    print("heaviest functions (self):")
    for count, func, obj in sorted(rows, reverse=True)[:opts.top]:
        print(f"  {count / n:9,.0f}  {func[:90]} [{obj}]")


if __name__ == "__main__":
    main()
