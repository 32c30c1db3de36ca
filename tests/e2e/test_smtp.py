"""test_smtp.py - columba-smtpd's first slice (issue 5) end to end: Python's smtplib
and a raw client against smtpd on the MX port, handing local mail to a real lmtpd
(real metad, PostgreSQL, slapd). Clients from 127.0.0.1 are in trusted_networks;
127.0.0.2 is an outside client.

Checked: EHLO's extensions; a message to a local user reaches the mailstore (with a
Received: header) only after 250; an unknown user is 550 5.1.1 at RCPT; from outside,
a remote recipient and every relay trick get 554 5.7.1 and nothing is stored; from a
trusted network a remote recipient is accepted and the message is in `columbactl queue
list` before the 250 (with its DSN parameters); SIZE over the limit is 552 5.3.4 at
MAIL; a command line over 1000 octets is 500 5.5.2 and the session goes on; lmtpd
stopped mid-session means 250 "queued", nothing in the mailbox yet, and the message
delivered exactly once by the queue runner when lmtpd is back.
"""
import smtplib
import time
import unittest
import urllib.error

from pylib.smtp_client import Raw
from pylib.stack import Stack

MSG = (b"From: Alice <alice@example.org>\r\nTo: Bob\r\nSubject: over smtp\r\n"
       b"Message-ID: <s1@example.org>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")




class Smtp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("smtp")
        cls.metad = cls.stack.start_metad()
        cls.lmtpd = cls.stack.start_lmtpd()
        cls.smtpd = cls.stack.start_smtpd(cls.lmtpd, smtp__max_message_size="64K")
        cls.bob = cls.stack.add_user("bob")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def outside(self):
        r = Raw(self.smtpd.port, "127.0.0.2")
        self.addCleanup(r.close)
        self.assertTrue(r.greeting[0].startswith("220 mx.test"), r.greeting)
        self.assertTrue(r.cmd("EHLO outside.example")[-1].startswith("250 "))
        self.assertEqual(r.cmd("MAIL FROM:<x@outside.example>"), ["250 2.1.0 Ok"])
        return r

    def test_ehlo_and_local_delivery(self):
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            code, text = s.ehlo("client.example")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes"):
                self.assertTrue(s.has_extn(ext), ext)
            self.assertEqual(s.esmtp_features["size"], str(64 * 1024))
            before = len(self.stack.messages(self.bob))
            self.assertEqual(s.sendmail("alice@example.org", [self.bob], MSG), {})
        stored = self.stack.messages(self.bob)
        self.assertEqual(len(stored), before + 1)
        body = self.stack.ctl("message", "get", self.bob, str(stored[-1]["uid"]), binary=True)
        self.assertIn(b"Received: from client.example ([127.0.0.1])", body)
        self.assertTrue(body.endswith(MSG), body[-200:])

    def test_unknown_local_user_is_refused_at_rcpt(self):
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            s.ehlo("client.example")
            s.mail("alice@example.org")
            code, text = s.rcpt(f"nobody@{self.stack.domain}")
            self.assertEqual((code, text), (550, b"5.1.1 No such user here"))

    def test_outside_clients_cannot_relay_by_any_trick(self):
        d = self.stack.domain
        before = len(self.stack.messages(self.bob))
        for rcpt in ("<victim@elsewhere.example>", f"<victim%elsewhere.example@{d}>",
                     f"<elsewhere.example!victim@{d}>", f'<"victim@elsewhere.example"@{d}>',
                     f"<@{d}:victim@elsewhere.example>"):
            r = self.outside()
            self.assertEqual(r.cmd(f"RCPT TO:{rcpt}"), ["554 5.7.1 Relay access denied"], rcpt)
            self.assertEqual(r.cmd("DATA"), ["554 5.5.1 No valid recipients"])
        # A local recipient from outside is fine (this is the MX).
        r = self.outside()
        self.assertEqual(r.cmd(f"RCPT TO:<{self.bob}>"), ["250 2.1.5 Ok"])
        self.assertEqual(r.cmd("DATA"), ["354 End data with <CR><LF>.<CR><LF>"])
        r.s.sendall(MSG + b".\r\n")
        self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        self.assertEqual(len(self.stack.messages(self.bob)), before + 1)

    def test_trusted_network_relay_goes_into_the_queue(self):
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            s.ehlo("client.example")
            s.mail("alice@example.org", ["RET=HDRS", "ENVID=env+2B1"])
            code, text = s.rcpt("carol@elsewhere.example", ["NOTIFY=FAILURE", "ORCPT=rfc822;carol@elsewhere.example"])
            self.assertEqual(code, 250, text)
            code, text = s.data(MSG)
            self.assertEqual(code, 250, text)
            self.assertTrue(text.startswith(b"2.0.0 Ok: queued as "), text)
            queue_id = text.split()[-1].decode()
        rows = [r for r in self.stack.queue() if r["id"] == queue_id]
        self.assertEqual(len(rows), 1, self.stack.queue())
        self.assertEqual(rows[0]["sender"], "<alice@example.org>")
        self.assertIn("carol@elsewhere.example", rows[0]["recipients"])
        show = self.stack.ctl("queue", "show", queue_id)
        for expected in ("env+1", "HDRS", "FAILURE", "rfc822;carol@elsewhere.example", "remote"):
            self.assertIn(expected, show)

    def test_limits(self):
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            s.ehlo("client.example")
            code, text = s.mail("alice@example.org", ["SIZE=70000"])
            self.assertEqual((code, text), (552, b"5.3.4 Message size exceeds fixed maximum message size"))
        r = Raw(self.smtpd.port)
        self.addCleanup(r.close)
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("NOOP " + "x" * 1100), ["500 5.5.2 Line too long"])
        self.assertEqual(r.cmd("NOOP"), ["250 2.0.0 Ok"], "the session goes on")

    def test_session_limits_each_crossed(self):
        s2 = self.stack.start_smtpd(self.lmtpd, name="smtpd_limits", smtp__max_messages_per_session=2,
                                    smtp__max_commands_per_message=10, smtp__max_connections_per_ip=2,
                                    smtp__max_session_time="2s")
        # Messages per session: the third MAIL ends the session.
        r = Raw(s2.port)
        self.addCleanup(r.close)
        r.cmd("EHLO client.example")
        for _ in range(2):
            self.assertEqual(r.cmd("MAIL FROM:<a@example.org>"), ["250 2.1.0 Ok"])
            self.assertEqual(r.cmd(f"RCPT TO:<{self.bob}>"), ["250 2.1.5 Ok"])
            r.cmd("DATA")
            r.s.sendall(MSG + b".\r\n")
            self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        self.assertEqual(r.cmd("MAIL FROM:<a@example.org>"),
                         ["421 4.7.0 Too many messages in one session, closing connection"])
        # Commands per message (MAIL counts): the eleventh ends the session.
        r = Raw(s2.port)
        self.addCleanup(r.close)
        r.cmd("EHLO client.example")
        r.cmd("MAIL FROM:<a@example.org>")
        for _ in range(9):
            self.assertEqual(r.cmd("NOOP"), ["250 2.0.0 Ok"])
        self.assertEqual(r.cmd("NOOP"), ["421 4.7.0 Too many commands for one message, closing connection"])
        # Connections per address from outside (trusted networks are exempt).
        held = [Raw(s2.port, "127.0.0.2") for _ in range(2)]
        for h in held:
            self.addCleanup(h.close)
            self.assertTrue(h.greeting[0].startswith("220 "), h.greeting)
        third = Raw(s2.port, "127.0.0.2")
        self.addCleanup(third.close)
        self.assertEqual(third.greeting, ["421 4.7.0 Too many connections from your address"])
        local = [Raw(s2.port) for _ in range(3)]
        for h in local:
            self.addCleanup(h.close)
            self.assertTrue(h.greeting[0].startswith("220 "), h.greeting)
        # Session time: the first command after it is 421.
        t = Raw(s2.port)
        self.addCleanup(t.close)
        self.assertTrue(t.cmd("EHLO client.example")[-1].startswith("250 "))
        time.sleep(2.3)
        self.assertEqual(t.cmd("NOOP"), ["421 4.4.2 mx.test session too long, closing connection"])

    def test_not_ready_while_metad_is_down(self):
        self.assertEqual(self.smtpd.http("/readyz")[0], 200)
        self.metad.stop()
        try:
            deadline = time.time() + 15
            status, body = 200, ""
            while time.time() < deadline and status == 200:
                try:
                    status, body = self.smtpd.http("/readyz")
                except urllib.error.HTTPError as e:
                    status, body = e.code, e.read().decode()
                time.sleep(0.2)
            self.assertEqual(status, 503, body)
            self.assertIn("metad unreachable", body)
        finally:
            self.metad.start()
        self.smtpd.wait_ready()

    def test_idle_timeout_cuts_silent_clients_only(self):
        smtpd = self.stack.start_smtpd(self.lmtpd, name="smtpd_idle", smtp__idle_timeout="1s")
        r = Raw(smtpd.port)
        self.addCleanup(r.close)
        r.cmd("EHLO client.example")
        time.sleep(1.6)
        self.assertEqual(r.reply(), ["421 4.4.2 mx.test idle timeout, closing connection"])
        self.assertEqual(r.f.readline(), b"")  # and closed
        # A client that keeps talking (slowly, for longer than the timeout) is not cut.
        before = len(self.stack.messages(self.bob))
        r = Raw(smtpd.port)
        self.addCleanup(r.close)
        r.cmd("EHLO client.example")
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd(f"RCPT TO:<{self.bob}>")
        self.assertEqual(r.cmd("DATA")[0][:3], "354")
        for i in range(5):
            r.s.sendall(f"line {i}\r\n".encode())
            time.sleep(0.4)
        r.s.sendall(b".\r\n")
        self.assertEqual(r.reply(), ["250 2.0.0 Ok: delivered"])
        self.assertEqual(len(self.stack.messages(self.bob)), before + 1)

    def test_lmtpd_down_mid_session_queues_and_delivers_when_back(self):
        before = len(self.stack.messages(self.bob))
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            s.ehlo("client.example")
            s.mail("alice@example.org")
            self.assertEqual(s.rcpt(self.bob)[0], 250)
            self.lmtpd.stop()  # after RCPT, before DATA
            try:
                code, text = s.data(MSG)
                self.assertEqual(code, 250, text)
                self.assertTrue(text.startswith(b"2.0.0 Ok: queued as "), text)
                queue_id = text.split()[-1].decode()
                self.assertEqual(len(self.stack.messages(self.bob)), before)
                self.assertIn(queue_id, [r["id"] for r in self.stack.queue()])
            finally:
                self.lmtpd.start()
        deadline = time.time() + 30
        while time.time() < deadline and len(self.stack.messages(self.bob)) == before:
            time.sleep(0.2)
        self.assertEqual(len(self.stack.messages(self.bob)), before + 1)
        body = self.stack.message_bytes(self.bob, self.stack.messages(self.bob)[-1]["uid"])
        self.assertTrue(body.endswith(MSG))
        while time.time() < deadline and queue_id in [r["id"] for r in self.stack.queue()]:
            time.sleep(0.2)
        self.assertNotIn(queue_id, [r["id"] for r in self.stack.queue()])
        time.sleep(1)  # delivered exactly once: nothing else arrives
        self.assertEqual(len(self.stack.messages(self.bob)), before + 1)


if __name__ == "__main__":
    unittest.main()
