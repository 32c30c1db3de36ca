"""test_smtp_auth.py - smtpd's submission side and every relay grant end to end
(issue 5): STARTTLS and implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5/SCRAM-SHA-256 with
smtplib, swaks and by hand, the refusals (plaintext outside trusted networks, wrong
or unknown credentials, sender not owned), POP-before-SMTP opened by a real imapd
login, a client certificate from the configured CA, the PROXY protocol from a
load-balancer network, SMTP smuggling, BDAT, SMTPUTF8, DSN parameters and ETRN.

127.0.0.1 is the trusted network; 127.0.0.2 and 127.0.0.3 are outside clients.
A recipient the relay policy accepts for another domain is answered 250 (the
message then goes into the durable queue); a refused one is 554 5.7.1.
"""
import base64
import os
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from pylib.imap_client import RawImap
from pylib.sasl import ScramClient, b64
from pylib.smtp_client import Raw
from pylib.stack import Stack

MSG = (b"From: Bob <bob@example.org>\r\nTo: Carol\r\nSubject: submitted\r\n"
       b"Message-ID: <a1@example.org>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")
ALLOWED = 250  # relaying allowed by policy (see module doc)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d, client_cn):
    """A CA, a server certificate and a client certificate (CN=client_cn) signed by the
    CA, plus a second, self-signed client certificate the server must not trust."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=Columba Test CA", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.crt",
            "-days", "2", "-subj", "/CN=mx.test", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", f"/CN={client_cn}", cwd=d)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.crt", "-days", "2", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.crt",
            "-days", "2", "-subj", f"/CN={client_cn}", cwd=d)
    return {k: os.path.join(d, k) for k in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key",
                                             "rogue.crt", "rogue.key")}


def tls_context(cert=None, key=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def extensions(ehlo_reply):
    return [line[4:] for line in ehlo_reply]




class SmtpAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("smtpauth", plain_passwords=True)
        cls.pki = make_pki(st.dir, f"bob@{st.domain}")
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        tls = (cls.pki["server.crt"], cls.pki["server.key"], cls.pki["ca.crt"])
        cls.smtpd = st.start_smtpd(cls.lmtpd, tls=tls, smtp__auth_failure_delay="100ms",
                                   smtp__auth_penalty_base="100ms", smtp__auth_penalty_max="200ms",
                                   auth__allow_plain_passwords="true")
        cls.bob = st.add_user("bob", "bob-pw")
        cls.carol = st.add_user("carol", "carol-pw")
        cls.cram = st.add_user("cram", "cram-pw", scheme="PLAIN")
        cls.scram = st.add_user("scram", "scram-pw", scheme="SCRAM-SHA-256")
        st.ctl("alias", "add", f"bob.alias@{st.domain}", cls.bob)
        # carol takes the domain's unknown addresses: that routes mail, it names nobody
        # (logins as ghost@ below must still fail; carol may not send as them).
        st.ctl("alias", "add", f"@{st.domain}", cls.carol)

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def raw(self, port, source="127.0.0.1", **kw):
        r = Raw(port, source, **kw)
        self.addCleanup(r.close)
        return r

    def submit(self, source="127.0.0.1"):
        """smtplib on the submission port from `source`, after STARTTLS."""
        s = smtplib.SMTP("127.0.0.1", self.smtpd.submission_port, source_address=(source, 0), timeout=15)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        s.starttls(context=tls_context())
        s.ehlo("client.example")
        return s

    def delivered(self, address):
        return len(self.stack.messages(address))

    def last_message(self, address):
        rows = self.stack.messages(address)
        return self.stack.message_bytes(address, rows[-1]["uid"])

    # -- TLS and when AUTH is offered

    def test_auth_needs_tls_outside_trusted_networks(self):
        r = self.raw(self.smtpd.submission_port, "127.0.0.2")
        ehlo = extensions(r.cmd("EHLO outside.example"))
        self.assertIn("STARTTLS", ehlo)
        self.assertFalse([l for l in ehlo if "AUTH" in l], ehlo)
        self.assertEqual(r.cmd("AUTH PLAIN " + b64(f"\0{self.bob}\0bob-pw")),
                         ["538 5.7.11 Encryption required for requested authentication mechanism"])
        r.starttls(tls_context())
        ehlo = extensions(r.cmd("EHLO outside.example"))
        self.assertNotIn("STARTTLS", ehlo)
        self.assertIn("AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", " ".join(ehlo))
        # The trusted network may authenticate without TLS (no secret crosses the wire
        # outside it).
        trusted = self.raw(self.smtpd.submission_port)
        self.assertIn("AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", " ".join(trusted.cmd("EHLO inside.example")))

    def test_starttls_drops_pipelined_plaintext(self):
        r = self.raw(self.smtpd.submission_port, "127.0.0.2")
        r.cmd("EHLO outside.example")
        # A command injected after STARTTLS in the same packet must never run under TLS.
        r.send(b"STARTTLS\r\nRSET\r\n")
        self.assertEqual(r.reply(), ["220 2.0.0 Ready to start TLS"])
        r.s = tls_context().wrap_socket(r.s)
        r.f = r.s.makefile("rb")
        self.assertEqual(r.cmd("NOOP"), ["250 2.0.0 Ok"])  # the first reply under TLS is NOOP's, not RSET's
        self.assertEqual(r.cmd("MAIL FROM:<a@b.example>"), ["503 5.5.1 Send EHLO first"])

    def test_submission_port_requires_auth_even_from_trusted_networks(self):
        r = self.raw(self.smtpd.submission_port)
        r.cmd("EHLO inside.example")
        self.assertEqual(r.cmd(f"MAIL FROM:<{self.bob}>"), ["530 5.7.0 Authentication required"])

    # -- mechanisms

    def check_delivered_after_login(self, s, user):
        before = self.delivered(self.carol)
        self.assertEqual(s.sendmail(user, [self.carol], MSG), {})
        self.assertEqual(self.delivered(self.carol), before + 1)
        body = self.last_message(self.carol)
        self.assertIn(b"with ESMTPSA (TLSv1.", body)
        self.assertIn(f"(authenticated as {user})".encode(), body)

    def test_plain_and_login_with_smtplib(self):
        for mech in ("PLAIN", "LOGIN"):
            s = self.submit("127.0.0.2")
            s.user, s.password = self.bob, "bob-pw"
            code, text = s.auth(mech, getattr(s, "auth_" + mech.lower()))
            self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"), mech)
            self.check_delivered_after_login(s, self.bob)

    def test_cram_md5_only_where_a_plain_secret_is_stored(self):
        s = self.submit("127.0.0.2")
        s.user, s.password = self.cram, "cram-pw"
        self.assertEqual(s.auth("CRAM-MD5", s.auth_cram_md5)[0], 235)
        self.check_delivered_after_login(s, self.cram)
        # bob's password is hashed: CRAM-MD5 cannot prove it, the right password notwithstanding.
        s = self.submit("127.0.0.2")
        s.user, s.password = self.bob, "bob-pw"
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s.auth("CRAM-MD5", s.auth_cram_md5)
        self.assertEqual(e.exception.smtp_code, 535)

    def test_scram_sha_256_by_hand(self):
        r = self.raw(self.smtpd.submission_port, "127.0.0.2")
        r.cmd("EHLO outside.example")
        r.starttls(tls_context())
        r.cmd("EHLO outside.example")
        c = ScramClient(self.scram, "scram-pw")
        line = r.cmd("AUTH SCRAM-SHA-256 " + b64(c.first()))[0]
        self.assertTrue(line.startswith("334 "), line)
        line = r.cmd(b64(c.final(base64.b64decode(line[4:]).decode())))[0]
        self.assertTrue(line.startswith("334 "), line)
        self.assertEqual(base64.b64decode(line[4:]).decode(), c.expected_server_final)
        self.assertEqual(r.cmd(""), ["235 2.7.0 Authentication successful"])
        self.assertEqual(r.cmd(f"MAIL FROM:<{self.scram}>"), ["250 2.1.0 Ok"])

    def test_swaks_over_implicit_tls(self):
        before = self.delivered(self.carol)
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.smtpd.submissions_port),
                            "--tls-on-connect", "--auth", "LOGIN", "--auth-user", self.bob,
                            "--auth-password", "bob-pw", "--from", self.bob, "--to", self.carol,
                            "--helo", "swaks.example", "--header", "Subject: via swaks"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("235 2.7.0", r.stdout)
        self.assertEqual(self.delivered(self.carol), before + 1)
        self.assertIn(b"Subject: via swaks", self.last_message(self.carol))

    def test_failures_look_alike_and_are_counted_for_every_replica(self):
        replies = []
        for user, pw in ((self.bob, "wrong"), (f"ghost@{self.stack.domain}", "bob-pw")):
            s = self.submit("127.0.0.3")
            s.user, s.password = user, pw
            with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
                s.auth("PLAIN", s.auth_plain)
            replies.append((e.exception.smtp_code, e.exception.smtp_error))
        self.assertEqual(replies, [(535, b"5.7.8 Authentication credentials invalid")] * 2)
        self.assertGreaterEqual(int(self.stack.redis("GET", "cnt:authfail:ip:127.0.0.3") or 0), 2)
        self.assertGreaterEqual(int(self.stack.redis("GET", f"cnt:authfail:user:{self.bob}") or 0), 1)

    def test_authenticated_senders_use_their_own_addresses(self):
        s = self.submit("127.0.0.2")
        s.login(self.bob, "bob-pw")
        code, _ = s.mail(self.carol)
        self.assertEqual(code, 553)
        s.rset()
        for own in (self.bob, f"bob.alias@{self.stack.domain}", f"bob+lists@{self.stack.domain}", ""):
            code, text = s.mail(own)
            self.assertEqual(code, 250, (own, text))
            s.rset()
        # The catch-all's holder does not own every address of the domain.
        s = self.submit("127.0.0.2")
        s.login(self.carol, "carol-pw")
        self.assertEqual(s.mail(f"nobody-{os.getpid()}@{self.stack.domain}")[0], 553)

    # -- relay grants

    def rcpt_remote(self, r):
        self.assertEqual(r.cmd("MAIL FROM:<x@client.example>")[0][:3], "250")
        return int(r.cmd("RCPT TO:<far@elsewhere.example>")[0][:3])

    def test_authenticated_submission_to_a_remote_address_lands_in_the_queue(self):
        s = self.submit("127.0.0.2")
        s.login(self.bob, "bob-pw")
        s.mail(self.bob)
        self.assertEqual(s.rcpt("far@elsewhere.example")[0], ALLOWED)
        code, text = s.data(MSG)
        self.assertEqual(code, 250, text)
        queue_id = text.split()[-1].decode()
        row = [r for r in self.stack.queue() if r["id"] == queue_id]
        self.assertEqual(len(row), 1)
        self.assertEqual(row[0]["sender"], f"<{self.bob}>")
        show = self.stack.ctl("queue", "show", queue_id)
        self.assertIn(self.bob, show)  # the authenticated user is kept with the message
        self.assertIn("127.0.0.2", show)

    def test_pop_before_smtp_opens_relaying_for_that_address_only(self):
        imapd = self.stack.start_imapd(name="imapd_pbs", imap__pop_before_smtp_ttl="3s",
                                       imap__allow_plaintext_auth="true")
        r = self.raw(self.smtpd.port, "127.0.0.2")
        r.cmd("EHLO roaming.example")
        self.assertEqual(self.rcpt_remote(r), 554)
        im = RawImap(imapd.port, source="127.0.0.2")
        self.assertTrue(im.command("a", f'LOGIN "{self.bob}" "bob-pw"')[1].startswith("a OK"))
        im.close()
        r = self.raw(self.smtpd.port, "127.0.0.2")
        r.cmd("EHLO roaming.example")
        self.assertEqual(self.rcpt_remote(r), ALLOWED)
        other = self.raw(self.smtpd.port, "127.0.0.3")
        other.cmd("EHLO other.example")
        self.assertEqual(self.rcpt_remote(other), 554)
        time.sleep(3.5)  # the record's window (imap.pop_before_smtp_ttl) has passed
        r = self.raw(self.smtpd.port, "127.0.0.2")
        r.cmd("EHLO roaming.example")
        self.assertEqual(self.rcpt_remote(r), 554)

    def test_client_certificate_from_the_configured_ca(self):
        def attempt(cert, key):
            r = self.raw(self.smtpd.port, "127.0.0.2")
            r.cmd("EHLO cert.example")
            r.starttls(tls_context(cert, key))
            r.cmd("EHLO cert.example")
            return self.rcpt_remote(r)
        self.assertEqual(attempt(self.pki["client.crt"], self.pki["client.key"]), ALLOWED)
        self.assertEqual(attempt(self.pki["rogue.crt"], self.pki["rogue.key"]), 554)
        self.assertEqual(attempt(None, None), 554)

    def test_proxy_protocol_only_from_load_balancer_networks(self):
        lb = self.stack.start_smtpd(self.lmtpd, name="smtpd_lb", smtp__proxy_networks="[127.0.0.1/32]")
        # Through the load balancer: an outside client is outside, whatever the LB's address.
        r = self.raw(lb.port, greet=False)
        r.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n")
        self.assertTrue(r.reply()[0].startswith("220 "))
        r.cmd("EHLO far.example")
        self.assertEqual(self.rcpt_remote(r), 554)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.carol}>"), ["250 2.1.5 Ok"])
        r.cmd("DATA")
        r.send(MSG + b".\r\n")
        self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        self.assertIn(b"Received: from far.example ([192.0.2.7])", self.last_message(self.carol))
        # A trusted client behind the LB is trusted.
        r = self.raw(lb.port, greet=False)
        r.send(b"PROXY TCP4 127.0.0.1 127.0.0.1 40001 25\r\n")
        r.reply()
        r.cmd("EHLO inside.example")
        self.assertEqual(self.rcpt_remote(r), ALLOWED)
        # From anywhere else a PROXY line is just a bad command.
        r = self.raw(self.smtpd.port, "127.0.0.2")
        self.assertEqual(r.cmd("PROXY TCP4 127.0.0.1 127.0.0.1 1 25")[0][:3], "500")


class SmtpWithoutRedis(unittest.TestCase):
    """Redis unreachable: POP-before-SMTP fails closed (no relaying on doubt), login
    penalties fail open (AUTH still works), local mail still flows, and both are
    counted in columba_smtpd_errors_total{kind="redis"}."""

    def test_redis_down(self):
        st = Stack("smtpnoredis")
        try:
            st.start_metad()
            lmtpd = st.start_lmtpd()
            dead = socket.socket()
            dead.bind(("127.0.0.1", 0))
            port = dead.getsockname()[1]
            dead.close()
            smtpd = st.start_smtpd(lmtpd, redis__uri=f"redis://127.0.0.1:{port}", redis__timeout="100ms",
                                   smtp__auth_failure_delay="10ms", smtp__allow_plaintext_auth="true")
            bob = st.add_user("bob", "bob-pw")
            r = Raw(smtpd.port, "127.0.0.2")
            self.addCleanup(r.close)
            r.cmd("EHLO roaming.example")
            r.cmd("MAIL FROM:<x@roaming.example>")
            self.assertEqual(r.cmd("RCPT TO:<far@elsewhere.example>"), ["554 5.7.1 Relay access denied"])
            self.assertEqual(r.cmd(f"RCPT TO:<{bob}>"), ["250 2.1.5 Ok"])
            r.cmd("DATA")
            r.send(MSG + b".\r\n")
            self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
            s = smtplib.SMTP("127.0.0.1", smtpd.submission_port, source_address=("127.0.0.2", 0), timeout=15)
            self.addCleanup(s.close)
            s.ehlo("roaming.example")
            self.assertEqual(s.login(bob, "bob-pw")[0], 235)
            _, metrics = smtpd.http("/metrics")
            self.assertIn('columba_smtpd_errors_total{kind="redis"}', metrics)
        finally:
            st.close()


class SmtpDialogue(unittest.TestCase):
    """The MX dialogue corners: smuggling, BDAT, SMTPUTF8, DSN, ETRN."""

    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("smtpdlg")
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.smtpd = st.start_smtpd(cls.lmtpd)
        cls.strict = st.start_smtpd(cls.lmtpd, name="smtpd_strict", smtp__bare_line_ends="reject")
        cls.bob = st.add_user("bob")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def session(self, port, source="127.0.0.2"):
        r = Raw(port, source)
        self.addCleanup(r.close)
        r.cmd("EHLO client.example")
        return r

    def count(self):
        return len(self.stack.messages(self.bob))

    def test_smuggled_message_stays_inside_the_first(self):
        smuggle = (b"Subject: outer\r\n\r\nfirst\n.\nMAIL FROM:<evil@x.example>\nRCPT TO:<" + self.bob.encode() +
                   b">\nDATA\nSubject: smuggled\n\nsecond\r.\rthird\r\n.\r\n")
        before = self.count()
        r = self.session(self.smtpd.port)
        r.cmd("MAIL FROM:<a@client.example>")
        r.cmd(f"RCPT TO:<{self.bob}>")
        self.assertEqual(r.cmd("DATA")[0][:3], "354")
        r.send(smuggle)
        self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        self.assertEqual(r.cmd("NOOP"), ["250 2.0.0 Ok"])  # nothing else was read as a command
        self.assertEqual(self.count(), before + 1)
        body = self.stack.message_bytes(self.bob, self.stack.messages(self.bob)[-1]["uid"])
        self.assertIn(b"MAIL FROM:<evil@x.example>\r\n", body)  # content, with normalised line ends
        self.assertIn(b"second\r\n.\r\nthird\r\n", body)
        self.assertNotIn(b"\n.\n", body)
        # Where the operator chose "reject": refused, nothing stored, the session goes on.
        r = self.session(self.strict.port)
        r.cmd("MAIL FROM:<a@client.example>")
        r.cmd(f"RCPT TO:<{self.bob}>")
        r.cmd("DATA")
        r.send(smuggle)
        self.assertEqual(r.reply(), ["550 5.5.2 Message contains bare CR or LF (RFC 5321 2.3.8)"])
        self.assertEqual(self.count(), before + 1)
        self.assertEqual(r.cmd("RSET"), ["250 2.0.0 Ok"])

    def test_bdat_chunks(self):
        before = self.count()
        r = self.session(self.smtpd.port)
        self.assertIn("CHUNKING", [line[4:] for line in r.cmd("EHLO client.example")])
        r.cmd("MAIL FROM:<a@client.example>")
        r.cmd(f"RCPT TO:<{self.bob}>")
        part1, part2 = b"Subject: chunked\r\n\r\nline one\r\n", b".line two starts with a dot\r\n"
        r.send(f"BDAT {len(part1)}\r\n".encode() + part1)
        self.assertEqual(r.reply(), [f"250 2.0.0 {len(part1)} octets received"])
        self.assertEqual(r.cmd("DATA"), ["503 5.5.1 BDAT in progress: send BDAT, RSET or QUIT"])
        r.send(f"BDAT {len(part2)} LAST\r\n".encode() + part2)
        self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        self.assertEqual(self.count(), before + 1)
        body = self.stack.message_bytes(self.bob, self.stack.messages(self.bob)[-1]["uid"])
        self.assertTrue(body.endswith(part1 + part2), body[-120:])
        # BDAT without a transaction: the chunk is still read, so the session stays in step.
        r.send(b"BDAT 6 LAST\r\nNOOP\r\n")
        self.assertEqual(r.reply(), ["503 5.5.1 Need MAIL command first"])
        self.assertEqual(r.cmd("NOOP"), ["250 2.0.0 Ok"])

    def test_smtputf8_dsn_and_etrn(self):
        r = self.session(self.smtpd.port)
        ehlo = r.cmd("EHLO client.example")
        extensions = [line[4:] for line in ehlo]
        for ext in ("SMTPUTF8", "DSN", "8BITMIME", "CHUNKING"):
            self.assertIn(ext, extensions)
        self.assertEqual(r.cmd("MAIL FROM:<j\u00f6rg@client.example>")[0][:3], "553")
        self.assertEqual(r.cmd("MAIL FROM:<j\u00f6rg@client.example> SMTPUTF8 RET=HDRS ENVID=e+2B1"),
                         ["250 2.1.0 Ok"])
        self.assertEqual(r.cmd(f"RCPT TO:<{self.bob}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{self.bob}"),
                         ["250 2.1.5 Ok"])
        self.assertEqual(r.cmd(f"RCPT TO:<{self.bob}> NOTIFY=NEVER,SUCCESS")[0][:3], "501")
        r.cmd("DATA")
        r.send("Subject: gr\u00fc\u00dfe\r\n\r\nhi\r\n.\r\n".encode())
        self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        body = self.stack.message_bytes(self.bob, self.stack.messages(self.bob)[-1]["uid"])
        self.assertIn(b"with UTF8SMTP", body)
        self.assertEqual(r.cmd("ETRN client.example")[0][:3], "458")


if __name__ == "__main__":
    unittest.main()
