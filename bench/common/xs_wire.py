"""A minimal client of the xenstored wire protocol (docs/misc/xenstore.txt),
for the benchmarks only.

Why not libxenstore: the benchmarks are Python, and they need two things
libxenstore does not give cheaply from Python:
  - timing a write and its watch event from the same process and clock as the
    XenAPI client that long-polls the daemon, so "raw xenstored round trip"
    and "daemon round trip" are measured the same way;
  - pipelining: many requests written before their replies are read, which
    lays out thousands of domains without one round trip per node.

Replies on one connection come back in request order; watch events
(XS_WATCH_EVENT, req_id 0) may arrive in between and are queued.
"""
import socket
import struct

XS_DIRECTORY = 1
XS_READ = 2
XS_WATCH = 4
XS_UNWATCH = 5
XS_INTRODUCE = 8
XS_RELEASE = 9
XS_WRITE = 11
XS_RM = 13
XS_SET_PERMS = 14
XS_WATCH_EVENT = 15
XS_ERROR = 16

_HEADER = struct.Struct("<IIII")


class XsError(RuntimeError):
    pass


class XsWire:
    """One connection to xenstored's Unix socket.  Not thread-safe."""

    def __init__(self, socket_path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(socket_path)
        self.buf = bytearray()
        self.events = []  # queued (path, token) watch events
        self.next_id = 1
        self.pending = []  # req_ids written, replies not read yet

    def close(self):
        self.sock.close()

    # -- framing -------------------------------------------------------
    def _frame(self, kind, payload):
        req_id = self.next_id
        self.next_id = (self.next_id + 1) & 0x7FFFFFFF or 1
        return req_id, _HEADER.pack(kind, req_id, 0, len(payload)) + payload

    def _read_message(self):
        while True:
            if len(self.buf) >= 16:
                kind, req_id, _tx, length = _HEADER.unpack_from(self.buf)
                if len(self.buf) >= 16 + length:
                    payload = bytes(self.buf[16:16 + length])
                    del self.buf[:16 + length]
                    return kind, req_id, payload
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise XsError("xenstored closed the connection")
            self.buf += chunk

    def _reply(self, req_id):
        while True:
            kind, rid, payload = self._read_message()
            if kind == XS_WATCH_EVENT:
                parts = payload.split(b"\0")
                self.events.append((parts[0].decode(), parts[1].decode()))
                continue
            if rid != req_id:
                raise XsError(f"reply {rid} out of order, wanted {req_id}")
            if kind == XS_ERROR:
                raise XsError(payload.rstrip(b"\0").decode())
            return payload

    # -- requests ------------------------------------------------------
    def send(self, kind, *fields, raw_tail=None):
        """Queues one request (pipelined); its reply is read by flush()."""
        payload = b"".join(f.encode() + b"\0" for f in fields)
        if raw_tail is not None:
            payload += raw_tail.encode()
        req_id, data = self._frame(kind, payload)
        self.sock.sendall(data)
        self.pending.append(req_id)
        return req_id

    def flush(self):
        """Reads every outstanding reply; raises on the first error."""
        pending, self.pending = self.pending, []
        error = None
        for rid in pending:
            try:
                self._reply(rid)
            except XsError as e:
                error = error or e
        if error:
            raise error

    def call(self, kind, *fields, raw_tail=None):
        self.flush()
        rid = self.send(kind, *fields, raw_tail=raw_tail)
        self.pending.clear()
        return self._reply(rid)

    def write(self, path, value):
        self.call(XS_WRITE, path, raw_tail=value)

    def read(self, path):
        try:
            return self.call(XS_READ, path).decode()
        except XsError as e:
            if str(e) == "ENOENT":
                return None
            raise

    def watch(self, path, token):
        self.call(XS_WATCH, path, token)

    def wait_event(self, path=None):
        """Blocks until a watch event (for `path`, if given) arrives."""
        while True:
            while self.events:
                ev = self.events.pop(0)
                if path is None or ev[0] == path:
                    return ev
            kind, _rid, payload = self._read_message()
            if kind == XS_WATCH_EVENT:
                parts = payload.split(b"\0")
                self.events.append((parts[0].decode(), parts[1].decode()))

    def drain_events(self):
        self.events.clear()


# What a current Windows guest agent has written once it runs (RDP off): the
# keys xenrdpd reads into VM_guest_metrics.
AGENT_KEYS = (
    ("control/feature-ts", "1"),
    ("control/feature-ts2", "1"),
    ("data/ts", "0"),
    ("data/os_name", "Microsoft Windows Server 2019 Standard|C:\\Windows|\\Device\\Harddisk0\\Partition2"),
    ("data/os_majorver", "10"),
    ("data/os_minorver", "0"),
    ("attr/PVAddons/MajorVersion", "9"),
    ("attr/PVAddons/MinorVersion", "3"),
    ("attr/PVAddons/MicroVersion", "1"),
    ("attr/PVAddons/BuildVersion", "74"),
)


def layout_domain(xs, domid, name, uuid, perms=True, agent=False):
    """Queues (pipelined) what tests/sandbox's layoutDomain writes: the
    toolstack's keys for one HVM guest, with toolstack permissions.  Call
    xs.flush() afterwards.

    perms=False leaves every node owned by dom0: xenstored 4.17 then keeps no
    per-domain node accounting for the guest, which keeps laying out
    thousands of domains linear.  The daemon reads as dom0 and the benchmark
    writes as dom0, so nothing measured depends on the guest's permissions."""
    dom = f"/local/domain/{domid}"
    vm = f"/vm/{uuid}"
    xs.send(XS_WRITE, dom, raw_tail="")
    if perms:
        xs.send(XS_SET_PERMS, dom, "n0", f"r{domid}")
    xs.send(XS_WRITE, dom + "/name", raw_tail=name)
    xs.send(XS_WRITE, dom + "/domid", raw_tail=str(domid))
    xs.send(XS_WRITE, dom + "/vm", raw_tail=vm)
    for sub in ("control", "data", "attr", "feature"):
        xs.send(XS_WRITE, f"{dom}/{sub}", raw_tail="")
        if perms:
            xs.send(XS_SET_PERMS, f"{dom}/{sub}", f"n{domid}")
    xs.send(XS_WRITE, dom + "/control/platform-feature-multiprocessor-suspend", raw_tail="1")
    xs.send(XS_WRITE, dom + "/control/platform-feature-xs_reset_watches", raw_tail="1")
    xs.send(XS_WRITE, dom + "/control/has-vendor-device", raw_tail="0")
    xs.send(XS_WRITE, vm, raw_tail="")
    if perms:
        xs.send(XS_SET_PERMS, vm, "n0", f"r{domid}")
    xs.send(XS_WRITE, vm + "/uuid", raw_tail=uuid)
    xs.send(XS_WRITE, vm + "/name", raw_tail=name)
    xs.send(XS_WRITE, vm + "/image/ostype", raw_tail="hvm")
    if agent:
        for rel, value in AGENT_KEYS:
            xs.send(XS_WRITE, f"{dom}/{rel}", raw_tail=value)
        xs.send(XS_WRITE, f"{dom}/attr/vif/0/ipv4/0", raw_tail=f"10.{domid >> 16 & 255}.{domid >> 8 & 255}.{domid & 255}")


def introduce(xs, domid):
    """Queues XS_INTRODUCE as xs_introduce_domain(h, domid, 0, 1) sends it."""
    xs.send(XS_INTRODUCE, str(domid), "0", "1")
