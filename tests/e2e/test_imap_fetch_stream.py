"""test_imap_fetch_stream.py - large bodies are streamed from the blob store.

A 2.9 MB message is delivered over LMTP; FETCH BODY.PEEK[], BODY[]<partial>, RFC822 (which
sets \\Seen) and a mixed item list return exactly the stored bytes, with the other items
in order, and imapd's columba_imapd_fetch_bodies_total{mode="streamed"} counts each
(the chunked path ran: imapd never held the whole message). A small message below
imap.fetch_stream_threshold takes the buffered path and is not counted.
"""
import re
import smtplib
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack


def big_message():
    lines = [b"From: big@example.org", b"To: x@example.test", b"Subject: large one", b""]
    lines += [(b"line %06d " % i) + b"x" * 60 for i in range(40000)]
    return b"\r\n".join(lines) + b"\r\n"


class LiteralReader(RawImap):
    def response(self, tag, data):
        """Sends a command; returns (raw bytes of everything before the tagged line, tagged line)."""
        self.sock.sendall(f"{tag} {data}\r\n".encode())
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            line, rest = self.buf.split(b"\r\n", 1)
            m = re.search(rb"\{(\d+)\}$", line)
            if m:
                n = int(m.group(1))
                while len(rest) < n:
                    chunk = self.sock.recv(1 << 20)
                    if not chunk:
                        raise ConnectionError("closed")
                    rest += chunk
                out += line + b"\r\n" + rest[:n]
                self.buf = rest[n:]
                continue
            self.buf = rest
            if line.startswith(tag.encode() + b" "):
                return out, line.decode()
            out += line + b"\r\n"


class ImapFetchStream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("imapstream")
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()
        cls.user = st.add_user("sue", password="pw")
        cls.big = big_message()
        cls.small = b"From: a@example.org\r\nSubject: small\r\n\r\nhi\r\n"
        with smtplib.LMTP("127.0.0.1", cls.lmtpd.port) as lmtp:
            assert not lmtp.sendmail("big@example.org", [cls.user], cls.big)
            assert not lmtp.sendmail("a@example.org", [cls.user], cls.small)
        cls.stored = st.message_bytes(cls.user, 1)  # with Return-Path / Delivered-To

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def streamed(self):
        _, text = self.imapd.http("/metrics")
        m = re.search(r'columba_imapd_fetch_bodies_total\{mode="streamed"\} (\d+)', text)
        return int(m.group(1)) if m else 0

    def test_large_bodies_are_streamed_byte_exact(self):
        stored = self.stored
        self.assertGreater(len(stored), 2_900_000)
        self.assertTrue(stored.endswith(self.big))
        r = LiteralReader(self.imapd.port)
        r.command("l", f'LOGIN "{self.user}" "pw"')
        r.command("s", "SELECT INBOX")
        before = self.streamed()

        out, done = r.response("a", "FETCH 1 (UID BODY.PEEK[] RFC822.SIZE)")
        self.assertEqual(done, "a OK Fetch completed.")
        self.assertEqual(out, b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(stored) + stored +
                         b" RFC822.SIZE %d)\r\n" % len(stored))

        out, done = r.response("b", "UID FETCH 1 (BODY.PEEK[]<1000.5000>)")
        self.assertEqual(out, b"* 1 FETCH (UID 1 BODY[]<1000> {5000}\r\n" + stored[1000:6000] + b")\r\n")

        # Past the end: an empty literal.
        out, _ = r.response("c", "FETCH 1 (BODY.PEEK[]<9999999.10>)")
        self.assertEqual(out, b"* 1 FETCH (BODY[]<9999999> {0}\r\n)\r\n")

        # RFC822 sets \Seen and reports the new flags after the body.
        out, done = r.response("d", "FETCH 1 (RFC822)")
        self.assertEqual(done, "d OK Fetch completed.")
        self.assertTrue(out.startswith(b"* 1 FETCH (RFC822 {%d}\r\n" % len(stored) + stored + b" FLAGS ("), out[-80:])
        self.assertIn(b"\\Seen", out[-40:])
        self.assertEqual(self.streamed() - before, 4)

        # A small message is served from memory (not counted), bytes equal all the same.
        small = self.stack.message_bytes(self.user, 2)
        out, _ = r.response("e", "FETCH 2 (BODY.PEEK[])")
        self.assertEqual(out, b"* 2 FETCH (BODY[] {%d}\r\n" % len(small) + small + b")\r\n")
        self.assertEqual(self.streamed() - before, 4)
        r.close()


if __name__ == "__main__":
    unittest.main()
