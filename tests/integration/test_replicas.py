"""test_replicas.py - metad replicas and account isolation under concurrency.

Two metad processes (as two replicas behind a load balancer) serve two lmtpd
processes that deliver into the same mailbox at once: UIDs stay unique and
ascending without gaps, MODSEQs unique (DESIGN invariant 4). Then a property
test with many accounts and aliases and concurrent multi-recipient deliveries:
every account sees exactly the messages addressed to it and nothing else.
"""
import random
import threading
import unittest

from pylib.delivery import RetryingSender, blob_ok
from pylib.stack import Stack


class Replicas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("replicas")
        cls.m1 = cls.stack.start_metad("metad1")
        cls.m2 = cls.stack.start_metad("metad2")
        cls.l1 = cls.stack.start_lmtpd("lmtpd1", metad=cls.m1)
        cls.l2 = cls.stack.start_lmtpd("lmtpd2", metad=cls.m2)

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def run_senders(self, jobs, threads_per_lmtpd=4):
        """jobs: list of (rcpts, body). Split over both lmtpd replicas."""
        results, lock, errors = [], threading.Lock(), []
        it = iter(enumerate(jobs))

        def worker(port):
            s = RetryingSender(lambda: port)
            try:
                while True:
                    with lock:
                        item = next(it, None)
                    if item is None:
                        return
                    i, (rcpts, body) = item
                    res = s.send("p@example.org", rcpts, body)
                    with lock:
                        results.append((i, res))
            except Exception as e:
                errors.append(repr(e))
            finally:
                s.close()

        ts = [threading.Thread(target=worker, args=(l.port,)) for l in (self.l1, self.l2)
              for _ in range(threads_per_lmtpd)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=300)
        self.assertEqual(errors, [])
        return results

    def test_two_metad_replicas_append_to_one_mailbox(self):
        user = self.stack.add_user("shared")
        n = 400
        jobs = [([user], f"Subject: r{i}\r\n\r\nbody {i}\r\n".encode()) for i in range(n)]
        results = self.run_senders(jobs)
        self.assertEqual(len(results), n)
        self.assertTrue(all(r[user] == 250 for _, r in results))
        msgs = self.stack.messages(user)
        uids = [m["uid"] for m in msgs]
        self.assertEqual(uids, list(range(1, n + 1)), "UIDs unique, ascending, no gaps")
        modseqs = [m["modseq"] for m in msgs]
        self.assertEqual(len(set(modseqs)), n, "MODSEQs unique")
        self.assertEqual(modseqs, sorted(modseqs), "MODSEQ order follows UID order for appends")
        self.assertEqual(sorted(m["subject"] for m in msgs), sorted(f"r{i}" for i in range(n)))

    def test_account_isolation_property(self):
        rng = random.Random(2026)
        accounts = {}
        for i in range(12):
            addr = self.stack.add_user(f"iso{i}")
            aliases = [f"iso{i}-a{j}@{self.stack.domain}" for j in range(2)]
            for a in aliases:
                self.stack.ctl("alias", "add", a, addr)
            accounts[addr] = [addr] + aliases
        owner = {a: acct for acct, names in accounts.items() for a in names}
        all_names = list(owner)
        jobs, expected = [], {acct: set() for acct in accounts}
        for i in range(300):
            rcpts = rng.sample(all_names, rng.randint(1, 3))
            token = f"iso-{i}"
            body = f"Subject: {token}\r\nTo: {', '.join(rcpts)}\r\n\r\n{token}\r\n".encode()
            jobs.append((rcpts, body))
            for r in rcpts:
                expected[owner[r]].add((token, r))
        results = self.run_senders(jobs)
        self.assertTrue(all(code == 250 for _, res in results for code in res.values()))
        for acct in accounts:
            got = set()
            for m in self.stack.messages(acct):
                ok, data = blob_ok(self.stack.blob_root, m["blob"], m["size"])
                self.assertTrue(ok)
                delivered_to = data.split(b"\r\n")[1].decode()
                self.assertTrue(delivered_to.startswith("Delivered-To: "))
                rcpt = delivered_to[len("Delivered-To: "):]
                self.assertEqual(owner.get(rcpt), acct, f"{acct} holds a copy addressed to {rcpt}")
                got.add((m["subject"], rcpt))
            self.assertEqual(got, expected[acct], f"mailbox of {acct} differs from what was addressed to it")


if __name__ == "__main__":
    unittest.main()
