"""test_smtp_bounces.py - failure notices (RFC 3464 DSNs) for recipients that fail
permanently after the message was accepted (issue 5: "recipients that fail
permanently are bounced per DSN rules"). A mailbox over quota makes lmtpd answer
552 5.2.2 after DATA; the sender (a local user, so the notice is delivered here
by the queue runner) finds a multipart/report in its INBOX naming the recipient,
its status and the original message. Checked for both paths: the hand-off inside
the SMTP session (other recipients delivered, 250 to the client) and the queue
runner (lmtpd down at first, the retry then fails permanently). NOTIFY=NEVER
means no notice, and a null sender never gets one.
"""
import smtplib
import time
import unittest

from pylib.stack import Stack

MSG = (b"From: Alice <alice@example.org>\r\nSubject: quarterly report\r\n"
       b"Message-ID: <bounce1@example.org>\r\n\r\nthe numbers\r\n")


class SmtpBounces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("smtpbounce")
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.smtpd = st.start_smtpd(cls.lmtpd)
        cls.alice = st.add_user("alice")
        cls.bob = st.add_user("bob")
        cls.full = st.add_user("full", quota_messages=1)
        with smtplib.SMTP("127.0.0.1", cls.smtpd.port) as s:  # fills the quota
            s.sendmail("x@example.org", [cls.full], b"Subject: filler\r\n\r\nx\r\n")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def notices(self):
        return [m for m in self.stack.messages(self.alice) if m["subject"] == "Undelivered Mail Returned to Sender"]

    def wait_for_notices(self, n, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline and len(self.notices()) < n:
            time.sleep(0.2)
        return self.notices()

    def check_notice(self, row, envid=None):
        body = self.stack.message_bytes(self.alice, row["uid"])
        for want in (b"Content-Type: multipart/report; report-type=delivery-status",
                     f"To: <{self.alice}>".encode(), f"Final-Recipient: rfc822; {self.full}".encode(),
                     b"Action: failed", b"Status: 5.2.2", b"Diagnostic-Code: smtp; 552 5.2.2",
                     b"Subject: quarterly report"):
            self.assertIn(want, body)
        if envid:
            self.assertIn(f"Original-Envelope-Id: {envid}".encode(), body)

    def test_in_session_failure_is_reported_to_the_sender(self):
        before = len(self.notices())
        bob_before = len(self.stack.messages(self.bob))
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            s.ehlo("client.example")
            s.mail(self.alice, ["ENVID=q4-report"])
            self.assertEqual(s.rcpt(self.bob)[0], 250)
            self.assertEqual(s.rcpt(self.full)[0], 250)
            code, text = s.data(MSG)
            self.assertEqual(code, 250, text)  # accepted for bob; full's failure comes back as a notice
        self.assertEqual(len(self.stack.messages(self.bob)), bob_before + 1)
        notices = self.wait_for_notices(before + 1)
        self.assertEqual(len(notices), before + 1)
        self.check_notice(notices[-1], envid="q4-report")

    def test_notify_never_and_null_sender_get_no_notice(self):
        before = len(self.notices())
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
            s.ehlo("client.example")
            s.mail(self.alice)
            s.rcpt(self.bob)
            s.rcpt(self.full, ["NOTIFY=NEVER"])
            self.assertEqual(s.data(MSG)[0], 250)
            s.mail("")  # a bounce itself: never bounced
            s.rcpt(self.bob)
            s.rcpt(self.full)
            self.assertEqual(s.data(MSG)[0], 250)
        time.sleep(2)  # several runner rounds (smtp.queue_interval is 300 ms here)
        self.assertEqual(len(self.notices()), before)

    def test_queue_runner_failure_is_reported_to_the_sender(self):
        before = len(self.notices())
        self.lmtpd.stop()
        try:
            with smtplib.SMTP("127.0.0.1", self.smtpd.port) as s:
                s.ehlo("client.example")
                s.mail(self.alice)
                s.rcpt(self.full)
                code, text = s.data(MSG)
                self.assertEqual(code, 250, text)
                self.assertTrue(text.startswith(b"2.0.0 Ok: queued as "), text)
                queue_id = text.split()[-1].decode()
        finally:
            self.lmtpd.start()
        notices = self.wait_for_notices(before + 1, seconds=30)
        self.assertEqual(len(notices), before + 1)
        self.check_notice(notices[-1])
        deadline = time.time() + 10
        while time.time() < deadline and queue_id in [r["id"] for r in self.stack.queue()]:
            time.sleep(0.2)
        self.assertNotIn(queue_id, [r["id"] for r in self.stack.queue()])  # FAILED and done


if __name__ == "__main__":
    unittest.main()
