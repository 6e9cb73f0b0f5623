"""Test harness shared by the client tests: a private xenstored sandbox with
simulated guests, and a running xenrdpd, all torn down at the end.

Everything here is real: Debian's xenstored (through tests/sandbox), the
simulated Windows guest agent, and the xenrdpd binary under test.  Waits are
conditions with deadlines, never fixed sleeps.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import xmlrpc.client

BUILD_DIR = os.environ.get("XENRDP_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def build_path(*parts):
    return os.path.abspath(os.path.join(BUILD_DIR, *parts))


SANDBOX_CLI = build_path("tests", "sandbox", "xenrdp-sandbox")
GUEST_AGENT = build_path("tests", "sandbox", "xenrdp-guest-agent")
DAEMON = build_path("daemon", "xenrdpd")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the daemon's Unix socket."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc transport over a Unix socket (os-xenapi's own UDSTransport is
    broken on Python 3, reference xenapi-clients.md §0.11)."""

    def __init__(self, path, timeout=30):
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        return UnixHTTPConnection(self.unix_path, self.timeout)


def wait_until(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def vm_names(url):
    """Logs in to `url` as the harness's admin with Debian's XenAPI.Session,
    lists the VMs' name labels and logs out: proof that a client is served."""
    from os_xenapi.client import XenAPI
    session = XenAPI.Session(url)
    session.xenapi.login_with_password("admin", "admin-password")
    try:
        return [r["name_label"] for r in session.xenapi.VM.get_all_records().values()]
    finally:
        session.xenapi.session.logout()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_users_file(path, users):
    """users: list of (name, role, password); hashes are SHA-512 crypt made by openssl."""
    lines = []
    for name, role, password in users:
        digest = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                                check=True, capture_output=True).stdout.decode().strip()
        lines.append(f"{name}:{role}:{digest}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def make_cert(directory, name, cn="localhost", san=None):
    """A self-signed RSA certificate and its key in `directory`, valid a day;
    returns (cert path, key path)."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    extra = ["-addext", f"subjectAltName={san}"] if san else []
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                    *extra, "-days", "1", "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Sandbox:
    """A private xenstored with guests laid out as a toolstack does."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="xenrdp-clients-")
        self.socket = self._cli("start").strip()
        self.agents = []

    def _cli(self, *args):
        return subprocess.run([SANDBOX_CLI, args[0], self.dir, *args[1:]], check=True,
                              capture_output=True, text=True).stdout

    def add_domain(self, domid, name, uuid=None):
        return self._cli("add-domain", str(domid), name, *([uuid] if uuid else [])).strip()

    def release(self, domid):
        self._cli("release", str(domid))

    def write(self, path, value):
        self._cli("write", path, value)

    def remove(self, path):
        self._cli("rm", path)

    def read(self, path):
        r = subprocess.run([SANDBOX_CLI, "read", self.dir, path], capture_output=True, text=True)
        return r.stdout.rstrip("\n") if r.returncode == 0 else None

    def kill_xenstored(self):
        """SIGKILL to xenstored: the daemon's connection dies mid-flight."""
        self._cli("kill")

    def restart_xenstored(self):
        """Starts a fresh xenstored on the same socket, holding only dom0;
        domains must be laid out again."""
        self._cli("restart")

    def dump(self):
        """The whole store as {path: value}, read with xenstore-ls."""
        env = dict(os.environ, XENSTORED_PATH=self.socket)
        out = subprocess.run(["xenstore-ls", "-f", "/"], env=env, check=True, capture_output=True,
                             text=True).stdout
        tree = {}
        for line in out.splitlines():
            path, _, value = line.partition(" = ")
            tree[path] = value
        return tree

    def start_agent(self, domid, agent="current", rdp=False, ip=None, os_name=None):
        args = [GUEST_AGENT, "--socket", self.socket, "--domid", str(domid), "--agent", agent,
                "--rdp", "1" if rdp else "0"]
        if ip:
            args += ["--ip", ip]
        if os_name:
            args += ["--os-name", os_name]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"guest agent for domain {domid} did not start: {line!r}")
        self.agents.append(proc)
        return proc

    def close(self):
        for proc in self.agents:
            proc.terminate()
        for proc in self.agents:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run([SANDBOX_CLI, "stop", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """xenrdpd under test, with its log captured."""

    def __init__(self, sandbox, extra_args=(), port=None, users=None, log_level="info",
                 login_failure_delay="0.3", env=None, wait_ready=True):
        self.sandbox = sandbox
        self.dir = tempfile.mkdtemp(prefix="xenrdpd-")
        self.port = port or free_port()
        self.unix_socket = os.path.join(self.dir, "xapi.sock")
        self.users_file = os.path.join(self.dir, "users")
        make_users_file(self.users_file, users or [
            ("admin", "pool-admin", "admin-password"),
            ("operator", "vm-operator", "operator-password"),
            ("reader", "read-only", "reader-password"),
        ])
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.login_failure_delay = login_failure_delay
        self.env = dict(os.environ, **(env or {}))
        self.wait_ready = wait_ready
        self.proc = None
        self.log_file = None
        self.start()

    def start(self):
        args = [DAEMON, "--config", "/dev/null", "--xenstore-socket", self.sandbox.socket,
                "--listen", f"127.0.0.1:{self.port}", "--unix-socket", self.unix_socket,
                "--users", self.users_file, "--log-level", self.log_level, "--login-failure-delay",
                str(self.login_failure_delay),
                "--pam", "false", *self.extra_args]
        # The log goes to a file, never a pipe nobody drains.
        self.log_path = os.path.join(self.dir, "xenrdpd.log")
        self.log_file = open(self.log_path, "a")
        self.log_offset = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=self.log_file, text=True, env=self.env)
        if self.wait_ready:
            self.wait_for_log(r"DAEMON_READY", timeout=20)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for_log(self, pattern, timeout=10.0, since_start=True):
        """Waits for a line of this run's log matching `pattern`; returns it."""
        regex = re.compile(pattern)

        def find():
            with open(self.log_path) as f:
                f.seek(self.log_offset if since_start else 0)
                for line in f:
                    if regex.search(line):
                        return line
            if self.proc.poll() is not None:
                raise AssertionError(f"xenrdpd exited ({self.proc.returncode}):\n" + self.log())
            return None

        return wait_until(find, timeout, f"log line {pattern!r}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def metric(self, name):
        """The value of the sample `name` (the first, if labelled) in GET /metrics, or None."""
        with urllib.request.urlopen(f"{self.url}metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.rsplit(" ", 1)[1])
        return None

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        if self.log_file:
            self.log_file.close()
            self.log_file = None

    def close(self):
        self.kill(signal.SIGTERM)
        # Under ASan/UBSan (build-asan) and TSan (build-tsan) the daemon's
        # reports land in its log (its stderr): "ERROR: AddressSanitizer",
        # "ERROR: LeakSanitizer" (leaks found at exit), "WARNING:
        # ThreadSanitizer: data race", UBSan's "runtime error:".  Each fails
        # the test that ran the daemon.
        report = [line for line in self.log().splitlines()
                  if re.search(r"(Address|Leak|Thread|UndefinedBehavior)Sanitizer|runtime error:", line)]
        shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            raise AssertionError("sanitizer report from xenrdpd:\n" + "\n".join(report[:20]))


class ConfigFileDaemon(Daemon):
    """xenrdpd configured by a file only (no --log-level flag to win over it)."""

    def write_config(self, log_level, extra=""):
        with open(self.config_path, "w") as f:
            f.write(f"xenstore-socket = {self.sandbox.socket}\n"
                    f"listen = 127.0.0.1:{self.port}\n"
                    f"unix-socket = {self.unix_socket}\n"
                    f"users = {self.users_file}\n"
                    "pam = false\n"
                    "login-failure-delay = 0.3\n"
                    f"log-level = {log_level}\n" + extra)

    def start(self):
        self.config_path = os.path.join(self.dir, "xenrdpd.conf")
        if not os.path.exists(self.config_path):
            self.write_config("info")
        self.log_path = os.path.join(self.dir, "xenrdpd.log")
        self.log_file = open(self.log_path, "a")
        self.log_offset = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen([DAEMON, "--config", self.config_path],
                                     stdout=self.log_file, stderr=self.log_file, text=True)
        self.wait_for_log(r"DAEMON_READY", timeout=20)

    def count(self, pattern):
        return sum(1 for line in self.log().splitlines() if re.search(pattern, line))

    def wait_count(self, pattern, n):
        wait_until(lambda: self.count(pattern) >= n, 10, f"{n} log lines {pattern!r}")
