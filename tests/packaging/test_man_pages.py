"""The man pages render without a warning from man(1) or groff, have a
whatis line, and xenrdpd(8) documents every setting xenrdpd accepts."""
import os
import re
import unittest

from common import DAEMON, MAN_DIR, SOURCE_DIR, run, setting_names

PAGES = ["xenrdpd.8", "xenrdp-xe.1"]


class ManPagesTest(unittest.TestCase):
    def test_pages_render_without_warnings(self):
        for page in PAGES:
            path = os.path.join(MAN_DIR, page)
            with self.subTest(page=page):
                r = run(["man", "--warnings", "-l", path], env=dict(os.environ, MANWIDTH="80"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "", f"man warnings for {page}")
                self.assertIn("SYNOPSIS", r.stdout)
                r = run(["groff", "-ww", "-z", "-man", path])
                self.assertEqual((r.returncode, r.stderr), (0, ""), f"groff warnings for {page}")

    def test_pages_have_a_whatis_line(self):
        for page in PAGES:
            name = page.rsplit(".", 1)[0]
            with self.subTest(page=page):
                r = run(["lexgrog", os.path.join(MAN_DIR, page)])
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn(f'"{name} - ', r.stdout)

    def test_a_roff_error_is_reported(self):
        # The check above can fail: an unknown request draws a warning.
        bad = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"xenrdpd-bad-{os.getpid()}.8")
        with open(bad, "w") as f:
            f.write(".TH BAD 8\n.SH NAME\nbad \\- bad\n.XYZZY\n")
        try:
            r = run(["man", "--warnings", "-l", bad])
            self.assertNotEqual(r.stderr, "")
        finally:
            os.unlink(bad)

    def test_xenrdpd_page_documents_every_setting(self):
        with open(os.path.join(MAN_DIR, "xenrdpd.8")) as f:
            text = f.read()
        for name in setting_names(DAEMON) + ["check-config", "config", "version", "help"]:
            with self.subTest(setting=name):
                self.assertIn("\\-\\-" + name.replace("-", "\\-"), text,
                              f"--{name} is not documented in xenrdpd.8")

    def test_xenrdp_xe_page_documents_the_clients_options(self):
        cli = os.path.join(SOURCE_DIR, "cli", "xenrdp-xe")
        with open(cli) as f:
            source = f.read()
        with open(os.path.join(MAN_DIR, "xenrdp-xe.1")) as f:
            page = f.read()
        # Options the client parses, and its commands.
        options = set(re.findall(r'"(-{1,2}[a-z]+)"', source))
        commands = set(re.findall(r'^    "([a-z-]+)": \(cmd_', source, re.M))
        self.assertTrue({"-s", "--minimal"} <= options, options)
        self.assertIn("vm-call-plugin", commands)
        for word in sorted(options | commands):
            with self.subTest(word=word):
                self.assertIn(word.replace("-", "\\-"), page, f"{word} is not in xenrdp-xe.1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
