"""test_imap_extensions.py - SEARCHRES (RFC 5182), QUOTA (RFC 9208) and the advertised
capabilities after login, against real imapd + lmtpd + metad + PostgreSQL + slapd.

- SEARCH RETURN (SAVE) keeps the result for "$" without an ESEARCH answer; FETCH $,
  UID STORE $, SEARCH $ and COPY $ act on exactly the saved messages; SAVE with MIN/MAX
  keeps only those; a failed SEARCH ... SAVE empties "$"; messages expunged since
  drop out of "$"; SELECT forgets it.
- COMPRESS=DEFLATE (RFC 4978): after "OK DEFLATE active" both directions are raw DEFLATE;
  commands, a FETCH of the message bytes, IDLE woken by a delivery, and a second COMPRESS
  (NO [COMPRESSIONACTIVE]) all work through the compressed stream.
- UTF8=ACCEPT (RFC 6855): after ENABLE, mailbox names go both ways in UTF-8 (LIST, SELECT,
  CREATE, STATUS, APPEND); a session without it keeps seeing modified UTF-7.
- IMAP4rev2 (RFC 9051) through ENABLE: SELECT without RECENT/UNSEEN but with a LIST of
  the mailbox, SEARCH answered with ESEARCH, UTF-8 mailbox names.
- GETQUOTAROOT / GETQUOTA report the directory's limits and metad's usage (STORAGE in
  KiB rounded up, MESSAGE count); an account without limits has no quota root.
"""
import re
import smtplib
import time
import unittest
import zlib

from pylib.imap_client import RawImap
from pylib.stack import Stack


def message(n):
    return (f"From: a@example.org\r\nTo: x@example.test\r\nSubject: {'even' if n % 2 == 0 else 'odd'} {n}\r\n"
            f"Message-ID: <ext{n}@example.org>\r\n\r\nbody {n}\r\n").encode()


class DeflatedImap:
    """The client side of COMPRESS=DEFLATE over a RawImap's socket (after the OK)."""

    def __init__(self, raw):
        self.sock = raw.sock
        assert raw.buf == b"", "nothing may follow the COMPRESS OK uncompressed"
        self.z = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.unz = zlib.decompressobj(-15)
        self.buf = b""

    def send(self, text):
        data = text if isinstance(text, bytes) else text.encode() + b"\r\n"
        self.sock.sendall(self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += self.unz.decompress(chunk)

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\}$", line)
        if m:  # a literal: return it inline, and the rest of the line
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            lit, self.buf = self.buf[:n], self.buf[n:]
            return line + b"\r\n" + lit + self.line()
        return line

    def command(self, tag, cmd):
        self.send(f"{tag} {cmd}")
        untagged = []
        while True:
            l = self.line()
            if l.startswith(tag.encode() + b" "):
                return untagged, l.decode()
            untagged.append(l)


class ImapExtensions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("imapext")
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd(imap__max_literal_size="5M")
        cls.user = st.add_user("quinn", password="pw", quota_bytes=10 * 1024 * 1024, quota_messages=100)
        cls.free = st.add_user("frank", password="pw")
        with smtplib.LMTP("127.0.0.1", cls.lmtpd.port) as lmtp:
            for n in range(1, 7):
                assert not lmtp.sendmail("a@example.org", [cls.user], message(n))
            assert not lmtp.sendmail("a@example.org", [cls.free], message(1))

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def session(self, user=None):
        r = RawImap(self.imapd.port)
        _, done = r.command("l", f'LOGIN "{user or self.user}" "pw"')
        self.assertTrue(done.startswith("l OK"), done)
        return r

    def ok(self, r, tag, cmd):
        untagged, done = r.command(tag, cmd)
        self.assertTrue(done.startswith(f"{tag} OK"), (cmd, done))
        return untagged

    def test_capabilities_after_login(self):
        r = self.session()
        caps = self.ok(r, "c", "CAPABILITY")[0].split()
        for cap in ("SEARCHRES", "SORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "QUOTA",
                    "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "BINARY", f"APPENDLIMIT={5 * 1024 * 1024}",
                    "ESEARCH", "CONDSTORE", "QRESYNC", "IDLE", "MOVE", "UIDPLUS"):
            self.assertIn(cap, caps)
        r.close()

    def test_searchres(self):
        r = self.session()
        self.ok(r, "s", "SELECT INBOX")
        # SAVE alone: no ESEARCH (and no SEARCH) response.
        self.assertEqual(self.ok(r, "a", "SEARCH RETURN (SAVE) SUBJECT even"), [])
        fetched = self.ok(r, "b", "FETCH $ (UID)")
        self.assertEqual(fetched, ["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)", "* 6 FETCH (UID 6)"])
        self.ok(r, "c", "UID STORE $ +FLAGS.SILENT (\\Flagged)")
        self.assertEqual(self.ok(r, "d", "SEARCH FLAGGED"), ["* SEARCH 2 4 6"])
        self.assertEqual(self.ok(r, "e", "UID SEARCH $ SUBJECT 4"), ["* SEARCH 4"])
        # SAVE with MIN and MAX: the answer has both, and only those two are saved.
        untagged = self.ok(r, "f", "SEARCH RETURN (SAVE MIN MAX) SUBJECT even")
        self.assertEqual(untagged, ['* ESEARCH (TAG "f") MIN 2 MAX 6'])
        self.assertEqual(self.ok(r, "g", "UID FETCH $ (UID)"), ["* 2 FETCH (UID 2)", "* 6 FETCH (UID 6)"])
        # COPY $ copies exactly the saved messages.
        untagged, done = r.command("h", "COPY $ Archive")
        self.assertRegex(done, r"^h OK \[COPYUID \d+ 2,6 1:2\]")
        # A message expunged since the SAVE drops out of "$".
        self.ok(r, "i", "UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        self.ok(r, "j", "EXPUNGE")
        self.assertEqual(self.ok(r, "k", "UID FETCH $ (UID)"), ["* 5 FETCH (UID 6)"])
        # A failed SEARCH ... SAVE leaves "$" empty.
        _, done = r.command("m", "SEARCH RETURN (SAVE) CHARSET KOI8-R SUBJECT x")
        self.assertTrue(done.startswith("m NO [BADCHARSET"), done)
        self.assertEqual(self.ok(r, "n", "FETCH $ (UID)"), [])
        # SELECT forgets the saved result.
        self.ok(r, "o", "SEARCH RETURN (SAVE) ALL")
        self.ok(r, "p", "SELECT INBOX")
        self.assertEqual([l for l in self.ok(r, "q", "FETCH $ (UID)") if "FETCH" in l], [])
        r.close()

    def test_compress_deflate(self):
        r = self.session(self.free)
        self.assertIn("COMPRESS=DEFLATE", self.ok(r, "c", "CAPABILITY")[0])
        _, done = r.command("z", "COMPRESS DEFLATE")
        self.assertEqual(done, "z OK DEFLATE active.")
        z = DeflatedImap(r)
        untagged, done = z.command("a", "CAPABILITY")
        self.assertTrue(done.startswith("a OK"), done)
        self.assertNotIn(b"COMPRESS=DEFLATE", untagged[0])
        _, done = z.command("b", "COMPRESS DEFLATE")
        self.assertTrue(done.startswith("b NO [COMPRESSIONACTIVE]"), done)
        _, done = z.command("s", "SELECT INBOX")
        self.assertTrue(done.startswith("s OK"), done)
        stored = self.stack.message_bytes(self.free, 1)
        untagged, done = z.command("f", "FETCH 1 (BODY.PEEK[])")
        self.assertEqual(untagged, [b"* 1 FETCH (BODY[] {%d}\r\n" % len(stored) + stored + b")"])
        # IDLE through the compressed stream, woken by a delivery.
        z.send("i IDLE")
        self.assertTrue(z.line().startswith(b"+ "))
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            self.assertFalse(lmtp.sendmail("a@example.org", [self.free], message(99)))
        self.assertEqual(z.line(), b"* 2 EXISTS")
        z.send("DONE")
        self.assertEqual(z.line(), b"i OK IDLE terminated.")
        _, done = z.command("o", "LOGOUT")
        self.assertTrue(done.startswith("o OK"), done)
        r.close()

    def test_utf8_accept(self):
        plain = self.session(self.free)
        self.ok(plain, "c", 'CREATE "Entw&APw-rfe"')
        self.assertIn("UTF8=ACCEPT", self.ok(plain, "k", "CAPABILITY")[0])
        utf8 = self.session(self.free)
        self.assertEqual(self.ok(utf8, "e", "ENABLE UTF8=ACCEPT"), ["* ENABLED UTF8=ACCEPT"])
        listed = self.ok(utf8, "l", 'LIST "" "Entw*"')
        self.assertEqual(listed, ['* LIST (\\HasNoChildren) "/" "Entwürfe"'])
        self.ok(utf8, "c", 'CREATE "Größe"')
        self.assertEqual(self.ok(utf8, "t", 'STATUS "Größe" (MESSAGES)'), ['* STATUS "Größe" (MESSAGES 0)'])
        msg = b"Subject: umlaut\r\n\r\nx\r\n"
        untagged, done = utf8.command("a", b'a APPEND "Gr\xc3\xb6\xc3\x9fe" {%d+}\r\n%s\r\n' % (len(msg), msg))
        self.assertTrue(done.startswith("a OK [APPENDUID"), done)
        untagged = self.ok(utf8, "s", 'SELECT "Größe"')
        self.assertIn("* 1 EXISTS", untagged)
        # The other session still reads modified UTF-7.
        listed = self.ok(plain, "m", 'LIST "" "Gr*"')
        self.assertEqual(listed, ['* LIST (\\HasNoChildren) "/" Gr&APYA3w-e'])
        # Modified UTF-7 sent by a UTF-8 client is just a name with '&' in it.
        _, done = utf8.command("x", 'SELECT "Entw&APw-rfe"')
        self.assertTrue(done.startswith("x NO"), done)
        plain.close()
        utf8.close()

    def test_imap4rev2(self):
        r = RawImap(self.imapd.port, read_greeting=False)
        self.assertIn("IMAP4rev2", r.line())
        _, done = r.command("l", f'LOGIN "{self.user}" "pw"')
        self.assertTrue(done.startswith("l OK"), done)
        # rev1 until enabled.
        untagged = self.ok(r, "s", "SELECT INBOX")
        self.assertIn("* 0 RECENT", untagged)
        self.assertEqual(self.ok(r, "q", "SEARCH SUBJECT odd"), ["* SEARCH 1 3 5"])
        self.ok(r, "u", "UNSELECT")
        self.assertEqual(self.ok(r, "e", "ENABLE IMAP4rev2"), ["* ENABLED IMAP4rev2"])
        untagged = self.ok(r, "s2", "SELECT INBOX")
        self.assertFalse([l for l in untagged if "RECENT" in l or "[UNSEEN" in l], untagged)
        self.assertIn('* LIST (\\HasNoChildren) "/" INBOX', untagged)
        self.assertEqual(self.ok(r, "q2", "SEARCH SUBJECT odd"), ['* ESEARCH (TAG "q2") ALL 1,3,5'])
        self.assertEqual(self.ok(r, "q3", "UID SEARCH SUBJECT nothing-matches"), ['* ESEARCH (TAG "q3") UID'])
        self.ok(r, "c", 'CREATE "Ünïcode"')
        self.assertEqual(self.ok(r, "li", 'LIST "" "Ü*"'), ['* LIST (\\HasNoChildren) "/" "Ünïcode"'])
        r.close()

    def test_quota(self):
        r = self.session()
        sizes = [m["size"] for m in self.stack.messages(self.user)]
        used_kib = (sum(sizes) + 1023) // 1024
        untagged = self.ok(r, "a", "GETQUOTAROOT INBOX")
        self.assertEqual(untagged, ['* QUOTAROOT INBOX ""',
                                    f'* QUOTA "" (STORAGE {used_kib} 10240 MESSAGE {len(sizes)} 100)'])
        self.assertEqual(self.ok(r, "b", 'GETQUOTA ""'),
                         [f'* QUOTA "" (STORAGE {used_kib} 10240 MESSAGE {len(sizes)} 100)'])
        _, done = r.command("c", 'GETQUOTA "other"')
        self.assertTrue(done.startswith("c NO [NONEXISTENT]"), done)
        _, done = r.command("d", "GETQUOTAROOT NoSuchBox")
        self.assertTrue(done.startswith("d NO [NONEXISTENT]"), done)
        r.close()
        # Without limits: no quota root.
        r = self.session(self.free)
        self.assertEqual(self.ok(r, "e", "GETQUOTAROOT INBOX"), ["* QUOTAROOT INBOX"])
        _, done = r.command("f", 'GETQUOTA ""')
        self.assertTrue(done.startswith("f NO"), done)
        r.close()
        # Limits changed in the directory reach metad at the next login (imapd reads the
        # account and writes only when the limits differ).
        self.stack.ctl("user", "quota", self.free, "--bytes", str(2048 * 1024), "--messages", "7")
        time.sleep(1.2)  # the directory cache's TTL in the test stack (1 s)
        r = self.session(self.free)
        untagged = self.ok(r, "g", "GETQUOTAROOT INBOX")
        self.assertEqual(len(untagged), 2, untagged)
        self.assertRegex(untagged[1], r'^\* QUOTA "" \(STORAGE \d+ 2048 MESSAGE \d+ 7\)$')
        r.close()
        self.stack.ctl("user", "quota", self.free, "--bytes", "0", "--messages", "0")
        time.sleep(1.2)


if __name__ == "__main__":
    unittest.main()
