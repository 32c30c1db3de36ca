"""test_pop3.py - columba-pop3d end to end (issue 6) with Python's poplib and a raw
client: CAPA, every login path and its refusals, STAT/LIST/UIDL/TOP/RETR against
known messages (dot-stuffing checked byte for byte), UIDLs equal to what IMAP shows,
DELE+RSET, QUIT deletes, a dropped session deletes nothing, [IN-USE] across two
pop3d processes, lease expiry after kill -9, fail-closed locking with Redis gone,
POP-before-SMTP through a real smtpd, implicit TLS, STLS, pipelining and the limits.

Real metad + lmtpd + pop3d replicas sharing one Redis. 127.0.0.1 is the trusted
network; 127.0.0.2-127.0.0.9 play outside clients.
"""
import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from pylib.sasl import ScramClient, b64
from pylib.stack import Stack, dot_stuff

DOTS = (b"From: Dot <dot@example.org>\r\nSubject: dots\r\nMessage-ID: <d1@example.org>\r\n\r\n"
        b".leading dot\r\n..two dots\r\n.\r\nmiddle . line\r\n.\r\nlast line\r\n")
PLAIN = (b"From: Alice <alice@example.org>\r\nSubject: plain one\r\nMessage-ID: <p1@example.org>\r\n\r\n"
         b"line 1\r\nline 2\r\nline 3\r\n")
MULTI = (b"From: Carol <carol@example.org>\r\nSubject: multipart\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
         b"part one\r\n--b1--\r\n")
KNOWN = [PLAIN, DOTS, MULTI]


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A line-level POP3 client bound to a chosen source address."""

    def __init__(self, port, source="127.0.0.1", tls=False, greet=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(source, 0))
        if tls:
            self.s = tls_context().wrap_socket(self.s)
        self.f = self.s.makefile("rb")
        self.greeting = self.line() if greet else None

    def line(self):
        raw = self.f.readline()
        if not raw:
            raise ConnectionError("server closed the connection")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        """The raw bytes of a multi-line body after its +OK line, terminator included."""
        out = b""
        while not out.endswith(b"\r\n.\r\n") and out != b".\r\n":
            chunk = self.f.readline()
            if not chunk:
                raise ConnectionError("closed inside a multi-line response")
            out += chunk
        return out

    def starttls(self):
        assert self.cmd("STLS").startswith("+OK")
        self.s = tls_context().wrap_socket(self.s)
        self.f = self.s.makefile("rb")

    def closed(self):
        try:
            return self.f.readline() == b""
        except OSError:
            return True

    def close(self):
        self.f.close()  # the file object holds the socket open too
        self.s.close()


class Pop3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("pop3", plain_passwords=True)
        cert, key = os.path.join(st.dir, "pop.crt"), os.path.join(st.dir, "pop.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=pop.test"], check=True, capture_output=True, timeout=60)
        cls.tls = (cert, key)
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.common = dict(pop3__auth_failure_delay="100ms", pop3__auth_penalty_base="100ms",
                          pop3__auth_penalty_max="300ms", auth__allow_plain_passwords="true",
                          pop3__auth_mechanisms=["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"])
        cls.a = st.start_pop3d("pop3d-a", tls=cls.tls, **cls.common)
        cls.b = st.start_pop3d("pop3d-b", tls=cls.tls, **cls.common)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    # -- helpers

    def user(self, messages=KNOWN, scheme=None, password="pop-pw"):
        """A fresh user with `messages` delivered through lmtpd."""
        Pop3.n += 1
        kw = {"scheme": scheme} if scheme else {}
        addr = self.stack.add_user(f"u{Pop3.n}", password, **kw)
        if messages:
            with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
                for m in messages:
                    self.assertFalse(lmtp.sendmail("sender@example.org", [addr], m))
        return addr

    def stored(self, addr):
        """The stored bytes of each message (lmtpd adds Return-Path and Received)."""
        return [self.stack.message_bytes(addr, row["uid"]) for row in self.stack.messages(addr)]

    def raw(self, port, source="127.0.0.1", **kw):
        r = Raw(port, source, **kw)
        self.addCleanup(r.close)
        return r

    def pop(self, port=None, user=None, password="pop-pw"):
        c = poplib.POP3("127.0.0.1", port or self.a.port, timeout=15)
        self.addCleanup(c.close)
        if user:
            c.user(user)
            c.pass_(password)
        return c

    def login_raw(self, port, user, password="pop-pw", source="127.0.0.1"):
        r = self.raw(port, source)
        self.assertTrue(r.cmd(f"USER {user}").startswith("+OK"))
        return r, r.cmd(f"PASS {password}")

    # -- CAPA and the login paths

    def test_capa_lists_the_extensions(self):
        caps = self.pop().capa()
        for cap in ("TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "USER", "STLS", "IMPLEMENTATION"):
            self.assertIn(cap, caps)
        self.assertEqual(caps["SASL"], ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"])
        self.assertEqual(caps["EXPIRE"], ["NEVER"])
        self.assertNotIn("LOGIN-DELAY", caps)  # not configured

    def test_capa_outside_trusted_networks_hides_plaintext_logins_until_tls(self):
        r = self.raw(self.a.port, "127.0.0.2")
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))
        caps = r.multi().decode()
        self.assertNotIn("USER\r\n", caps)
        self.assertIn("SASL CRAM-MD5 SCRAM-SHA-256\r\n", caps)
        self.assertIn("STLS\r\n", caps)
        r.starttls()
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))
        caps = r.multi().decode()
        self.assertIn("USER\r\n", caps)
        self.assertIn("SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n", caps)
        self.assertNotIn("STLS", caps)

    def test_plaintext_logins_refused_outside_trusted_networks_then_allowed_after_stls(self):
        u = self.user([])
        r = self.raw(self.a.port, "127.0.0.2")
        self.assertTrue(r.cmd(f"USER {u}").startswith("-ERR [AUTH] Plaintext"))
        self.assertTrue(r.cmd(f"PASS pop-pw").startswith("-ERR [AUTH] Plaintext"))
        plain = b64(f"\0{u}\0pop-pw")
        self.assertTrue(r.cmd(f"AUTH PLAIN {plain}").startswith("-ERR [AUTH] Plaintext"))
        self.assertTrue(r.cmd("AUTH LOGIN").startswith("-ERR [AUTH] Plaintext"))
        r.starttls()
        self.assertTrue(r.cmd(f"USER {u}").startswith("+OK"))
        self.assertTrue(r.cmd("PASS pop-pw").startswith("+OK"), "USER/PASS after STLS")
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))

    def test_stls_drops_commands_pipelined_before_the_handshake(self):
        u = self.user([])
        r = self.raw(self.a.port, "127.0.0.2")
        r.send(f"STLS\r\nUSER {u}\r\n")
        self.assertTrue(r.line().startswith("+OK"))
        r.s = tls_context().wrap_socket(r.s)
        r.f = r.s.makefile("rb")
        self.assertTrue(r.cmd("PASS pop-pw").startswith("-ERR No USER"))

    def test_user_pass_and_wrong_or_unknown_credentials(self):
        u = self.user([])
        c = self.pop(user=u)
        self.assertEqual(c.stat(), (0, 0))
        c.quit()
        _, bad = self.login_raw(self.a.port, u, "wrong")
        _, unknown = self.login_raw(self.a.port, f"nobody@{self.stack.domain}", "wrong")
        self.assertEqual(bad, "-ERR [AUTH] Authentication failed.")
        self.assertEqual(unknown, bad)  # an unknown user is not told apart
        r = self.raw(self.a.port)
        self.assertTrue(r.cmd("PASS pop-pw").startswith("-ERR"))  # no USER first
        self.assertTrue(r.cmd("STAT").startswith("-ERR"))  # not logged in

    def test_auth_plain_login_cram_md5_and_scram(self):
        u = self.user([])
        r = self.raw(self.a.port)
        self.assertTrue(r.cmd("AUTH PLAIN " + b64(f"\0{u}\0pop-pw")).startswith("+OK"))
        r.cmd("QUIT")
        r = self.raw(self.a.port)  # PLAIN without initial response
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertTrue(r.cmd(b64(f"\0{u}\0pop-pw")).startswith("+OK"))
        r.cmd("QUIT")
        r = self.raw(self.a.port)
        self.assertEqual(base64.b64decode(r.cmd("AUTH LOGIN")[2:]), b"Username:")
        self.assertEqual(base64.b64decode(r.cmd(b64(u))[2:]), b"Password:")
        self.assertTrue(r.cmd(b64("pop-pw")).startswith("+OK"))
        r.cmd("QUIT")
        r = self.raw(self.a.port)  # aborted exchange
        r.cmd("AUTH LOGIN")
        self.assertTrue(r.cmd("*").startswith("-ERR"))
        # CRAM-MD5 needs the stored plain password.
        cram = self.user([], scheme="PLAIN", password="cram-pw")
        r = self.raw(self.a.port)
        challenge = base64.b64decode(r.cmd("AUTH CRAM-MD5")[2:])
        digest = hmac.new(b"cram-pw", challenge, hashlib.md5).hexdigest()
        self.assertTrue(r.cmd(b64(f"{cram} {digest}")).startswith("+OK"))
        r.cmd("QUIT")
        r = self.raw(self.a.port)  # an argon2 account proves nothing with CRAM-MD5
        challenge = base64.b64decode(r.cmd("AUTH CRAM-MD5")[2:])
        digest = hmac.new(b"pop-pw", challenge, hashlib.md5).hexdigest()
        self.assertEqual(r.cmd(b64(f"{u} {digest}")), "-ERR [AUTH] Authentication failed.")
        scram = self.user([], scheme="SCRAM-SHA-256", password="scram-pw")
        for password, ok in (("scram-pw", True), ("wrong", False)):
            r = self.raw(self.a.port)
            sc = ScramClient(scram, password)
            server_first = base64.b64decode(r.cmd("AUTH SCRAM-SHA-256 " + b64(sc.first()))[2:]).decode()
            reply = r.cmd(b64(sc.final(server_first)))
            if ok:
                self.assertEqual(base64.b64decode(reply[2:]).decode(), sc.expected_server_final)
                self.assertTrue(r.cmd("").startswith("+OK"))
            else:
                self.assertEqual(reply, "-ERR [AUTH] Authentication failed.")
            r.close()
        r = self.raw(self.a.port)
        self.assertTrue(r.cmd("AUTH DIGEST-MD5").startswith("-ERR"))
        self.assertTrue(r.cmd("AUTH").startswith("+OK"))
        self.assertEqual(r.multi(), b"PLAIN\r\nLOGIN\r\nCRAM-MD5\r\nSCRAM-SHA-256\r\n.\r\n")

    def test_apop_only_when_enabled_and_only_for_plain_secrets(self):
        plain_user = self.user([], scheme="PLAIN", password="apop-pw")
        other = self.user([], password="apop-pw")
        r = self.raw(self.a.port)  # off by default: no banner, APOP refused
        self.assertNotIn("<", r.greeting)
        self.assertTrue(r.cmd(f"APOP {plain_user} {'0' * 32}").startswith("-ERR"))
        apop = self.stack.start_pop3d("pop3d-apop", pop3__apop="true", **self.common)
        for who, ok in ((plain_user, True), (other, False)):
            r = self.raw(apop.port)
            banner = re.search(r"<[^>]+>", r.greeting).group(0)
            digest = hashlib.md5((banner + "apop-pw").encode()).hexdigest()
            reply = r.cmd(f"APOP {who} {digest}")
            self.assertEqual(reply.startswith("+OK"), ok, reply)
            r.close()

    def test_failures_are_counted_in_redis_and_delay_the_next_answer(self):
        u = self.user([])
        for _ in range(2):
            self.login_raw(self.a.port, u, "wrong")
        self.assertEqual(self.stack.redis("GET", f"cnt:authfail:user:{u}"), "2")
        t0 = time.monotonic()
        _, reply = self.login_raw(self.b.port, u, "wrong")  # the other replica sees the count
        self.assertEqual(reply, "-ERR [AUTH] Authentication failed.")
        self.assertGreaterEqual(time.monotonic() - t0, 0.2 + 0.1)  # penalty 2 failures + failure delay
        _, ok = self.login_raw(self.b.port, u, "pop-pw")
        self.assertTrue(ok.startswith("+OK"))
        self.assertEqual(self.stack.redis("GET", f"cnt:authfail:user:{u}"), "")  # reset by the success

    # -- the maildrop

    def test_stat_list_uidl_top_retr_against_known_messages(self):
        u = self.user()
        stored = self.stored(u)
        for m, original in zip(stored, KNOWN):
            self.assertTrue(m.endswith(original))
        c = self.pop(user=u)
        sizes = [len(m) for m in stored]
        self.assertEqual(c.stat(), (3, sum(sizes)))
        resp, listing, _ = c.list()
        self.assertEqual(listing, [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)])
        self.assertEqual(c.list(2), f"+OK 2 {sizes[1]}".encode())
        for i, m in enumerate(stored):
            _, lines, octets = c.retr(i + 1)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", m)
        _, lines, _ = c.top(2, 0)
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", stored[1].split(b"\r\n\r\n")[0] + b"\r\n\r\n")
        _, lines, _ = c.top(2, 2)
        self.assertEqual(lines[-2:], [b".leading dot", b"..two dots"])
        with self.assertRaises(poplib.error_proto):
            c.retr(4)
        c.quit()

    def test_dot_stuffing_is_exact_on_the_wire(self):
        u = self.user()
        dots = self.stored(u)[1]
        r, ok = self.login_raw(self.a.port, u)
        self.assertTrue(ok.startswith("+OK"))
        self.assertEqual(r.cmd("RETR 2"), f"+OK {len(dots)} octets")
        self.assertEqual(r.multi(), dot_stuff(dots))
        self.assertTrue(r.cmd("TOP 2 3").startswith("+OK"))
        head, body = dots.split(b"\r\n\r\n", 1)
        expected = head + b"\r\n\r\n" + b"".join(l + b"\r\n" for l in body.split(b"\r\n")[:3])
        self.assertEqual(r.multi(), dot_stuff(expected))

    def test_uidls_are_what_imap_shows_and_stable(self):
        u = self.user()
        imapd = self.stack.start_imapd(name="imapd-uidl")
        im = imaplib.IMAP4("127.0.0.1", imapd.port, timeout=15)
        im.login(u, "pop-pw")
        im.select("INBOX")
        uidvalidity = int(im.response("UIDVALIDITY")[1][0])
        _, data = im.uid("FETCH", "1:*", "(UID)")
        uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
        im.logout()
        c = self.pop(user=u)
        _, listing, _ = c.uidl()
        expected = [f"{i + 1} {uid:08X}{uidvalidity:08X}".encode() for i, uid in enumerate(uids)]
        self.assertEqual(listing, expected)
        self.assertEqual(len(set(listing)), 3)
        self.assertEqual(c.uidl(3), b"+OK " + expected[2])
        c.dele(1)
        c.quit()
        c = self.pop(user=u)  # the survivors keep their UIDLs; numbering starts again at 1
        _, listing, _ = c.uidl()
        self.assertEqual([l.split()[1] for l in listing], [e.split()[1] for e in expected[1:]])
        c.quit()

    def test_dele_marks_rset_unmarks_and_quit_deletes(self):
        u = self.user()
        stored = self.stored(u)
        c = self.pop(user=u)
        c.dele(1)
        self.assertEqual(c.stat(), (2, len(stored[1]) + len(stored[2])))
        with self.assertRaises(poplib.error_proto):
            c.retr(1)
        with self.assertRaises(poplib.error_proto):
            c.dele(1)
        self.assertEqual(len(self.stack.messages(u)), 3)  # DELE only marks
        c.rset()
        self.assertEqual(c.stat()[0], 3)
        c.dele(1)
        c.dele(3)
        c.quit()
        rows = self.stack.messages(u)
        self.assertEqual([r["subject"] for r in rows], ["dots"])

    def test_a_dropped_session_deletes_nothing(self):
        u = self.user()
        r, ok = self.login_raw(self.a.port, u)
        for i in (1, 2, 3):
            self.assertTrue(r.cmd(f"DELE {i}").startswith("+OK"))
        r.close()
        time.sleep(0.3)
        self.assertEqual(len(self.stack.messages(u)), 3)
        c = self.pop(user=u)  # and the lock went with the session
        self.assertEqual(c.stat()[0], 3)
        c.quit()

    def test_pipelined_commands_are_all_answered_in_order(self):
        u = self.user()
        stored = self.stored(u)
        r, ok = self.login_raw(self.a.port, u)
        r.send("STAT\r\nLIST 1\r\nUIDL 1\r\nNOOP\r\nRETR 3\r\nQUIT\r\n")
        self.assertTrue(r.line().startswith("+OK 3 "))
        self.assertEqual(r.line(), f"+OK 1 {len(stored[0])}")
        self.assertTrue(r.line().startswith("+OK 1 "))
        self.assertEqual(r.line(), "+OK")
        self.assertTrue(r.line().startswith("+OK"))
        self.assertEqual(r.multi(), dot_stuff(stored[2]))
        self.assertTrue(r.line().startswith("+OK"))

    def test_large_message_streams_exactly(self):
        body = b"".join((b"." if i % 3 == 0 else b"") + f"line {i} ".encode() + b"x" * 70 + b"\r\n"
                        for i in range(40000))
        big = b"From: big@example.org\r\nSubject: big\r\n\r\n" + body
        u = self.user([big])
        stored = self.stored(u)[0]
        self.assertTrue(stored.endswith(big))
        r, ok = self.login_raw(self.a.port, u)
        self.assertEqual(r.cmd("RETR 1"), f"+OK {len(stored)} octets")
        self.assertEqual(r.multi(), dot_stuff(stored))
        self.assertTrue(r.cmd("TOP 1 2").startswith("+OK"))
        head = stored[:len(stored) - len(body)]
        self.assertEqual(r.multi(), dot_stuff(head + b"\r\n".join(body.split(b"\r\n")[:2]) + b"\r\n"))

    # -- locking

    def test_second_session_gets_in_use_on_another_replica(self):
        u = self.user()
        first = self.pop(user=u)
        r, reply = self.login_raw(self.b.port, u)
        self.assertEqual(reply, "-ERR [IN-USE] Maildrop is locked by another session.")
        self.assertTrue(r.cmd("STAT").startswith("-ERR"))  # still not logged in
        first.quit()
        c = self.pop(self.b.port, user=u)
        self.assertEqual(c.stat()[0], 3)
        c.quit()

    def test_lock_of_a_killed_replica_expires_after_the_lease(self):
        u = self.user()
        doomed = self.stack.start_pop3d("pop3d-doomed", pop3__lock_lease="2s", **self.common)
        r, ok = self.login_raw(doomed.port, u)
        self.assertTrue(ok.startswith("+OK"))
        time.sleep(1.5)  # one renewal (lease/3) has run
        r.cmd("DELE 1")
        doomed.kill()
        _, reply = self.login_raw(self.a.port, u)
        self.assertTrue(reply.startswith("-ERR [IN-USE]"), reply)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            c, reply = self.login_raw(self.a.port, u)
            if reply.startswith("+OK"):
                break
            time.sleep(0.25)
        self.assertTrue(reply.startswith("+OK"), "the lease never expired")
        self.assertEqual(c.cmd("STAT").split()[1], "3")  # the killed session deleted nothing

    def test_a_session_that_lost_its_lock_deletes_nothing(self):
        u = self.user()
        short = self.stack.start_pop3d("pop3d-lost", pop3__lock_lease="2s", **self.common)
        first, ok = self.login_raw(short.port, u)
        self.assertTrue(ok.startswith("+OK"))
        self.assertTrue(first.cmd("DELE 1").startswith("+OK"))
        # The lock vanishes (as after a Redis failover) and another session takes the maildrop.
        self.assertEqual(self.stack.redis("DEL", f"lock:pop3:{u}"), "1")
        time.sleep(1.2)  # a renewal (every lease/3) has found the lock gone
        second, ok = self.login_raw(self.a.port, u)
        self.assertTrue(ok.startswith("+OK"), ok)
        self.assertTrue(first.cmd("QUIT").startswith("-ERR [SYS/TEMP]"))
        self.assertEqual(len(self.stack.messages(u)), 3)  # the first session deleted nothing
        self.assertTrue(second.cmd("QUIT").startswith("+OK"))

    def test_redis_down_fails_closed(self):
        u = self.user([])
        dead = self.stack.start_pop3d("pop3d-noredis", redis__uri="redis://127.0.0.1:1", **self.common)
        _, reply = self.login_raw(dead.port, u)
        self.assertTrue(reply.startswith("-ERR [SYS/TEMP]"), reply)

    # -- POP-before-SMTP

    def test_pop_before_smtp_opens_relaying_for_that_address_for_the_window(self):
        smtpd = self.stack.start_smtpd(self.lmtpd, name="smtpd-pbs")
        pbs = self.stack.start_pop3d("pop3d-pbs", pop3__pop_before_smtp_ttl="3s", pop3__allow_plaintext_auth="true",
                                     **self.common)
        u = self.user([])

        def relay(source):
            s = smtplib.SMTP("127.0.0.1", smtpd.port, source_address=(source, 0), timeout=15)
            try:
                s.ehlo("roaming.example")
                s.mail("x@client.example")
                return s.rcpt("far@elsewhere.example")[0]
            finally:
                s.close()

        self.assertEqual(relay("127.0.0.6"), 554)
        r, ok = self.login_raw(pbs.port, u, source="127.0.0.6")
        self.assertTrue(ok.startswith("+OK"))
        r.cmd("QUIT")
        self.assertEqual(self.stack.redis("GET", "pbs:127.0.0.6"), u)
        listed = self.popbeforesmtp_list()
        self.assertEqual(listed["127.0.0.6"][0], u)
        self.assertTrue(0 < listed["127.0.0.6"][1] <= 3)
        self.assertNotIn("127.0.0.7", listed)
        self.assertEqual(relay("127.0.0.6"), 250)
        self.assertEqual(relay("127.0.0.7"), 554)
        time.sleep(3.5)  # pop3.pop_before_smtp_ttl has passed
        self.assertEqual(relay("127.0.0.6"), 554)
        self.assertNotIn("127.0.0.6", self.popbeforesmtp_list())  # expired records are not listed
        # A trusted client writes no record.
        self.login_raw(pbs.port, u)[0].cmd("QUIT")
        self.assertEqual(self.stack.redis("GET", "pbs:127.0.0.1"), "")

    def popbeforesmtp_list(self):
        """{client: (user, seconds_left)} from `columbactl popbeforesmtp list` (this stack's Redis prefix)."""
        cfg = self.stack.write_config("columbactl-pbs", {"redis": {"uri": self.stack.env["COLUMBA_REDIS_URI"],
                                                                   "key_prefix": f'"{self.stack.redis_prefix}"'}})
        out = subprocess.run([self.stack.bin("columbactl"), "--config", cfg, "popbeforesmtp", "list"],
                             capture_output=True, timeout=30, check=True).stdout.decode()
        lines = out.splitlines()
        self.assertEqual(lines[0], "client\tuser\tseconds_left")
        return {l.split("\t")[0]: (l.split("\t")[1], int(l.split("\t")[2])) for l in lines[1:]}

    def test_pop_before_smtp_window_per_domain(self):
        pbs = self.stack.start_pop3d("pop3d-pbsdom", pop3__allow_plaintext_auth="true",
                                     pop3__pop_before_smtp_domain_ttl=[f"{self.stack.domain}=7s"], **self.common)
        u = self.user([])
        self.login_raw(pbs.port, u, source="127.0.0.4")[0].cmd("QUIT")
        ttl = int(self.stack.redis("PTTL", "pbs:127.0.0.4"))
        self.assertTrue(0 < ttl <= 7000, ttl)
        self.login_raw(self.a.port, u)[0].cmd("QUIT")  # the default (1200 s) elsewhere
        r = self.raw(pbs.port, "127.0.0.5", tls=False)
        r.cmd(f"USER {u}")
        r.cmd("PASS pop-pw")
        r.cmd("QUIT")
        self.assertGreater(int(self.stack.redis("PTTL", "pbs:127.0.0.5")), 0)

    def test_proxy_protocol_names_the_client_for_trust_and_pop_before_smtp(self):
        lb = self.stack.start_pop3d("pop3d-lb", pop3__proxy_networks=["127.0.0.1/32"],
                                    pop3__allow_plaintext_auth="true", **self.common)
        u = self.user([])
        r = self.raw(lb.port, greet=False)
        r.send("PROXY TCP4 192.0.2.9 127.0.0.1 40000 110\r\n")
        self.assertTrue(r.line().startswith("+OK"))
        self.assertTrue(r.cmd(f"USER {u}").startswith("+OK"))
        self.assertTrue(r.cmd("PASS pop-pw").startswith("+OK"))
        r.cmd("QUIT")
        # The record is for the client the load balancer named, not for the balancer.
        self.assertEqual(self.stack.redis("GET", "pbs:192.0.2.9"), u)
        self.assertEqual(self.stack.redis("GET", "pbs:127.0.0.1"), "")
        # From a load-balancer network a header is required.
        r = self.raw(lb.port, greet=False)
        r.send("USER nobody\r\n")
        self.assertTrue(r.closed())

    # -- TLS ports and limits

    def test_implicit_tls_port(self):
        u = self.user()
        c = poplib.POP3_SSL("127.0.0.1", self.a.tls_port, context=tls_context(), timeout=15)
        self.addCleanup(c.close)
        c.user(u)
        c.pass_("pop-pw")
        self.assertEqual(c.stat()[0], 3)
        self.assertNotIn("STLS", c.capa())
        c.quit()

    def test_poplib_stls(self):
        u = self.user()
        c = poplib.POP3("127.0.0.1", self.a.port, timeout=15)
        self.addCleanup(c.close)
        c.stls(context=tls_context())
        c.user(u)
        c.pass_("pop-pw")
        self.assertEqual(c.stat()[0], 3)
        c.quit()

    def test_long_lines_bad_commands_and_state_errors(self):
        r = self.raw(self.a.port)
        self.assertEqual(r.cmd("NOOP " + "x" * 2000), "-ERR Line too long.")
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))  # the session goes on
        r.multi()
        self.assertTrue(r.cmd("XYZZY").startswith("-ERR"))
        self.assertTrue(r.cmd("RETR 1").startswith("-ERR"))
        limited = self.stack.start_pop3d("pop3d-limits", pop3__max_bad_commands=3, pop3__idle_timeout="1s",
                                         pop3__max_commands=20, **self.common)
        r = self.raw(limited.port)
        for _ in range(3):
            self.assertTrue(r.cmd("BOGUS").startswith("-ERR"))
        self.assertTrue(r.cmd("BOGUS").startswith("-ERR"))
        self.assertTrue(r.line().startswith("-ERR Too many invalid commands"))
        self.assertTrue(r.closed())
        r = self.raw(limited.port)
        time.sleep(1.5)
        self.assertTrue(r.line().startswith("-ERR"))  # idle timeout
        self.assertTrue(r.closed())
        u = self.user([])
        r, ok = self.login_raw(limited.port, u)
        for _ in range(18):
            self.assertEqual(r.cmd("NOOP"), "+OK")
        self.assertEqual(r.cmd("NOOP"), "-ERR Too many commands in one session.")
        self.assertTrue(r.closed())

    def test_login_delay_is_advertised_and_enforced(self):
        ld = self.stack.start_pop3d("pop3d-ld", pop3__login_delay="60s", pop3__expire="30", **self.common)
        caps = self.pop(ld.port).capa()
        self.assertEqual(caps["LOGIN-DELAY"], ["60"])
        self.assertEqual(caps["EXPIRE"], ["30"])
        u = self.user([])
        r, ok = self.login_raw(ld.port, u)
        self.assertTrue(ok.startswith("+OK"))
        r.cmd("QUIT")
        _, again = self.login_raw(ld.port, u)
        self.assertTrue(again.startswith("-ERR [LOGIN-DELAY]"), again)

    def test_metrics(self):
        u = self.user([])
        self.pop(user=u).quit()
        _, text = self.a.http("/metrics")
        for name in ("columba_pop3d_sessions_total", "columba_pop3d_logins_total", "columba_pop3d_commands_total",
                     "columba_pop3d_maildrop_locks_total"):
            self.assertIn(name, text)


if __name__ == "__main__":
    unittest.main()
