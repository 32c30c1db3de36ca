"""test_imap_limits.py - every imapd limit crossed over the wire (issue 4, DESIGN invariant 7):
a clear protocol error, the session goes on where it can, and nothing is stored.

imapd runs with small limits (config keys of services/imapd/README.md):
- line length: tighter before login (1 KiB) than after (4 KiB): BAD [TOOBIG], then NOOP works;
- literal size (APPENDLIMIT, 64 KiB): a synchronising literal is refused before any "+",
  a LITERAL+ literal is skipped exactly, and no message is stored either way;
- literal size before login (1 KiB): LOGIN with a big literal password is refused;
- nesting depth (4): a SEARCH nested deeper gets BAD [LIMIT];
- bad commands (3): the fourth gets BYE and the connection closes.
"""
import smtplib
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack


class ImapLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("imaplimits")
        st.start_metad()
        cls.imapd = st.start_imapd(imap__max_line_length_unauthenticated="1K", imap__max_line_length="4K",
                                   imap__max_literal_size_unauthenticated="1K", imap__max_literal_size="64K",
                                   imap__max_nesting=4, imap__max_bad_commands=3)
        cls.user = st.add_user("lim", password="pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def login(self):
        r = RawImap(self.imapd.port)
        _, done = r.command("l", f'LOGIN "{self.user}" "pw"')
        self.assertTrue(done.startswith("l OK"), done)
        return r

    def messages(self, r):
        untagged, done = r.command("st", "STATUS INBOX (MESSAGES)")
        self.assertTrue(done.startswith("st OK"), done)
        return int(untagged[0].rsplit(" ", 1)[1].rstrip(")"))

    def test_line_length_is_tighter_before_login(self):
        r = RawImap(self.imapd.port)
        _, done = r.command("a", "a NOOP " + "x" * 2000)
        self.assertTrue(done.startswith("a BAD [TOOBIG]"), done)
        _, done = r.command("b", "NOOP")
        self.assertEqual(done, "b OK NOOP completed.")
        _, done = r.command("l", f'LOGIN "{self.user}" "pw"')
        self.assertTrue(done.startswith("l OK"), done)
        # 2,000 octets are fine now; 5,000 are not.
        _, done = r.command("c", 'LIST "" "' + "y" * 2000 + '"')
        self.assertEqual(done, "c OK List completed.")
        _, done = r.command("d", 'LIST "" "' + "y" * 5000 + '"')
        self.assertTrue(done.startswith("d BAD [TOOBIG]"), done)
        _, done = r.command("e", "NOOP")
        self.assertEqual(done, "e OK NOOP completed.")
        r.close()

    def test_literal_size_before_login(self):
        r = RawImap(self.imapd.port)
        r.send(f'p LOGIN "{self.user}" {{2000}}')
        line = r.line()
        self.assertTrue(line.startswith("p BAD [TOOBIG]") or line.startswith("p NO [TOOBIG]"), line)
        _, done = r.command("q", "NOOP")
        self.assertEqual(done, "q OK NOOP completed.")
        r.close()

    def test_appendlimit(self):
        r = self.login()
        self.assertIn(f"APPENDLIMIT={64 * 1024}", r.command("c", "CAPABILITY")[0][0])
        before = self.messages(r)
        body = b"Subject: big\r\n\r\n" + b"z" * (70 * 1024) + b"\r\n"
        # Synchronising: refused before the "+", so the client never sends the bytes.
        r.sock.sendall(b"a APPEND INBOX {%d}\r\n" % len(body))
        line = r.line()
        self.assertTrue(line.startswith("a BAD [TOOBIG]") or line.startswith("a NO [TOOBIG]"), line)
        # LITERAL+: the octets arrive anyway and are skipped exactly; the session goes on.
        r.sock.sendall(b"b APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
        line = r.line()
        self.assertTrue(line.startswith("b BAD [TOOBIG]") or line.startswith("b NO [TOOBIG]"), line)
        _, done = r.command("n", "NOOP")
        self.assertEqual(done, "n OK NOOP completed.")
        self.assertEqual(self.messages(r), before)
        # Just under the limit is stored.
        ok = b"Subject: fits\r\n\r\n" + b"z" * (60 * 1024) + b"\r\n"
        _, done = r.command("c", b"c APPEND INBOX {%d+}\r\n" % len(ok) + ok + b"\r\n")
        self.assertTrue(done.startswith("c OK [APPENDUID"), done)
        self.assertEqual(self.messages(r), before + 1)
        r.close()

    def test_nesting_depth(self):
        r = self.login()
        r.command("s", "SELECT INBOX")
        _, done = r.command("a", "SEARCH (((ALL)))")
        self.assertTrue(done.startswith("a OK"), done)
        _, done = r.command("b", "SEARCH ((((((ALL))))))")
        self.assertTrue(done.startswith("b BAD [LIMIT]"), done)
        _, done = r.command("c", "NOOP")
        self.assertEqual(done, "c OK NOOP completed.")
        r.close()

    def test_too_many_bad_commands_end_the_session(self):
        r = self.login()
        for i in range(3):
            _, done = r.command(f"x{i}", "FROBNICATE")
            self.assertTrue(done.startswith(f"x{i} BAD"), done)
        r.send("x3 FROBNICATE")
        lines = [r.line(), r.line()]
        self.assertIn("* BYE Too many invalid commands.", lines)
        with self.assertRaises((ConnectionError, OSError)):
            r.line(timeout=5)
        r.close()


if __name__ == "__main__":
    unittest.main()
