#!/usr/bin/python3
"""Starts a sandbox with guests and xenrdpd, then runs the npm xen-api client
test (xo_client.test.mjs) under node's test runner against it."""
import os
import subprocess
import sys

import harness

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "xen-api")):
        print("npm xen-api is not installed: run `npm ci --prefix tests/clients` (scripts/test does)")
        return 1
    sandbox = harness.Sandbox()
    try:
        sandbox.add_domain(3, "win10-rdp")
        sandbox.add_domain(5, "win-no-agent")
        sandbox.start_agent(3, agent="current", ip="192.0.2.20", os_name="Microsoft Windows Server 2019")
        daemon = harness.Daemon(sandbox, extra_args=["--call-plugin-interval", "0"])
        try:
            env = dict(os.environ, XAPI_URL=daemon.url.rstrip("/"), XAPI_USER="operator",
                       XAPI_PASSWORD="operator-password")
            return subprocess.run(["node", "--test", "--test-reporter=spec",
                                   os.path.join(HERE, "xo_client.test.mjs")],
                                  cwd=HERE, env=env, timeout=120).returncode
        finally:
            daemon.close()
    finally:
        sandbox.close()


if __name__ == "__main__":
    sys.exit(main())
