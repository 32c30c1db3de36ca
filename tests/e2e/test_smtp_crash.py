"""test_smtp_crash.py - nothing that got a 250 is lost when smtpd is killed (DESIGN
invariant 1, issue 5): 500 submissions from 25 concurrent clients, half to a local
mailbox (delivered through lmtpd before the 250) and half to a remote address (queued
through metad before the 250); smtpd is killed with SIGKILL while they run. Every
message that got a 250 must then be in the mailbox or in `columbactl queue list`
(each message carries a unique token in its Subject and its envelope sender).
Messages that got no answer may or may not have arrived: the sender retries those.
"""
import smtplib
import threading
import time
import unittest

from pylib.stack import Stack

CLIENTS = 25
PER_CLIENT = 20


class SmtpCrash(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("smtpcrash")
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.smtpd = st.start_smtpd(cls.lmtpd, smtp__queue_runner="false")
        cls.bob = st.add_user("bob")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_kill_9_during_500_submissions_loses_nothing_acknowledged(self):
        acked, errors, lock = [], [], threading.Lock()
        started = threading.Event()

        def client(n):
            for i in range(PER_CLIENT):
                token = f"t{n}x{i}"
                remote = i % 2 == 1
                rcpt = f"{token}@elsewhere.example" if remote else self.bob
                msg = (f"Subject: crash {token}\r\nMessage-ID: <{token}@crash.test>\r\n\r\n"
                       + ("x" * 70 + "\r\n") * 30).encode()
                try:
                    with smtplib.SMTP("127.0.0.1", self.smtpd.port, timeout=20) as s:
                        s.sendmail(f"{token}@client.example", [rcpt], msg)
                    with lock:
                        acked.append((token, remote))
                except (smtplib.SMTPException, OSError) as e:
                    with lock:
                        errors.append(repr(e))  # no 250: the sender would retry
                started.set()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        started.wait(30)
        time.sleep(0.5)  # well inside the run: some acknowledged, many in flight
        self.smtpd.proc.kill()
        for t in threads:
            t.join(120)
        with lock:
            got = list(acked)
        self.assertGreater(len(got), 0, f"nothing was acknowledged before the kill: {errors[:3]}")
        self.assertLess(len(got), CLIENTS * PER_CLIENT, "the kill came after the last submission")
        subjects = {m["subject"] for m in self.stack.messages(self.bob)}
        queued = " ".join(r["sender"] for r in self.stack.queue())
        lost = [tok for tok, remote in got
                if (remote and f"<{tok}@client.example>" not in queued)
                or (not remote and f"crash {tok}" not in subjects)]
        self.assertEqual(lost, [], f"{len(lost)} of {len(got)} acknowledged messages lost")


if __name__ == "__main__":
    unittest.main()
