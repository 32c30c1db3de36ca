"""test_lmtp.py - LMTP delivery end to end: real lmtpd + metad + PostgreSQL + slapd.

Drives columba-lmtpd with Python's smtplib.LMTP and a raw socket client (smtplib
reads only one reply after DATA, so per-recipient replies need the raw client),
then reads what was stored back through metad (columbactl), byte for byte.
"""
import os
import signal
import smtplib
import socket
import time
import unittest
import urllib.error

from pylib.stack import LmtpClient, Stack, dot_stuff

MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: Bob <bob@example.test>\r\n"
       b"Subject: hello from the test\r\n"
       b"Message-ID: <t1@example.org>\r\n"
       b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
       b"\r\n"
       b"First line.\r\n"
       b".A line that starts with a dot.\r\n"
       b"..Two dots.\r\n"
       b"Last line.\r\n")


class LmtpDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("lmtp")
        cls.metad = cls.stack.start_metad()
        cls.lmtpd = cls.stack.start_lmtpd(lmtp__max_message_size="64K")
        cls.good = cls.stack.add_user("good")
        cls.small = cls.stack.add_user("small", quota_bytes=300)
        cls.other = cls.stack.add_user("other")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def client(self):
        c = LmtpClient(self.lmtpd.port)
        code, lines = c.reply()
        self.assertEqual(code, 220, lines)
        return c

    def test_capabilities(self):
        c = self.client()
        c.send("LHLO client.test\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        caps = [l[4:] for l in lines[1:]]
        for cap in ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE 65536"):
            self.assertIn(cap, caps)
        c.send("QUIT\r\n")
        self.assertEqual(c.reply()[0], 221)

    def test_pipelined_transaction_with_good_unknown_and_over_quota_recipients(self):
        c = self.client()
        unknown = f"nobody@{self.stack.domain}"
        body = MSG + b"X" * 400 + b"\r\n"  # larger than small@'s 300-octet quota
        # One pipelined group: LHLO, MAIL, three RCPTs and DATA (RFC 2920).
        c.send(f"LHLO client.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<{self.good}>\r\n"
               f"RCPT TO:<{unknown}>\r\nRCPT TO:<{self.small}>\r\nDATA\r\n")
        self.assertEqual(c.reply()[0], 250)  # LHLO
        self.assertEqual(c.reply()[0], 250)  # MAIL
        self.assertEqual(c.reply()[0], 250)  # good
        code, lines = c.reply()
        self.assertEqual(code, 550)
        self.assertIn("5.1.1", lines[0])
        self.assertEqual(c.reply()[0], 250)  # small (quota is checked at delivery)
        self.assertEqual(c.reply()[0], 354)
        c.send(dot_stuff(body))
        code1, l1 = c.reply()
        code2, l2 = c.reply()
        self.assertEqual(code1, 250, l1)
        self.assertEqual(code2, 552, l2)
        self.assertIn("5.2.2", l2[0])
        c.send("QUIT\r\n")
        self.assertEqual(c.reply()[0], 221)
        self.assertEqual(self.stack.messages(self.small), [], "over-quota copy must not be stored")
        # Not even as an orphan blob: lmtpd refuses it before writing the bytes.
        marker = b"Delivered-To: " + self.small.encode()
        for dirpath, _, files in os.walk(self.stack.blob_root):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    self.assertNotIn(marker, f.read(4096), f"orphan blob {name} for the over-quota copy")
        stored = [m for m in self.stack.messages(self.good) if m["subject"] == "hello from the test"]
        self.assertEqual(len(stored), 1)

    def test_stored_message_is_byte_exact_with_trace_headers(self):
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as s:
            refused = s.sendmail("sender@example.org", [self.other], MSG)
            self.assertEqual(refused, {})
        msgs = self.stack.messages(self.other)
        self.assertEqual(len(msgs), 1)
        data = self.stack.message_bytes(self.other, msgs[0]["uid"])
        expected = (b"Return-Path: <sender@example.org>\r\nDelivered-To: " + self.other.encode() + b"\r\n" + MSG)
        self.assertEqual(data, expected)
        self.assertEqual(msgs[0]["size"], len(expected))

    def test_raw_8bit_headers_are_stored_byte_exact(self):
        user = self.stack.add_user("eightbit")
        # Latin-1 bytes in an unencoded header (invalid UTF-8) and in the body: common in real mail.
        msg = (b"From: \xc9milie <e@example.org>\r\nSubject: caf\xe9 \xff\xfe\r\n"
               b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nd\xe9j\xe0 vu\r\n")
        c = self.client()
        c.send(f"LHLO x\r\nMAIL FROM:<e@example.org> BODY=8BITMIME\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send(dot_stuff(msg))
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        stored = self.stack.messages(user)
        self.assertEqual(len(stored), 1)
        data = self.stack.message_bytes(user, stored[0]["uid"])
        self.assertTrue(data.endswith(msg))

    def test_aliases_and_detail_delivery(self):
        user = self.stack.add_user("detail")
        alias = f"postmaster@{self.stack.domain}"
        self.stack.ctl("alias", "add", alias, user)
        local, domain = user.split("@")
        c = self.client()
        c.send("LHLO x\r\n")
        c.reply()
        for rcpt in (alias, f"{local}+Sent@{domain}", f"{local}+NoSuchFolder@{domain}"):
            c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
            self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
            c.send(dot_stuff(b"Subject: to " + rcpt.encode() + b"\r\n\r\nhi\r\n"))
            self.assertEqual(c.reply()[0], 250)
        inbox = sorted(m["subject"] for m in self.stack.messages(user))
        self.assertEqual(inbox, sorted([f"to {alias}", f"to {local}+NoSuchFolder@{domain}"]))
        sent = [m["subject"] for m in self.stack.messages(user, "Sent")]
        self.assertEqual(sent, [f"to {local}+Sent@{domain}"])

    def test_size_limits(self):
        user = self.stack.add_user("sizes")
        c = self.client()
        c.send("LHLO x\r\n")
        c.reply()
        c.send("MAIL FROM:<a@example.org> SIZE=100000\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 552)
        self.assertIn("5.3.4", lines[0])
        c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
        c.send(dot_stuff(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 1500))
        code, lines = c.reply()
        self.assertEqual(code, 552, lines)
        self.assertIn("5.3.4", lines[0])
        # The session goes on after the refusal.
        c.send("NOOP\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(self.stack.messages(user), [])

    def test_protocol_errors_are_clear_and_change_nothing(self):
        c = self.client()
        c.send("HELO x\r\n")
        self.assertEqual(c.reply()[0], 500)
        c.send("MAIL FROM:<a@example.org>\r\n")
        self.assertEqual(c.reply()[0], 503)  # LHLO first
        c.send("LHLO x\r\n")
        c.reply()
        c.send("X" * 5000 + "\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 500)
        self.assertIn("5.5.2", lines[0])
        c.send("DATA\r\n")
        self.assertEqual(c.reply()[0], 503)
        c.send("RCPT TO:<x@y>\r\n")
        self.assertEqual(c.reply()[0], 503)
        c.send("MAIL FROM:<a@example.org>\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.send("MAIL FROM:<a@example.org>\r\n")
        self.assertEqual(c.reply()[0], 503)  # nested
        c.send("RCPT TO:<bad address>\r\n")
        self.assertEqual(c.reply()[0] // 100, 5)
        c.send("DATA\r\n")
        self.assertEqual(c.reply()[0], 503)  # no valid recipients
        c.send("RSET\r\nNOOP\r\nVRFY x\r\nQUIT\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 252, 221])

    def test_utf8_recipient_and_odd_details(self):
        user = self.stack.add_user("odd")
        local, domain = user.split("@")
        c = self.client()
        c.send("LHLO x\r\nMAIL FROM:<a@example.org> BODY=8bitmime\r\n")
        self.assertEqual([c.reply()[0] for _ in range(2)], [250, 250])
        c.send(f"RCPT TO:<j\u00fcrgen@{domain}>\r\n".encode())
        code, lines = c.reply()
        self.assertEqual(code, 553, lines)  # permanent, not a retry loop
        # "+a//b" is no mailbox name: the copy goes to INBOX instead of being refused.
        c.send(f"RCPT TO:<{local}+a//b@{domain}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(2)], [250, 354])
        c.send(dot_stuff(b"Subject: odd detail\r\n\r\nx\r\n"))
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual([m["subject"] for m in self.stack.messages(user)], ["odd detail"])

    def test_malformed_message_is_refused_and_nothing_stored(self):
        user = self.stack.add_user("deep")
        # MIME nested deeper than lib/mail's limit (32): refused for every recipient.
        depth = 40
        head = b"Subject: too deep\r\n"
        body = b""
        for i in range(depth):
            body += f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
        body += b"Content-Type: text/plain\r\n\r\nleaf\r\n"
        for i in reversed(range(depth)):
            body += f"--b{i}--\r\n".encode()
        c = self.client()
        c.send(f"LHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send(dot_stuff(head + body))
        code, lines = c.reply()
        self.assertEqual(code, 554, lines)
        self.assertIn("5.6.0", lines[0])
        self.assertEqual(self.stack.messages(user), [])

    def test_unix_socket(self):
        user = self.stack.add_user("unixsock")
        c = LmtpClient(unix=self.lmtpd.unix_socket)
        self.assertEqual(c.reply()[0], 220)
        c.send(f"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send(dot_stuff(b"Subject: via unix\r\n\r\nbounce body\r\n"))
        self.assertEqual(c.reply()[0], 250)
        data = self.stack.message_bytes(user, self.stack.messages(user)[0]["uid"])
        self.assertTrue(data.startswith(b"Return-Path: <>\r\n"))

    def test_metrics_and_health(self):
        status, body = self.lmtpd.http("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("columba_lmtpd_deliveries_total", body)
        self.assertIn("columba_lmtpd_sessions_total", body)
        self.assertEqual(self.lmtpd.http("/healthz")[0], 200)
        status, body = self.metad.http("/metrics")
        self.assertIn('columba_metad_rpcs_total{code="OK",method="Append"}', body)


class LmtpDependencyFailures(unittest.TestCase):
    """metad down: 451 4.3.0, never 250, and nothing half-stored."""

    def setUp(self):
        self.stack = Stack("lmtpdown")

    def tearDown(self):
        self.stack.close()

    def test_metad_unreachable_gives_451_and_delivery_succeeds_after_restart(self):
        metad = self.stack.start_metad()
        lmtpd = self.stack.start_lmtpd()
        user = self.stack.add_user("u")
        metad.kill(signal.SIGKILL)
        c = LmtpClient(lmtpd.port)
        c.reply()
        c.send(f"LHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send(dot_stuff(b"Subject: while down\r\n\r\nbody\r\n"))
        code, lines = c.reply()
        self.assertEqual(code, 451, lines)
        self.assertIn("4.3.0", lines[0])
        metad.start()
        c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
        c.send(dot_stuff(b"Subject: after restart\r\n\r\nbody\r\n"))
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual([m["subject"] for m in self.stack.messages(user)], ["after restart"])

    def test_postgres_unreachable_gives_451(self):
        # A metad whose PostgreSQL is gone: it runs, but every call fails.
        dead_pg = "postgresql://columba:x@127.0.0.1:1/columba?connect_timeout=1"
        metad = self.stack.start_metad(name="metad-nopg", wait=False, metad__postgres_uri=dead_pg)
        lmtpd = self.stack.start_lmtpd(metad=metad, wait=False)
        user = self.stack.add_user("nopg")
        deadline = time.time() + 15
        while True:
            try:
                c = LmtpClient(lmtpd.port)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        c.reply()
        c.send(f"LHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<{user}>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send(dot_stuff(b"Subject: no database\r\n\r\nbody\r\n"))
        code, lines = c.reply()
        self.assertEqual(code, 451, lines)
        self.assertIn("4.3.0", lines[0])

    def test_sigterm_drains_open_sessions(self):
        self.stack.start_metad()
        lmtpd = self.stack.start_lmtpd()
        user = self.stack.add_user("drain")
        c = LmtpClient(lmtpd.port)
        c.reply()
        c.send(f"LHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<{user}>\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 250])
        lmtpd.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # New connections are refused while the open session may finish its transaction.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", lmtpd.port), timeout=2).recv(1)
        c.send("DATA\r\n")
        self.assertEqual(c.reply()[0], 354)
        c.send(dot_stuff(b"Subject: during drain\r\n\r\nbody\r\n"))
        self.assertEqual(c.reply()[0], 250)
        c.send("QUIT\r\n")
        self.assertEqual(c.reply()[0], 221)
        self.assertEqual(lmtpd.proc.wait(timeout=15), 0)
        self.assertEqual([m["subject"] for m in self.stack.messages(user)], ["during drain"])

    def test_directory_down_is_not_ready_and_rcpt_gets_451(self):
        self.stack.start_metad()
        dead = "ldap://127.0.0.1:1"
        lmtpd = self.stack.start_lmtpd(wait=False, ldap__uris=dead, ldap__write_uri=dead, ldap__timeout="500ms")
        deadline = time.time() + 15
        body = ""
        while time.time() < deadline:
            try:
                lmtpd.http("/readyz")
            except urllib.error.HTTPError as e:
                body = e.read().decode()
                if "directory unreachable" in body:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.assertIn("directory unreachable", body)
        c = LmtpClient(lmtpd.port)
        c.reply()
        c.send(f"LHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@{self.stack.domain}>\r\n")
        self.assertEqual([c.reply()[0] for _ in range(2)], [250, 250])
        code, lines = c.reply()
        self.assertEqual(code, 451, lines)
        self.assertIn("4.3.0", lines[0])

    def test_idle_timeout_answers_421(self):
        self.stack.start_metad()
        lmtpd = self.stack.start_lmtpd(lmtp__idle_timeout="1s")
        c = LmtpClient(lmtpd.port)
        c.reply()
        c.send("LHLO x\r\n")
        c.reply()
        code, lines = c.reply()  # nothing sent for a second
        self.assertEqual(code, 421, lines)
        self.assertIn("4.4.2", lines[0])

    def test_purge_deletes_the_mailstore(self):
        self.stack.start_metad()
        lmtpd = self.stack.start_lmtpd()
        user = self.stack.add_user("gone")
        import smtplib as _s
        with _s.LMTP("127.0.0.1", lmtpd.port) as s:
            s.sendmail("a@example.org", [user], b"Subject: bye\r\n\r\nx\r\n")
        self.assertEqual(len(self.stack.messages(user)), 1)
        out = self.stack.ctl("user", "del", user, "--purge")
        self.assertIn("purged", out)
        self.assertEqual(self.stack.messages(user), [])
        self.assertIn(b"no such user", self.stack.ctl("user", "show", user, check=False).stderr)

    def test_bad_config_refuses_to_start_naming_the_key(self):
        self.stack.start_metad()
        svc = self.stack.start_lmtpd(wait=False, lmtp__max_message_size="lots")
        self.assertEqual(svc.proc.wait(timeout=10), 2)
        self.assertIn("lmtp.max_message_size", svc.log_tail())


if __name__ == "__main__":
    unittest.main()
