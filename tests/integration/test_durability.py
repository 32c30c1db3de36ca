"""test_durability.py - nothing acknowledged is lost (DESIGN invariant 1).

1,000 messages go through 8 concurrent LMTP sessions while lmtpd and metad are
killed with SIGKILL over and over and restarted. Senders retry like MTAs. In the
end every message that got a 250 is in the mailbox at least once, and every
visible message is complete (its blob exists, has the listed size and matches
its content hash): no loss and no half-written message.
"""
import random
import signal
import threading
import time
import unittest

from pylib.delivery import RetryingSender, blob_ok
from pylib.stack import Stack

MESSAGES = 1000
SESSIONS = 8


class Durability(unittest.TestCase):
    def setUp(self):
        self.stack = Stack("durable")
        self.metad = self.stack.start_metad()
        self.lmtpd = self.stack.start_lmtpd()
        self.users = [self.stack.add_user(f"d{i}") for i in range(4)]

    def tearDown(self):
        self.stack.close()

    def test_kill9_of_lmtpd_and_metad_loses_nothing_acknowledged(self):
        acked = {}  # subject -> recipient
        lock = threading.Lock()
        next_msg = iter(range(MESSAGES))
        errors = []

        def worker():
            sender = RetryingSender(lambda: self.lmtpd.port)
            try:
                while True:
                    with lock:
                        i = next(next_msg, None)
                    if i is None:
                        return
                    rcpt = self.users[i % len(self.users)]
                    subject = f"durable-{i}"
                    body = (f"From: s@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
                            f"Message-ID: <{i}@durable.test>\r\n\r\n").encode() + b"payload line\r\n" * 50
                    res = sender.send("s@example.org", [rcpt], body)
                    if res[rcpt] == 250:
                        with lock:
                            acked[subject] = rcpt
                    else:
                        errors.append((subject, res))
            except Exception as e:  # surfaced below
                errors.append(("worker", repr(e)))
            finally:
                sender.close()

        stop = threading.Event()
        kills = {"lmtpd": 0, "metad": 0}

        def killer():
            rng = random.Random(7)
            while not stop.is_set():
                time.sleep(rng.uniform(0.2, 0.6))
                victim = self.lmtpd if rng.random() < 0.5 else self.metad
                victim.kill(signal.SIGKILL)
                kills[victim.name] += 1
                time.sleep(rng.uniform(0.0, 0.2))
                victim.start()

        threads = [threading.Thread(target=worker) for _ in range(SESSIONS)]
        k = threading.Thread(target=killer)
        for t in threads:
            t.start()
        k.start()
        for t in threads:
            t.join(timeout=600)
        stop.set()
        k.join()
        self.assertFalse(any(t.is_alive() for t in threads), "senders did not finish")
        self.assertEqual(errors, [])
        self.assertEqual(len(acked), MESSAGES)
        self.assertGreater(kills["lmtpd"] + kills["metad"], 3, "the test must actually kill processes")

        seen = {}
        for user in self.users:
            for m in self.stack.messages(user):
                ok, data = blob_ok(self.stack.blob_root, m["blob"], m["size"])
                self.assertTrue(ok, f"message {m} is not complete in the blob store")
                self.assertIn(f"Subject: {m['subject']}".encode(), data)
                seen.setdefault(m["subject"], set()).add(user)
        missing = [s for s, rcpt in acked.items() if rcpt not in seen.get(s, set())]
        self.assertEqual(missing, [], f"acknowledged but missing after {kills}")


if __name__ == "__main__":
    unittest.main()
