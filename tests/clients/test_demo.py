#!/usr/bin/python3
"""The demo (scripts/demo -> scripts/demo.py) end to end against this build's
artefacts (XENRDP_BUILD_DIR): it exits 0, prints every step it announces with
what that step must show, and leaves no process behind.

The test makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so
whatever the demo starts and abandons (xenstored, xenrdpd, the guest agents)
becomes the test's child instead of init's, and can be found afterwards.
"""
import ctypes
import os
import re
import signal
import subprocess
import sys
import unittest

import harness

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(SOURCE_DIR, "scripts", "demo.py")
PR_SET_CHILD_SUBREAPER = 36

# What each step must show, besides its title, keyed by a word of the title.
STEP_CONTENT = {
    "private xenstored": [r"domain 3: win10-current-agent: current guest agent",
                          r"domain 4: win7-old-agent: old guest agent", r"domain 5: win2012-no-agent: no agent"],
    "Starting xenrdpd": [r"XenAPI on http://127\.0\.0\.1:\d+/", r"DAEMON_READY"],
    "listing the VMs": [r"win10-current-agent\s+Running\s+3\s+RDP off \(agent can switch it\)",
                        r"win7-old-agent\s+Running\s+4\s+old agent", r"win2012-no-agent\s+Running\s+5\s+no guest agent"],
    "Turning RDP on": [r'request-rdp-on", \{\}\) -> \'\'', r"event: class=vm_guest_metrics operation=mod",
                       r"other\.data-ts='1'", r"win10-current-agent\s+Running\s+3\s+RDP on"],
    "cannot do it": [r'win7-old-agent: XENAPI_PLUGIN_FAILURE \["failed to execute fn"\]',
                     r'win2012-no-agent: XENAPI_PLUGIN_FAILURE \["failed to execute fn"\]'],
    "read-only user": [r"RBAC_PERMISSION_DENIED: No permission in user session"],
    "RDP console URL": [r'"url": "http://127\.0\.0\.1:6083/\?token=[0-9a-f-]{36}"',
                        r'GET /os-console-auth-tokens/<token> \(pool-admin\) -> \{"console":\{"host":"192\.0\.2\.10"'],
    "xe-compatible CLI": [r"\$ xenrdp-xe vm-list", r"name-label \( RW\)\s+: win10-current-agent",
                          r"\$ xenrdp-xe vm-param-get .* param-key=data-ts\n\s+1\n"],
    "Done": [],
}


def live_children():
    """(pid, command line) of this process's children that are still running;
    zombies (the abandoned ones that already died) are reaped on the way."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[1] == me and fields[0] != "Z":
            found.append((int(entry), cmdline))
    return found


class DemoTest(unittest.TestCase):
    def test_the_demo_runs_every_step_and_leaves_nothing_running(self):
        libc = ctypes.CDLL(None, use_errno=True)
        self.assertEqual(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, os.strerror(ctypes.get_errno()))
        self.assertEqual(live_children(), [], "nothing of ours runs before the demo")

        env = dict(os.environ, XENRDP_BUILD_DIR=harness.BUILD_DIR)
        demo = subprocess.run(["/usr/bin/python3", DEMO], capture_output=True, text=True, timeout=240, env=env)
        out = demo.stdout
        # A process the demo stopped but did not wait for may take a moment
        # to go; one still there after that was left behind.
        left = []
        try:
            harness.wait_until(lambda: not live_children(), 5, "the demo's processes to be gone")
        except AssertionError:
            left = live_children()
            for pid, _ in left:
                os.kill(pid, signal.SIGKILL)
            harness.wait_until(lambda: not live_children(), 10, "the leftovers to die")

        self.assertEqual(demo.returncode, 0, f"stdout:\n{out}\nstderr:\n{demo.stderr}")
        self.assertEqual(left, [], "processes left behind by the demo")

        with open(DEMO) as f:
            titles = re.findall(r'step\("([^"]+)"\)', f.read())
        # Each step the demo announces, found by its key, in STEP_CONTENT's order.
        ordered = []
        for key in STEP_CONTENT:
            matching = [t for t in titles if key in t]
            self.assertEqual(len(matching), 1, f"{key!r} names one step of {titles}")
            ordered.append(matching[0])
        self.assertEqual(sorted(ordered), sorted(titles), "every step has expectations")
        text = "\n" + out
        starts = []
        for title in ordered:
            marker = f"\n== {title}\n"
            self.assertIn(marker, text, f"step {title!r} missing from:\n{out}")
            starts.append(text.index(marker))
        self.assertEqual(starts, sorted(starts), "steps out of order")
        for i, (key, patterns) in enumerate(STEP_CONTENT.items()):
            body = text[starts[i]:starts[i + 1] if i + 1 < len(starts) else None]
            for pattern in patterns:
                self.assertRegex(body, pattern, f"step {ordered[i]!r}")
        self.assertNotIn("Traceback", demo.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
