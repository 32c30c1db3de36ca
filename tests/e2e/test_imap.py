"""test_imap.py - columba-imapd end to end (first slice): real imapd + lmtpd + metad +
PostgreSQL + slapd, driven with Python's imaplib and a raw socket client.

Two messages are delivered over LMTP, then read back over IMAP (plaintext port from
127.0.0.1, a trusted network) and over IMAPS with a certificate made here; the bytes
of BODY.PEEK[] are compared with what metad and the blob store hold (columbactl
message get). An untrusted client (source address 127.0.0.2) sees LOGINDISABLED.
"""
import base64
import imaplib
import os
import re
import smtplib
import ssl
import subprocess
import time
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack

MSG1 = (b"From: Alice <alice@example.org>\r\n"
        b"To: Bob <bob@example.test>\r\n"
        b"Subject: first imap test\r\n"
        b"Message-ID: <imap1@example.org>\r\n"
        b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
        b"\r\n"
        b"Hello over IMAP.\r\n")
MSG2 = (b"From: Carol <carol@example.org>\r\n"
        b"To: Bob <bob@example.test>\r\n"
        b"Subject: second message\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
        b"\r\n"
        b"--b1\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"part one\r\n"
        b"--b1\r\n"
        b"Content-Type: text/html\r\n"
        b"\r\n"
        b"<p>part two</p>\r\n"
        b"--b1--\r\n")


class ImapFirstSlice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imap")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cert, key = os.path.join(st.dir, "imap.crt"), os.path.join(st.dir, "imap.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=imap.test"], check=True, capture_output=True)
        cls.imapd = st.start_imapd(tls=(cert, key), imap__auth_failure_delay="1s")
        cls.user = st.add_user("bob", password="imap-secret")
        with smtplib.LMTP("127.0.0.1", cls.lmtpd.port) as lmtp:
            for msg in (MSG1, MSG2):
                refused = lmtp.sendmail("alice@example.org", [cls.user], msg)
                assert not refused, refused
        cls.stored = st.messages(cls.user)
        assert len(cls.stored) == 2, cls.stored

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def login(self):
        c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        typ, _ = c.login(self.user, "imap-secret")
        self.assertEqual(typ, "OK")
        return c

    def test_greeting_and_capability(self):
        r = RawImap(self.imapd.port, read_greeting=False)
        greeting = r.line()
        self.assertTrue(greeting.startswith("* OK [CAPABILITY IMAP4rev1"), greeting)
        self.assertIn("Columba ready", greeting)
        untagged, done = r.command("a1", "CAPABILITY")
        self.assertEqual(done, "a1 OK Capability completed.")
        caps = untagged[0].split()[2:]
        for cap in ("IMAP4rev1", "LITERAL+", "ID", "UNSELECT", "SASL-IR", "AUTH=PLAIN", "STARTTLS"):
            self.assertIn(cap, caps)
        self.assertNotIn("LOGINDISABLED", caps)  # 127.0.0.1 is trusted
        _, done = r.command("a2", "FROBNICATE")
        self.assertTrue(done.startswith("a2 BAD"), done)
        _, done = r.command("a3", "SELECT INBOX")
        self.assertTrue(done.startswith("a3 BAD"), done)  # not logged in
        untagged, done = r.command("a4", 'ID ("name" "test")')
        self.assertEqual(untagged, ['* ID ("name" "Columba")'])
        untagged, done = r.command("a5", "LOGOUT")
        self.assertTrue(untagged[0].startswith("* BYE"))
        self.assertTrue(done.startswith("a5 OK"))
        r.close()

    def test_login_good_and_bad(self):
        c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        started = time.time()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            c.login(self.user, "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))
        self.assertGreaterEqual(time.time() - started, 0.9)  # the failure delay
        with self.assertRaises(imaplib.IMAP4.error):
            c.login(f"nobody@{self.stack.domain}", "imap-secret")
        typ, data = c.login(self.user, "imap-secret")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.state, "AUTH")
        c.logout()

    def test_authenticate_plain_with_and_without_initial_response(self):
        r = RawImap(self.imapd.port, read_greeting=False)
        r.line()
        blob = base64.b64encode(f"\0{self.user}\0imap-secret".encode()).decode()
        _, done = r.command("p1", f"AUTHENTICATE PLAIN {blob}")
        self.assertTrue(done.startswith("p1 OK"), done)
        r.close()
        r = RawImap(self.imapd.port, read_greeting=False)
        r.line()
        r.sock.sendall(b"p2 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        bad = base64.b64encode(f"\0{self.user}\0nope".encode()).decode()
        r.sock.sendall(bad.encode() + b"\r\n")
        self.assertTrue(r.line().startswith("p2 NO [AUTHENTICATIONFAILED]"))
        r.sock.sendall(b"p3 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.sock.sendall(b"*\r\n")
        self.assertTrue(r.line().startswith("p3 BAD"))
        r.close()

    def test_list_shows_inbox_and_special_use(self):
        c = self.login()
        typ, data = c.list('""', "*")
        self.assertEqual(typ, "OK")
        lines = [d.decode() for d in data]
        names = {l.rsplit(" ", 1)[1].strip('"'): l for l in lines}
        for name, attr in (("INBOX", None), ("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                           ("Junk", "\\Junk"), ("Archive", "\\Archive")):
            self.assertIn(name, names, lines)
            self.assertIn("\\HasNoChildren", names[name])
            if attr:
                self.assertIn(attr, names[name])
        self.assertIn('"/"', names["INBOX"])
        typ, data = c.list('""', "%")
        self.assertEqual(len(data), len(lines))
        typ, data = c.list('""', "inbox")
        self.assertEqual(len(data), 1)
        self.assertIn(b"INBOX", data[0])
        typ, data = c.list('""', '""')
        self.assertIn(b"\\Noselect", data[0])
        c.logout()

    def test_select_and_fetch(self):
        c = self.login()
        typ, data = c.select("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"2"])
        uidvalidity = c.untagged_responses.get("UIDVALIDITY")
        self.assertTrue(uidvalidity and int(uidvalidity[0]) > 0, c.untagged_responses)
        self.assertIn("READ-WRITE", c.untagged_responses)
        self.assertIn("UIDNEXT", c.untagged_responses)
        self.assertIn("HIGHESTMODSEQ", c.untagged_responses)

        typ, data = c.fetch("1:*", "(FLAGS UID RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), 2)
        for seq, (line, row) in enumerate(zip(data, self.stored), 1):
            line = line.decode()
            self.assertTrue(line.startswith(f"{seq} (FLAGS ("), line)
            self.assertIn(f"UID {row['uid']}", line)
            self.assertIn(f"RFC822.SIZE {row['size']}", line)
            self.assertNotIn("\\Seen", line)

        uid = self.stored[1]["uid"]
        typ, data = c.uid("FETCH", str(uid), "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertIn(f"UID {uid}".encode(), data[0][0])
        self.assertEqual(data[0][1], self.stack.message_bytes(self.user, uid))

        typ, data = c.fetch("1", "(ENVELOPE INTERNALDATE)")
        self.assertIn(b'"first imap test"', data[0])
        self.assertIn(b"INTERNALDATE \"", data[0])
        typ, data = c.fetch("2", "(BODYSTRUCTURE)")
        self.assertIn(b'"MIXED"', data[0].upper())
        typ, data = c.fetch("2", "(BODY.PEEK[1])")
        self.assertEqual(data[0][1], b"part one")
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(data[0][1], b"Subject: first imap test\r\n\r\n")
        typ, data = c.fetch("1", "(BODY.PEEK[]<0.4>)")
        self.assertEqual(data[0][1], self.stack.message_bytes(self.user, self.stored[0]["uid"])[:4])

        with self.assertRaises(imaplib.IMAP4.error):
            c.fetch("3", "(FLAGS)")  # beyond EXISTS
        typ, data = c.uid("FETCH", "999", "(FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [None])

        # A non-PEEK body fetch sets \Seen and reports it.
        typ, data = c.fetch("1", "(BODY[TEXT])")
        self.assertEqual(data[0][1], b"Hello over IMAP.\r\n")
        self.assertIn(b"\\Seen", data[0][0] + (data[1] if len(data) > 1 and isinstance(data[1], bytes) else b""))
        row = [r for r in self.stack.messages(self.user) if r["uid"] == self.stored[0]["uid"]][0]
        self.assertEqual(int(row["flags"].split("=")[1]) & 1, 1, row)  # FLAG_SEEN in metad

        typ, _ = c.unselect() if hasattr(c, "unselect") else c._simple_command("UNSELECT")
        self.assertEqual(typ, "OK")
        typ, data = c.select("Sent", readonly=True)
        self.assertEqual(data, [b"0"])
        self.assertIn("READ-ONLY", c.untagged_responses)
        typ, _ = c.close()
        self.assertEqual(typ, "OK")
        typ, data = c.select("NoSuchBox")
        self.assertEqual(typ, "NO")
        c.logout()

    def test_imaps_with_generated_certificate(self):
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        c = imaplib.IMAP4_SSL("127.0.0.1", self.imapd.tls_port, ssl_context=tls, timeout=15)
        self.assertNotIn("STARTTLS", c.capabilities)
        c.login(self.user, "imap-secret")
        typ, data = c.select("INBOX", readonly=True)
        self.assertEqual(data, [b"2"])
        uid = self.stored[0]["uid"]
        typ, data = c.uid("FETCH", str(uid), "(BODY.PEEK[])")
        self.assertEqual(data[0][1], self.stack.message_bytes(self.user, uid))
        c.logout()

    def test_starttls(self):
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        self.assertIn("STARTTLS", c.capabilities)
        typ, _ = c.starttls(ssl_context=tls)
        self.assertEqual(typ, "OK")
        typ, data = c.capability()
        self.assertNotIn(b"STARTTLS", data[0])
        c.login(self.user, "imap-secret")
        c.logout()

    def test_untrusted_client_gets_logindisabled(self):
        try:
            r = RawImap(self.imapd.port, source="127.0.0.2", read_greeting=False)
        except OSError as e:
            self.skipTest(f"cannot bind 127.0.0.2: {e}")
        greeting = r.line()
        self.assertIn("LOGINDISABLED", greeting)
        self.assertIn("STARTTLS", greeting)
        self.assertNotIn("AUTH=PLAIN", greeting)
        _, done = r.command("u1", f"LOGIN {self.user} imap-secret")
        self.assertTrue(done.startswith("u1 NO [PRIVACYREQUIRED]"), done)
        blob = base64.b64encode(f"\0{self.user}\0imap-secret".encode()).decode()
        _, done = r.command("u2", f"AUTHENTICATE PLAIN {blob}")
        self.assertTrue(done.startswith("u2 NO [PRIVACYREQUIRED]"), done)
        # After STARTTLS, login is allowed; bytes pipelined behind STARTTLS are dropped.
        r.sock.sendall(b"u3 STARTTLS\r\nu4 CAPABILITY\r\n")
        self.assertTrue(r.line().startswith("u3 OK"))
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        r.sock = tls.wrap_socket(r.sock)
        r.buf = b""
        untagged, done = r.command("u5", "CAPABILITY")
        self.assertEqual(len(untagged), 1, untagged)  # no answer to the injected u4
        self.assertIn("AUTH=PLAIN", untagged[0])
        self.assertNotIn("LOGINDISABLED", untagged[0])
        _, done = r.command("u6", f"LOGIN {self.user} imap-secret")
        self.assertTrue(done.startswith("u6 OK"), done)
        r.close()


if __name__ == "__main__":
    unittest.main()
