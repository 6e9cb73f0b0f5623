"""Shared by the packaging tests: paths from ctest's environment, and a
runner that returns output instead of raising, so failures show it."""
import os
import subprocess
import sys

SOURCE_DIR = os.environ.get("XENRDP_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("XENRDP_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
DAEMON = os.environ.get("XENRDP_DAEMON", os.path.join(BUILD_DIR, "daemon", "xenrdpd"))
UNIT = os.environ.get("XENRDP_UNIT", os.path.join(BUILD_DIR, "systemd", "xenrdpd.service"))
SBINDIR = os.environ.get("XENRDP_SBINDIR", "/usr/local/sbin")
PACKAGE_OUT = os.environ.get("XENRDP_PACKAGE_OUT", os.path.join(BUILD_DIR, "packages"))
MAN_DIR = os.path.join(SOURCE_DIR, "docs", "man")

# harness.py (Sandbox, wait_until, free_port, make_users_file) finds the
# sandbox tools through XENRDP_BUILD_DIR.
os.environ.setdefault("XENRDP_BUILD_DIR", BUILD_DIR)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "clients"))


def run(args, **kwargs):
    """Runs a command; returns the CompletedProcess with text stdout/stderr."""
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def setting_names(daemon):
    """The settings xenrdpd accepts (the --help "Settings" section)."""
    r = run([daemon, "--help"])
    assert r.returncode == 0, r.stderr
    names, in_settings = [], False
    for line in r.stdout.splitlines():
        if line.startswith("Settings"):
            in_settings = True
            continue
        stripped = line.strip()
        if in_settings and stripped.startswith("--"):
            names.append(stripped.split()[0][2:])
    assert names, "no settings found in xenrdpd --help:\n" + r.stdout
    return names
