#!/usr/bin/env python3
"""xenrdpd benchmark suite: measures the daemon against the physical limit
(the sandbox xenstored's own round trip, nginx's loopback HTTP) and against a
reference peer (a threaded Python stdlib XML-RPC server).  Run through
scripts/bench, which builds a Release tree first.

    suite.py --build-dir DIR [--out FILE] [--sections rpc,watch,plugin,scale,fanout]
             [--domains 1,100,1000,10000] [--duration 5] [--samples 200]

Everything is loopback and bounded: wrk runs for --duration seconds per
case, every latency loop takes a fixed number of samples, and every wait has
a deadline.  Nothing here passes or fails on a time: it prints a table and
writes it (with the machine and the command) to --out.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "common"))
from xapi_client import JsonRpc  # noqa: E402
from xs_wire import XS_DIRECTORY, XsWire, introduce, layout_domain  # noqa: E402

harness = None  # tests/clients/harness.py, imported once the build dir is known


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def ms(seconds):
    return seconds * 1e3


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------
# Domains laid out through the xenstored wire protocol, pipelined.
# ---------------------------------------------------------------------------

def lay_out(sandbox, first, count):
    """Lays out `count` guests from domid `first`, then introduces them.
    Two tricks keep 10,000 domains affordable (docs/PERFORMANCE.md, "Laying
    out domains"): introducing after the layout, since xenstored 4.17's cost
    per write grows with the number of introduced domains (connections), and
    leaving the nodes owned by dom0, since guest-owned nodes make it keep
    per-domain accounting whose cost grows with the number of domains.
    Returns (layout seconds, introduce seconds)."""
    xs = XsWire(sandbox.socket)
    t0 = time.monotonic()
    for i, domid in enumerate(range(first, first + count), 1):
        layout_domain(xs, domid, f"bench-{domid}", str(uuidlib.uuid4()), perms=False, agent=True)
        if i % 50 == 0:
            xs.flush()
    xs.flush()
    t1 = time.monotonic()
    for i, domid in enumerate(range(first, first + count), 1):
        introduce(xs, domid)
        if i % 200 == 0:
            xs.flush()
    xs.flush()
    t2 = time.monotonic()
    xs.close()
    return t1 - t0, t2 - t1


# Watches xenrdpd sets per guest (daemon/src/domain_paths.cpp watchedBases()).
GUEST_WATCHES = 6


def discovery_floor(sandbox, domains, sample=200):
    """The least xenstored time a daemon needs to discover `domains` guests
    on one connection: per guest one listing and GUEST_WATCHES watch
    registrations, each a round trip.  (xenstored answers one request per
    connection per pass of its main loop, which visits every introduced
    domain, so pipelining on one connection does not help: docs/PERFORMANCE.md.)
    Timed on `sample` guests spread over all of them, scaled to `domains`.
    Returns (seconds, seconds per request)."""
    xs = XsWire(sandbox.socket)
    step = max(1, domains // sample)
    picked = list(range(1, domains + 1, step))[:sample]
    t0 = time.monotonic()
    for d in picked:
        xs.call(XS_DIRECTORY, f"/local/domain/{d}")
        for i in range(GUEST_WATCHES):
            xs.watch(f"/local/domain/{d}/floor-{i}", f"floor-{d}-{i}")
    per_guest = (time.monotonic() - t0) / len(picked)
    xs.close()  # xenstored drops the connection's watches
    return per_guest * domains, per_guest / (1 + GUEST_WATCHES)


def read_floor(sandbox, domains, conns=16, sample=2000):
    """The least xenstored time any daemon needs to learn anything about
    `domains` guests: one read per guest, spread over `conns` connections
    side by side (more connections get more requests per pass of xenstored's
    main loop; past 16 the rate hardly grows, docs/PERFORMANCE.md).  Timed on
    `sample` reads spread over all guests, scaled to `domains`.  Returns
    seconds."""
    picked = [1 + (i * domains) // sample for i in range(min(sample, domains))]
    wires = [XsWire(sandbox.socket) for _ in range(conns)]

    def work(k):
        for d in picked[k::conns]:
            wires[k].read(f"/local/domain/{d}/name")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    for w in wires:
        w.close()
    return elapsed / len(picked) * domains


def metric(port, name):
    """One unlabelled value from the daemon's /metrics."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_settled(sandbox, daemon, domains, deadline):
    """Waits until every guest watch has fired once at registration (6 per
    domain) and then until xenrdpd and xenstored are idle for 0.5 s: the
    re-reads those firings cause are done.  Idle is at most one CPU tick
    (10 ms) per 100 ms sample each: at 10,000 domains the daemon's liveness
    probe alone costs xenstored ~4 ms every 0.5 s, and these scrapes cost
    the daemon a little.  Returns seconds waited (the quiet 0.5 s not
    counted), None on deadline."""
    with open(os.path.join(sandbox.dir, "xenstored.pid")) as f:
        xs_pid = int(f.read().split()[0])
    t0 = time.monotonic()
    last, still = None, 0
    while time.monotonic() - t0 < deadline:
        n = metric(daemon.port, "xenrdpd_watch_events_total")
        ticks = (cpu_ticks(daemon.proc.pid), cpu_ticks(xs_pid))
        idle = last is not None and all(now - before <= 1 for now, before in zip(ticks, last))
        still = still + 1 if idle else 0
        last = ticks
        if n >= GUEST_WATCHES * domains and still >= 5:
            return time.monotonic() - t0 - 0.5
        time.sleep(0.1)
    return None


def start_daemon(sandbox, extra=(), deadline=600.0):
    """Starts xenrdpd; returns (daemon, seconds from exec to DAEMON_READY,
    domains discovered).  If DAEMON_READY does not come within `deadline`,
    the seconds are None and the count says how far discovery got."""

    class Slow(harness.Daemon):
        def wait_for_log(self, pattern, timeout=10.0, since_start=True):
            if pattern != r"DAEMON_READY":
                return super().wait_for_log(pattern, timeout, since_start)
            return None  # waited for below, with progress

    t0 = time.monotonic()
    d = Slow(sandbox, extra_args=list(extra))
    last = 0
    while time.monotonic() - t0 < deadline:
        text = open(d.log_path).read()
        if "DAEMON_READY" in text:
            return d, time.monotonic() - t0, text.count("DOMAIN_DISCOVERED")
        if d.proc.poll() is not None:
            raise RuntimeError("xenrdpd exited:\n" + text[-2000:])
        count = text.count("DOMAIN_DISCOVERED")
        if count // 500 != last // 500:
            log(f"  {count} domains discovered after {time.monotonic() - t0:.0f}s")
        last = count
        time.sleep(0.02)
    return d, None, open(d.log_path).read().count("DOMAIN_DISCOVERED")


# ---------------------------------------------------------------------------
# Section: RPC throughput (wrk) against xenrdpd, nginx and the Python peer.
# ---------------------------------------------------------------------------

WRK_RE = {
    "rps": re.compile(r"Requests/sec:\s+([\d.]+)"),
    "p50": re.compile(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", re.M),
    "p99": re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M),
    "non2xx": re.compile(r"Non-2xx or 3xx responses:\s+(\d+)"),
    "errors": re.compile(r"Socket errors:(.*)"),
}
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(port, lua, conns, duration, env):
    threads = 1 if conns == 1 else 2
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", "-s", lua,
           f"http://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env},
                         timeout=duration + 60).stdout
    res = {"rps": float(WRK_RE["rps"].search(out).group(1))}
    for k in ("p50", "p99"):
        m = WRK_RE[k].search(out)
        res[k] = float(m.group(1)) * UNIT[m.group(2)]
    m = WRK_RE["non2xx"].search(out)
    res["bad"] = int(m.group(1)) if m else 0
    m = WRK_RE["errors"].search(out)
    res["sockerr"] = m.group(1).strip() if m else ""
    return res


def raw_post(port, path, ctype, body):
    """One POST with http.client; returns (status, content-type, body bytes)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", path, body, {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def request_body(proto, method, session, ref):
    if proto == "xml":
        return ("<?xml version='1.0'?>\n<methodCall>\n<methodName>" + method +
                "</methodName>\n<params>\n<param>\n<value><string>" + session +
                "</string></value>\n</param>\n<param>\n<value><string>" + ref +
                "</string></value>\n</param>\n</params>\n</methodCall>\n")
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": [session, ref], "id": 1},
                      separators=(",", ":"))


class Nginx:
    """A private nginx answering every request with one fixed body."""

    def __init__(self, body, ctype, workers=1):
        text = body.decode()
        if "$" in text:
            raise RuntimeError("nginx return text cannot carry '$'")
        escaped = text.replace("\\", "\\\\").replace("'", "\\'")
        self.dir = tempfile.mkdtemp(prefix="xenrdp-nginx-")
        self.port = harness.free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes {workers};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  client_body_temp_path {self.dir};
  proxy_temp_path {self.dir};
  fastcgi_temp_path {self.dir};
  uwsgi_temp_path {self.dir};
  scgi_temp_path {self.dir};
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      default_type "{ctype}";
      return 200 '{escaped}';
    }}
  }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_until(lambda: self._up(), 10, "nginx")

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + open(os.path.join(self.dir, "error.log")).read())
            return False

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class PythonPeer:
    def __init__(self, data):
        self.dir = tempfile.mkdtemp(prefix="xenrdp-peer-")
        path = os.path.join(self.dir, "data.json")
        with open(path, "w") as f:
            json.dump(data, f)
        self.port = harness.free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "rpc", "python_peer.py"),
                                      "--port", str(self.port), "--data", path],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("python peer did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def section_rpc(opts, results):
    sb = harness.Sandbox()
    daemon = peer = None
    try:
        for domid in (1, 2, 3):
            sb.add_domain(domid, f"rpc-guest-{domid}")
            sb.start_agent(domid, rdp=True, ip=f"192.0.2.{domid}")
        daemon, _, _ = start_daemon(sb)
        api = JsonRpc(daemon.port)
        api.login()
        vms = api.api("VM.get_all_records")
        vm_ref = next(r for r, v in vms.items() if v["name_label"] == "rpc-guest-1")
        harness.wait_until(lambda: api.api("VM_guest_metrics.get_record",
                                           vms[vm_ref]["guest_metrics"])["other"].get("feature-ts2"),
                           20, "guest metrics")
        gm_ref = vms[vm_ref]["guest_metrics"]
        data = {"vms": {r: api.api("VM.get_power_state", r) for r in vms},
                "guest_metrics": {r["guest_metrics"]: api.api("VM_guest_metrics.get_record",
                                                              r["guest_metrics"])
                                  for r in vms.values() if r["guest_metrics"] != "OpaqueRef:NULL"}}
        peer = PythonPeer(data)
        peer_api = JsonRpc(peer.port)
        peer_api.login()

        cases = [("VM_guest_metrics.get_record", gm_ref), ("VM.get_power_state", vm_ref)]
        for method, ref in cases:
            for proto in ("xml", "json"):
                lua = os.path.join(HERE, "rpc", "xmlrpc.lua" if proto == "xml" else "jsonrpc.lua")
                path = "/RPC2" if proto == "xml" else "/jsonrpc"
                body = request_body(proto, method, api.session, ref)
                status, ctype, answer = raw_post(daemon.port, path,
                                                 "text/xml" if proto == "xml" else "application/json",
                                                 body)
                if status != 200 or b"Failure" in answer or b'"error"' in answer:
                    raise RuntimeError(f"xenrdpd refused the bench call: {answer[:300]!r}")
                nginx = Nginx(answer, ctype.split(";")[0])
                nginx2 = Nginx(answer, ctype.split(";")[0], workers=2)
                try:
                    targets = [("xenrdpd", daemon.port, api.session),
                               ("nginx", nginx.port, ""),
                               ("nginx-2w", nginx2.port, ""),
                               ("python", peer.port, peer_api.session)]
                    sizes = {"xenrdpd": len(answer), "nginx": len(answer), "nginx-2w": len(answer)}
                    pstatus, _, panswer = raw_post(peer.port, path, "text/xml", request_body(
                        proto, method, peer_api.session, ref))
                    sizes["python"] = len(panswer)
                    for conns in opts.connections:
                        # Rounds alternate the servers, so a burst of load from
                        # elsewhere on the host hits all of them alike; each
                        # server's median round (by req/s) is reported.
                        rounds = {name: [] for name, _, _ in targets}
                        for rnd in range(opts.rounds):
                            for name, port, session in targets:
                                if name == "nginx-2w" and conns != max(opts.connections):
                                    continue
                                env = {"BENCH_METHOD": method, "BENCH_SESSION": session,
                                       "BENCH_REF": ref}
                                log(f"rpc {proto} {method} c={conns} -> {name} (round {rnd + 1})")
                                ticks = cpu_ticks(daemon.proc.pid) if name == "xenrdpd" else 0
                                r = run_wrk(port, lua, conns, opts.duration, env)
                                if name == "xenrdpd":
                                    # The daemon's CPU (all threads) per request:
                                    # the measure that host load hardly moves.
                                    cpu_s = (cpu_ticks(daemon.proc.pid) - ticks) / os.sysconf("SC_CLK_TCK")
                                    r["cpu_us"] = cpu_s * 1e6 / max(1.0, r["rps"] * opts.duration)
                                r.update(server=name, proto=proto, method=method, conns=conns,
                                         size=sizes[name], load=load_average())
                                rounds[name].append(r)
                        for name, _, _ in targets:
                            runs = sorted(rounds[name], key=lambda x: x["rps"])
                            if runs:
                                best = dict(runs[len(runs) // 2])
                                best["rounds_rps"] = [round(x["rps"]) for x in rounds[name]]
                                results["rpc"].append(best)
                finally:
                    nginx.close()
                    nginx2.close()
    finally:
        if peer:
            peer.close()
        if daemon:
            daemon.close()
        sb.close()


# ---------------------------------------------------------------------------
# Sections: watch path, scale (start time, RSS) and fan-out, per domain count.
# ---------------------------------------------------------------------------

def gm_data_ts(events, value):
    for ev in events:
        snap = ev.get("snapshot") or {}
        if ev.get("class", "").lower() == "vm_guest_metrics" and \
                (snap.get("other") or {}).get("data-ts") == value:
            return True
    return False


def event_from_body(session, token, timeout=10.0):
    return json.dumps({"jsonrpc": "2.0", "method": "event.from", "id": 1,
                       "params": [session, ["VM_guest_metrics"], token, timeout]})


def current_token(api):
    return api.api("event.from", ["VM_guest_metrics"], "", 0.0)["token"]


def watch_samples(sb, daemon, domains, samples, quiet, idle):
    """Raw: a wire-protocol watcher on /local/domain sees a write's event.
    Daemon: an event.from waiter, parked before the write, gets its answer
    carrying the new data-ts.  Same process, same clock, same writer.

    The raw and the daemon samples alternate, and each write follows the
    same pause `quiet` (by then the daemon has finished the reads the
    previous write caused): after a pause the machine's CPUs have gone idle,
    and the same xenstored round trip takes longer than back to back (at
    1,000 domains 1.4 ms against 0.9 ms), so timing the limit back to back
    and the daemon after pauses would compare unlike things.  The
    back-to-back round trip is kept too, for reference (raw_b2b)."""
    rng = random.Random(12345)
    writer = XsWire(sb.socket)
    watcher = XsWire(sb.socket)
    watcher.watch("/local/domain", "bench")
    watcher.wait_event()  # the firing at registration
    raw_b2b = []
    for i in range(samples):
        path = f"/local/domain/{rng.randint(1, domains)}/data/ts"
        t0 = time.monotonic()
        writer.write(path, f"b2b{i}")
        watcher.wait_event(path)
        raw_b2b.append(time.monotonic() - t0)

    reads = []
    for i in range(min(samples, 100)):
        d = rng.randint(1, domains)
        t0 = time.monotonic()
        writer.read(f"/local/domain/{d}/data/ts")
        reads.append(time.monotonic() - t0)

    # The back-to-back writes made the daemon re-read those guests: let it
    # finish before timing it.
    idle()
    api = JsonRpc(daemon.port)
    api.login()
    waiter = JsonRpc(daemon.port)
    token = current_token(api)
    raw, lat = [], []
    for i in range(samples):
        time.sleep(quiet)
        path = f"/local/domain/{rng.randint(1, domains)}/data/ts"
        t0 = time.monotonic()
        writer.write(path, f"raw{i}")
        watcher.wait_event(path)
        raw.append(time.monotonic() - t0)

        # The daemon's reads of that write are done after the pause; moving
        # the token past them (a poll: only the changes since the last
        # token, not every record as a token of "" would bring) makes the
        # waiter wait for the next change only.
        time.sleep(quiet)
        token = api.api("event.from", ["VM_guest_metrics"], token, 0.0)["token"]
        value = f"v{i}"
        waiter.conn.request("POST", "/jsonrpc", event_from_body(api.session, token),
                            {"Content-Type": "application/json"})
        time.sleep(quiet)  # the waiter is parked in the daemon before the write
        t0 = time.monotonic()
        writer.write(f"/local/domain/{rng.randint(1, domains)}/data/ts", value)
        while True:
            reply = json.loads(waiter.conn.getresponse().read())["result"]
            token = reply["token"]
            if gm_data_ts(reply["events"], value):
                break
            waiter.conn.request("POST", "/jsonrpc", event_from_body(api.session, token),
                                {"Content-Type": "application/json"})
        lat.append(time.monotonic() - t0)
    watcher.close()
    writer.close()
    waiter.close()
    api.close()
    return raw, raw_b2b, reads, lat


def fanout_samples(sb, daemon, waiters, rounds, domains):
    """`waiters` raw HTTP keep-alive connections each park one event.from;
    one write; each answer is timestamped the moment its last byte arrives
    (one thread, epoll: no thread wake-up in the measurement)."""
    api = JsonRpc(daemon.port)
    api.login()
    writer = XsWire(sb.socket)
    socks = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(waiters)]
    all_lat, worst = [], []
    for rnd in range(rounds):
        token = current_token(api)
        body = event_from_body(api.session, token).encode()
        req = (b"POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        for s in socks:
            s.sendall(req)
        time.sleep(0.2)  # every waiter parked
        sel = selectors.DefaultSelector()
        bufs = {}
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        value = f"fan{rnd}"
        t0 = time.monotonic()
        writer.write(f"/local/domain/{1 + rnd % domains}/data/ts", value)
        done = {}
        deadline = t0 + 15
        while len(done) < len(socks) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                bufs[s] += s.recv(1 << 16)
                head, sep, rest = bufs[s].partition(b"\r\n\r\n")
                if not sep:
                    continue
                m = re.search(rb"content-length:\s*(\d+)", head, re.I)
                if m and len(rest) >= int(m.group(1)):
                    done[s] = time.monotonic() - t0
                    sel.unregister(s)
                    if value.encode() not in rest:
                        raise RuntimeError("a fan-out waiter got an answer without the change")
        sel.close()
        if len(done) < len(socks):
            raise RuntimeError(f"only {len(done)}/{len(socks)} waiters answered")
        all_lat += list(done.values())
        worst.append(max(done.values()))
    for s in socks:
        s.close()
    writer.close()
    api.close()
    return all_lat, worst


def section_domains(opts, results):
    for n in opts.domains:
        sb = harness.Sandbox()
        daemon = None
        try:
            log(f"domains={n}: laying out")
            layout_s, intro_s = lay_out(sb, 1, n)
            probe = XsWire(sb.socket)
            t0 = time.monotonic()
            for i in range(20):
                probe.write("/local/domain/1/data/ts", f"p{i}")
            t1 = time.monotonic()
            for i in range(20):
                probe.read(f"/local/domain/{1 + i % n}/name")
            write_rtt, read_rtt = (t1 - t0) / 20, (time.monotonic() - t1) / 20
            probe.close()
            floor_s, floor_rtt = discovery_floor(sb, n)
            min_s = read_floor(sb, n)
            log(f"domains={n}: layout {layout_s:.1f}s introduce {intro_s:.1f}s, xenstored "
                f"write {ms(write_rtt):.2f} ms read {ms(read_rtt):.2f} ms, discovery floor "
                f"{floor_s:.2f}s, one read per guest on 16 connections {min_s:.2f}s; "
                "starting xenrdpd")
            daemon, ready_s, found = start_daemon(sb, deadline=opts.start_deadline)
            # DAEMON_READY follows discovery; the watches' first firings (and
            # the re-reads they cause) come after it.  Wait for them to drain
            # before measuring memory and latency.
            settle_s = None
            if ready_s is not None:
                settle_s = wait_settled(sb, daemon, n, opts.start_deadline)
            rss = vm_rss_kib(daemon.proc.pid)
            row = {"domains": n, "layout_s": layout_s, "introduce_s": intro_s,
                   "write_rtt_ms": ms(write_rtt), "read_rtt_ms": ms(read_rtt),
                   "floor_s": floor_s, "floor_rtt_ms": ms(floor_rtt), "min_s": min_s,
                   "ready_s": ready_s,
                   "discovered": found, "settle_s": settle_s, "rss_kib": rss,
                   "load": load_average()}
            if ready_s is None or settle_s is None:
                log(f"domains={n}: not ready after {opts.start_deadline:.0f}s ({found} discovered)")
                row["rss_after_kib"] = rss
                results["domains"].append(row)
                continue
            if "watch" in opts.sections:
                samples = opts.samples if n <= 1000 else max(50, opts.samples // 4)
                log(f"domains={n}: watch path, {samples} samples")
                # Each event makes the daemon re-read about 12 nodes (the
                # event's own and the unwatched extras): let them finish.
                raw, raw_b2b, reads, lat = watch_samples(
                    sb, daemon, n, samples, 0.01 + 12 * read_rtt,
                    lambda: wait_settled(sb, daemon, n, opts.start_deadline))
                row.update(raw_p50=ms(pct(raw, 50)), raw_p99=ms(pct(raw, 99)),
                           raw_b2b_p50=ms(pct(raw_b2b, 50)),
                           read_p50=ms(pct(reads, 50)),
                           ev_p50=ms(pct(lat, 50)), ev_p99=ms(pct(lat, 99)), samples=samples)
            if "fanout" in opts.sections and n in (opts.fanout_domains,):
                log(f"domains={n}: fan-out to {opts.waiters} waiters")
                lat, worst = fanout_samples(sb, daemon, opts.waiters, 20, n)
                results["fanout"] = {"domains": n, "waiters": opts.waiters, "rounds": 20,
                                     "p50": ms(pct(lat, 50)), "p99": ms(pct(lat, 99)),
                                     "max": ms(max(lat)), "worst_p50": ms(pct(worst, 50)),
                                     "load": load_average()}
            row["rss_after_kib"] = vm_rss_kib(daemon.proc.pid)
            results["domains"].append(row)
            log(f"domains={n}: {row}")
        finally:
            if daemon:
                daemon.close()
            sb.close()


def section_plugin(opts, results):
    """VM.call_plugin request -> control/ts -> simulated agent -> data/ts ->
    visible to a parked event.from waiter."""
    sb = harness.Sandbox()
    daemon = None
    try:
        sb.add_domain(1, "plugin-guest")
        sb.start_agent(1, rdp=False)
        daemon, _, _ = start_daemon(sb, ["--call-plugin-interval", "0"])
        api = JsonRpc(daemon.port)
        api.login("operator", "operator-password")
        vm = next(r for r, v in api.api("VM.get_all_records").items()
                  if v["name_label"] == "plugin-guest")
        harness.wait_until(lambda: api.api("VM_guest_metrics.get_record",
                                           api.api("VM.get_guest_metrics", vm))["other"]
                           .get("feature-ts2"), 20, "agent features")
        waiter = JsonRpc(daemon.port)
        token = current_token(api)
        lat, call = [], []
        for i in range(opts.samples):
            on = i % 2 == 0
            want = "1" if on else "0"
            waiter.conn.request("POST", "/jsonrpc", event_from_body(api.session, token),
                                {"Content-Type": "application/json"})
            time.sleep(0.01)
            t0 = time.monotonic()
            api.api("VM.call_plugin", vm, "guest-agent-operation",
                    "request-rdp-on" if on else "request-rdp-off", {})
            call.append(time.monotonic() - t0)
            while True:
                reply = json.loads(waiter.conn.getresponse().read())["result"]
                token = reply["token"]
                if gm_data_ts(reply["events"], want):
                    break
                waiter.conn.request("POST", "/jsonrpc", event_from_body(api.session, token),
                                    {"Content-Type": "application/json"})
            lat.append(time.monotonic() - t0)
        results["plugin"] = {"samples": opts.samples, "p50": ms(pct(lat, 50)),
                             "p99": ms(pct(lat, 99)), "call_p50": ms(pct(call, 50)),
                             "call_p99": ms(pct(call, 99)), "load": load_average()}
        waiter.close()
        api.close()
    finally:
        if daemon:
            daemon.close()
        sb.close()


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


def render(results, opts, started_load, command):
    m = machine()
    out = []
    out.append(f"Run {results['date']} on {m['nproc']} CPUs ({m['cpu']}, Linux {m['kernel']}); "
               f"load average at start {started_load}, at end {load_average()}.")
    out.append("")
    out.append("Reproduce with:")
    out.append("")
    out.append("    " + command)
    out.append("")
    if results["rpc"]:
        out.append("### RPC: requests/s and latency (wrk, keep-alive, "
                   f"{opts.duration} s per case)")
        out.append("")
        out.append("`nginx` returns the daemon's exact response body (same size, same Content-Type) "
                   "with one worker, as xenrdpd has one io thread; `nginx-2w` uses both CPUs. "
                   "`python` is bench/rpc/python_peer.py.")
        out.append("")
        out.append(f"Each row is the median of {opts.rounds} rounds (by req/s; the rounds alternate "
                   "the servers, and all rounds' req/s are in the JSON results).  `CPU us/req` is "
                   "xenrdpd's own CPU time, all threads, per request served: unlike req/s it "
                   "hardly moves with the host's load.")
        out.append("")
        out.append("| call | proto | conns | server | req/s | p50 ms | p99 ms | body B | CPU us/req | xenrdpd/nginx | xenrdpd/python |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        by = {(r["method"], r["proto"], r["conns"], r["server"]): r for r in results["rpc"]}
        for r in results["rpc"]:
            d = by.get((r["method"], r["proto"], r["conns"], "xenrdpd"))
            ratio_n = ratio_p = ""
            if r["server"] == "xenrdpd":
                n = by.get((r["method"], r["proto"], r["conns"], "nginx"))
                p = by.get((r["method"], r["proto"], r["conns"], "python"))
                ratio_n = f"{d['rps'] / n['rps']:.2f}" if n else ""
                ratio_p = f"{d['rps'] / p['rps']:.1f}x" if p else ""
            bad = f" ({r['bad']} non-2xx)" if r["bad"] else ""
            cpu = f"{r['cpu_us']:.1f}" if "cpu_us" in r else ""
            out.append(f"| {r['method']} | {r['proto']} | {r['conns']} | {r['server']} | "
                       f"{r['rps']:.0f}{bad} | {r['p50']:.3f} | {r['p99']:.3f} | {r['size']} | "
                       f"{cpu} | {ratio_n} | {ratio_p} |")
        out.append("")
    if results["domains"]:
        out.append("### Watch path and scale, per domain count")
        out.append("")
        out.append("raw = a guest write of data/ts -> a wire-protocol watcher's event (xenstored's own "
                   "round trip, the limit); event.from = the same write -> the answer of an "
                   "`event.from` long-poll parked in xenrdpd over HTTP (JSON-RPC), carrying the new "
                   "data-ts.  The two alternate, each write after the same pause (the daemon's "
                   "reads of the previous write done); raw b2b = the raw round trip back to back, "
                   "for reference (faster: the CPUs never go idle).  read = one xenstored read "
                   "round trip (the daemon must read the value after the event).  ready = exec of xenrdpd -> DAEMON_READY with the domains "
                   "laid out beforehand (every domain discovered, its tree read, its watches "
                   "asked for); settled = from then until every watch has fired once and the "
                   "daemon is idle; floor = the xenstored time one connection needs for a listing "
                   f"and {GUEST_WATCHES} watch registrations per guest (timed with a wire client "
                   "before xenrdpd starts: no daemon watching per guest through libxenstore, "
                   "whose watches are registered on the handle that receives them, can "
                   "discover in less); min = one read per guest over 16 wire connections "
                   "side by side, xenstored's best rate: no daemon that reads anything per "
                   "guest can discover in less; RSS = VmRSS once "
                   "settled / after the run.  Guests are laid out as a current agent leaves them "
                   "(bench/common/xs_wire.py AGENT_KEYS).")
        out.append("")
        out.append("| domains | layout s | introduce s | xs write ms | xs read ms | raw b2b p50 | raw p50 | "
                   "raw p99 | read p50 | event.from p50 | event.from p99 | p50 ratio | floor s | min s | ready s | settled s | "
                   "RSS MiB | RSS end MiB |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in results["domains"]:
            ratio = f"{r['ev_p50'] / r['raw_p50']:.2f}" if "ev_p50" in r else ""
            ready = (f"{r['ready_s']:.2f}" if r["ready_s"] is not None else
                     f"not ready after {opts.start_deadline:.0f} s: {r['discovered']} of "
                     f"{r['domains']} discovered")
            out.append(f"| {r['domains']} | {r['layout_s']:.1f} | {r['introduce_s']:.1f} | "
                       f"{r['write_rtt_ms']:.2f} | {r['read_rtt_ms']:.2f} | "
                       f"{r.get('raw_b2b_p50', float('nan')):.2f} | "
                       f"{r.get('raw_p50', float('nan')):.2f} | "
                       f"{r.get('raw_p99', float('nan')):.2f} | {r.get('read_p50', float('nan')):.2f} | "
                       f"{r.get('ev_p50', float('nan')):.2f} | {r.get('ev_p99', float('nan')):.2f} | "
                       f"{ratio} | {r['floor_s']:.2f} | {r.get('min_s', float('nan')):.2f} | {ready} | "
                       f"{'' if r.get('settle_s') is None else format(r['settle_s'], '.2f')} | "
                       f"{r['rss_kib'] / 1024:.1f} | "
                       f"{r['rss_after_kib'] / 1024:.1f} |")
        out.append("")
    if results.get("plugin"):
        p = results["plugin"]
        out.append("### call_plugin end to end")
        out.append("")
        out.append(f"VM.call_plugin(request-rdp-on/off) -> control/ts -> simulated agent -> data/ts -> "
                   f"answer of a parked event.from carrying the new data-ts ({p['samples']} samples): "
                   f"p50 {p['p50']:.2f} ms, p99 {p['p99']:.2f} ms; the call_plugin reply alone: "
                   f"p50 {p['call_p50']:.2f} ms, p99 {p['call_p99']:.2f} ms (load {p['load']}).")
        out.append("")
    if results.get("fanout"):
        f = results["fanout"]
        out.append("### event.from fan-out")
        out.append("")
        out.append(f"{f['waiters']} HTTP keep-alive connections each park an event.from; one guest "
                   f"write; {f['rounds']} rounds at {f['domains']} domains.  Write -> each waiter's "
                   f"complete answer: p50 {f['p50']:.2f} ms, p99 {f['p99']:.2f} ms, max "
                   f"{f['max']:.2f} ms (load {f['load']}).")
        out.append("")
    return "\n".join(out)


BEGIN = "<!-- bench:begin (written by scripts/bench; edit outside these markers) -->"
END = "<!-- bench:end -->"


def write_report(path, text):
    """Replaces the generated part of `path`, between the markers, keeping
    the hand-written analysis around it."""
    old = open(path).read() if os.path.exists(path) else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1]
    else:
        new = (old.rstrip() + "\n\n" if old else "# Performance\n\n") + block + "\n"
    with open(path, "w") as f:
        f.write(new)


def main():
    global harness
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--out")
    ap.add_argument("--sections", default="rpc,watch,plugin,scale,fanout")
    ap.add_argument("--domains", default="1,100,1000")
    ap.add_argument("--connections", default="1,16,64")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3,
                    help="RPC: rounds per case, servers alternating; the median is reported")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--waiters", type=int, default=100)
    ap.add_argument("--start-deadline", type=float, default=120.0,
                    help="seconds to wait for DAEMON_READY before reporting partial discovery")
    ap.add_argument("--fanout-domains", type=int, default=100)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--command", default=" ".join(sys.argv))
    opts = ap.parse_args()
    opts.sections = set(opts.sections.split(","))
    opts.domains = [int(x) for x in opts.domains.split(",") if x]
    opts.connections = [int(x) for x in opts.connections.split(",") if x]
    os.environ["XENRDP_BUILD_DIR"] = os.path.abspath(opts.build_dir)
    sys.path.insert(0, os.path.join(REPO, "tests", "clients"))
    import harness as h
    harness = h

    started = load_average()
    results = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "rpc": [],
               "domains": [], "plugin": None, "fanout": None}
    if "rpc" in opts.sections:
        section_rpc(opts, results)
    if "plugin" in opts.sections:
        section_plugin(opts, results)
    if opts.sections & {"watch", "scale", "fanout"}:
        section_domains(opts, results)
    text = render(results, opts, started, opts.command)
    print(text)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)
    if opts.out:
        write_report(opts.out, text)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
