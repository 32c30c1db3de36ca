"""test_imap_idle.py - columba-imapd untagged updates across sessions and nodes:
IDLE (RFC 2177) woken by metad Watch, NOOP / CHECK reporting EXPUNGE, EXISTS and
FETCH (FLAGS) for changes made by another session on a SECOND imapd process
(both share one metad), against real imapd + lmtpd + metad + PostgreSQL.

Each test gets its own account with three messages delivered over LMTP.
"""
import itertools
import re
import smtplib
import time
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack


def message(n):
    return (f"From: Alice <alice@example.org>\r\n"
            f"To: Bob <bob@example.test>\r\n"
            f"Subject: idle test {n}\r\n"
            f"Message-ID: <idle{n}-{time.time_ns()}@example.org>\r\n"
            f"\r\n"
            f"Body number {n}.\r\n").encode()


class ImapIdle(unittest.TestCase):
    counter = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapidle")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd(imap__watch_linger="1s")
        cls.imapd2 = st.start_imapd(name="imapd2")
        cls.imapd_short = st.start_imapd(name="imapd3", imap__idle_timeout="2s")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def deliver(self, n):
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            self.assertFalse(lmtp.sendmail("alice@example.org", [self.user], message(n)))

    def setUp(self):
        self.user = self.stack.add_user(f"idle{next(self.counter)}", password="idle-secret")
        for n in (1, 2, 3):
            self.deliver(n)
        self.assertEqual([m["uid"] for m in self.stack.messages(self.user)], [1, 2, 3])
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass

    def session(self, imapd, select=True):
        c = RawImap(imapd.port)
        self.clients.append(c)
        _, ok = c.command("l1", f'LOGIN {self.user} "idle-secret"')
        self.assertTrue(ok.startswith("l1 OK"), ok)
        if select:
            untagged, ok = c.command("s1", "SELECT INBOX")
            self.assertTrue(ok.startswith("s1 OK"), ok)
            self.assertIn("* 3 EXISTS", untagged)
        return c

    def test_capability_has_idle(self):
        a = self.session(self.imapd, select=False)
        untagged, ok = a.command("c1", "CAPABILITY")
        self.assertTrue(ok.startswith("c1 OK"), ok)
        self.assertIn(" IDLE", untagged[0])

    def test_idle_reports_delivery(self):
        a = self.session(self.imapd)
        a.send("i1 IDLE")
        self.assertEqual(a.line(), "+ idling")
        time.sleep(0.3)  # let the Watch stream become ready
        start = time.monotonic()
        self.deliver(4)
        line = a.line(timeout=2)
        latency = time.monotonic() - start
        self.assertEqual(line, "* 4 EXISTS")
        print(f"\nIDLE latency (start of LMTP delivery -> * 4 EXISTS read): {latency * 1000:.1f} ms")
        self.assertLess(latency, 2.0)
        # (d) DONE ends IDLE with the tagged OK; the session goes on.
        a.send("DONE")
        self.assertEqual(a.line(), "i1 OK IDLE terminated.")
        untagged, ok = a.command("f1", "FETCH 1:* (UID)")
        self.assertTrue(ok.startswith("f1 OK"), ok)
        self.assertEqual(len(untagged), 4, untagged)

    def watchers(self):
        _, text = self.metad.http("/metrics")
        m = re.search(r'columba_metad_state\{what="watchers"\} (\d+)', text)
        self.assertIsNotNone(m, "metad exports its open Watch streams")
        return int(m.group(1))

    def wait_watchers(self, want):
        deadline = time.monotonic() + 5
        while self.watchers() != want and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.watchers()

    def test_idle_sessions_on_one_mailbox_share_one_watch(self):
        base = self.wait_watchers(0)
        sessions = [self.session(self.imapd) for _ in range(3)]
        for i, c in enumerate(sessions):
            c.send(f"i{i} IDLE")
            self.assertEqual(c.line(), "+ idling")
        # Three IDLE sessions of one mailbox in one imapd: one stream in metad.
        self.assertEqual(self.wait_watchers(base + 1), base + 1)
        self.deliver(4)
        for c in sessions:
            self.assertEqual(c.line(timeout=2), "* 4 EXISTS")
        # A session joining the live stream still learns what came before it.
        late = self.session(self.imapd, select=False)
        _, ok = late.command("s", "SELECT INBOX")
        self.deliver(5)
        late.send("j IDLE")
        self.assertEqual(late.line(), "+ idling")
        self.assertEqual(late.line(timeout=2), "* 5 EXISTS")
        self.assertEqual(self.watchers(), base + 1)
        for i, c in enumerate(sessions + [late]):
            c.send("DONE")
        for i, c in enumerate(sessions):
            self.assertEqual(c.line(timeout=2), "* 5 EXISTS")
            self.assertEqual(c.line(timeout=2), f"i{i} OK IDLE terminated.")
        self.assertEqual(late.line(timeout=2), "j OK IDLE terminated.")
        # Selected sessions keep the stream (NOOP answers from it); it closes imap.watch_linger
        # (here 1 s) after the last one left.
        self.assertEqual(self.watchers(), base + 1)
        for i, c in enumerate(sessions + [late]):
            _, ok = c.command(f"u{i}", "UNSELECT")
            self.assertTrue(ok.startswith(f"u{i} OK"), ok)
        left = time.monotonic()
        self.assertEqual(self.watchers(), base + 1, "the stream lingers for a client coming back")
        self.assertEqual(self.wait_watchers(base), base)
        self.assertGreater(time.monotonic() - left, 0.5)

    def syncs(self, imapd, source):
        _, text = imapd.http("/metrics")
        m = re.search(r'columba_imapd_mailbox_syncs_total\{source="%s"\} (\d+)' % source, text)
        return int(m.group(1)) if m else 0

    def noop_until(self, c, want, within=1.0):
        """NOOP until a response starting with `want` comes: a change made elsewhere reaches
        a polling session within a second (issue 4, "Across nodes")."""
        start, told = time.monotonic(), []
        while True:
            untagged, ok = c.command("np", "NOOP")
            self.assertTrue(ok.startswith("np OK"), ok)
            told += untagged
            if any(l.startswith(want) for l in untagged):
                return time.monotonic() - start
            self.assertLess(time.monotonic() - start, within, f"no {want!r} after polling: {told}")
            time.sleep(0.005)

    def test_quiet_noop_answers_from_the_watch_stream(self):
        """While nothing changes, NOOP needs no metad call (the shared Watch stream vouches
        for the mailbox), yet every change still reaches the session: at once when made
        through the same imapd, within a second through another imapd or lmtpd."""
        a = self.session(self.imapd)
        deadline = time.monotonic() + 5
        while True:  # the stream becomes ready, then one metad read is trusted
            before = self.syncs(self.imapd, "watch")
            untagged, ok = a.command("n0", "NOOP")
            self.assertEqual(untagged, [])
            if self.syncs(self.imapd, "watch") > before:
                break
            self.assertLess(time.monotonic(), deadline, "NOOP never answered from the Watch stream")
            time.sleep(0.05)
        watch0 = self.syncs(self.imapd, "watch")
        for i in range(5):
            untagged, ok = a.command(f"q{i}", "NOOP")
            self.assertEqual((untagged, ok[:5]), ([], f"q{i} OK"))
        self.assertGreaterEqual(self.syncs(self.imapd, "watch") - watch0, 4,
                                "quiet NOOPs within a second of the last metad read answer from the stream")

        # The same imapd: the very next NOOP reports it (its write touched the account).
        c = self.session(self.imapd)
        _, ok = c.command("c1", r"STORE 1 +FLAGS (\Flagged)")
        self.assertTrue(ok.startswith("c1 OK"), ok)
        untagged, ok = a.command("n1", "NOOP")
        self.assertIn("* 1 FETCH (FLAGS (\\Flagged) UID 1)", untagged)
        # Another imapd, and lmtpd: within a second (each took a few ms here).
        b = self.session(self.imapd2)
        _, ok = b.command("b1", r"STORE 2 +FLAGS (\Flagged)")
        self.assertTrue(ok.startswith("b1 OK"), ok)
        took = [self.noop_until(a, "* 2 FETCH (FLAGS (\\Flagged) UID 2)")]
        self.deliver(4)
        took.append(self.noop_until(a, "* 4 EXISTS"))
        _, ok = b.command("b2", r"STORE 3 +FLAGS.SILENT (\Deleted)")
        b.command("b3", "EXPUNGE")
        took.append(self.noop_until(a, "* 3 EXPUNGE"))
        untagged, ok = a.command("f1", "UID FETCH 1:* (UID)")
        self.assertEqual(untagged, ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 4)"])
        print(f"\npolling NOOP saw another node's STORE / a delivery / an EXPUNGE after "
              f"{', '.join(f'{t * 1000:.1f}' for t in took)} ms")

    def index_reads(self, imapd, result):
        _, text = imapd.http("/metrics")
        m = re.search(r'columba_imapd_index_reads_total\{result="%s"\} (\d+)' % result, text)
        return int(m.group(1)) if m else 0

    def cache_reads(self, imapd, result):
        _, text = imapd.http("/metrics")
        m = re.search(r'columba_imapd_message_cache_reads_total\{result="%s"\} (\d+)' % result, text)
        return int(m.group(1)) if m else 0

    def fetch_flags_until(self, c, want, within=1.0):
        start, seen = time.monotonic(), []
        while True:
            untagged, ok = c.command("ff", "FETCH 1:* (FLAGS)")
            self.assertTrue(ok.startswith("ff OK"), ok)
            seen.append(untagged)
            if untagged == want:
                return time.monotonic() - start
            self.assertLess(time.monotonic() - start, within, f"FETCH FLAGS never showed {want}: {seen[-3:]}")
            time.sleep(0.005)

    def test_fetch_flags_from_the_index(self):
        """FETCH (FLAGS) answers from this imapd's index of the mailbox (mailbox_index.h) while
        the Watch stream vouches for it, and still shows every change: at once when made
        through this imapd, within a second through another one."""
        a = self.session(self.imapd)
        plain = ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())", "* 3 FETCH (FLAGS ())"]
        deadline = time.monotonic() + 5
        while True:  # the stream becomes ready, the index is built, then read
            hits = self.index_reads(self.imapd, "hit")
            untagged, ok = a.command("f0", "FETCH 1:* (FLAGS)")
            self.assertEqual(untagged, plain)
            if self.index_reads(self.imapd, "hit") > hits:
                break
            self.assertLess(time.monotonic(), deadline, "FETCH FLAGS never answered from the index")
            time.sleep(0.05)
        self.assertGreaterEqual(self.index_reads(self.imapd, "built"), 1)

        c = self.session(self.imapd)  # the same imapd: visible at once
        _, ok = c.command("c1", r"STORE 1 +FLAGS.SILENT (\Flagged $Work)")
        self.assertTrue(ok.startswith("c1 OK"), ok)
        untagged, ok = a.command("f1", "FETCH 1:* (FLAGS)")
        self.assertEqual(untagged[0], "* 1 FETCH (FLAGS (\\Flagged $Work))")
        untagged, ok = c.command("c2", "UID FETCH 1 (FLAGS MODSEQ)")  # (CONDSTORE from here on in c)
        self.assertRegex(untagged[0], r"^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \$Work\) MODSEQ \(\d+\)\)$")

        b = self.session(self.imapd2)  # another imapd: within a second
        _, ok = b.command("b1", r"STORE 2 +FLAGS.SILENT (\Seen)")
        self.assertTrue(ok.startswith("b1 OK"), ok)
        self.fetch_flags_until(a, ["* 1 FETCH (FLAGS (\\Flagged $Work))", "* 2 FETCH (FLAGS (\\Seen))",
                                   "* 3 FETCH (FLAGS ())"])
        # Expunged through the other imapd: FETCH leaves it out (RFC 3501 allows it) until
        # NOOP reports the EXPUNGE; a delivery is not in the view before NOOP either.
        b.command("b2", r"STORE 3 +FLAGS.SILENT (\Deleted)")
        b.command("b3", "EXPUNGE")
        self.deliver(4)
        self.fetch_flags_until(a, ["* 1 FETCH (FLAGS (\\Flagged $Work))", "* 2 FETCH (FLAGS (\\Seen))"])
        untagged, ok = a.command("n1", "NOOP")
        self.assertIn("* 3 EXPUNGE", untagged)
        self.assertIn("* 3 EXISTS", untagged)
        untagged, ok = a.command("f3", "UID FETCH 1:* (FLAGS)")
        self.assertEqual(untagged, ["* 1 FETCH (UID 1 FLAGS (\\Flagged $Work))", "* 2 FETCH (UID 2 FLAGS (\\Seen))",
                                    "* 3 FETCH (UID 4 FLAGS ())"])
        # ENVELOPE, size and body: the second time from the message cache (message_cache.h),
        # with the index's current flags; the same answer as from metad.
        hits = self.cache_reads(self.imapd, "hit")
        first, ok = a.command("g1", "UID FETCH 2 (FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])")
        self.assertTrue(ok.startswith("g1 OK"), ok)
        again, ok = a.command("g2", "UID FETCH 2 (FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])")
        self.assertEqual(again, first)
        self.assertIn("FLAGS (\\Seen)", first[0])
        self.assertGreater(self.cache_reads(self.imapd, "hit"), hits)
        _, ok = c.command("c3", r"STORE 2 +FLAGS.SILENT (\Answered)")
        untagged, ok = a.command("g3", "UID FETCH 2 (FLAGS RFC822.SIZE)")
        self.assertRegex(untagged[0], r"^\* 2 FETCH \(UID 2 FLAGS \(\\Answered \\Seen\) RFC822.SIZE \d+\)$")
        # SELECT takes its view from the index too (no scan in metad): the same answer.
        _, ok = b.command("b4", r"STORE 1 +FLAGS.SILENT (\Seen)")
        reads = sum(self.index_reads(self.imapd, r) for r in ("hit", "refreshed"))
        d = self.session(self.imapd, select=False)
        untagged, ok = d.command("s", "SELECT INBOX")
        self.assertTrue(ok.startswith("s OK"), ok)
        self.assertGreater(sum(self.index_reads(self.imapd, r) for r in ("hit", "refreshed")), reads)
        self.assertIn("* 3 EXISTS", untagged)
        self.assertIn("* OK [UNSEEN 3] First unseen.", untagged)
        self.assertIn("* OK [UIDNEXT 5] Predicted next UID.", untagged)
        modseq = max(m["modseq"] for m in self.stack.messages(self.user))
        self.assertIn(f"* OK [HIGHESTMODSEQ {modseq}] Highest.", untagged)
        untagged, ok = d.command("f", "UID FETCH 1:* (FLAGS)")
        self.assertEqual(untagged, ["* 1 FETCH (UID 1 FLAGS (\\Flagged \\Seen $Work))",
                                    "* 2 FETCH (UID 2 FLAGS (\\Answered \\Seen))", "* 3 FETCH (UID 4 FLAGS ())"])

    def test_idle_reports_other_node_flag_change(self):
        a = self.session(self.imapd)
        b = self.session(self.imapd2)
        a.send("i1 IDLE")
        self.assertEqual(a.line(), "+ idling")
        time.sleep(0.3)
        _, ok = b.command("b1", r"STORE 3 +FLAGS (\Flagged)")
        self.assertTrue(ok.startswith("b1 OK"), ok)
        line = a.line(timeout=2)
        self.assertTrue(re.match(r"\* 3 FETCH \(FLAGS \(\\Flagged\) UID 3\)", line), line)
        a.send("DONE")
        self.assertEqual(a.line(), "i1 OK IDLE terminated.")

    def test_noop_reports_other_node_flag_change(self):
        a = self.session(self.imapd)
        b = self.session(self.imapd2)
        _, ok = b.command("b1", r"STORE 2 +FLAGS (\Seen)")
        self.assertTrue(ok.startswith("b1 OK"), ok)
        untagged, ok = a.command("n1", "NOOP")
        self.assertTrue(ok.startswith("n1 OK"), ok)
        self.assertTrue(any(l.startswith("* 2 FETCH (FLAGS (\\Seen") for l in untagged), untagged)
        # Reported once: the next NOOP is quiet.
        untagged, ok = a.command("n2", "NOOP")
        self.assertEqual(untagged, [])

    def test_noop_reports_other_node_expunge(self):
        a = self.session(self.imapd)
        b = self.session(self.imapd2)
        _, ok = b.command("b1", r"STORE 2 +FLAGS.SILENT (\Deleted)")
        self.assertTrue(ok.startswith("b1 OK"), ok)
        untagged, ok = b.command("b2", "EXPUNGE")
        self.assertEqual(untagged, ["* 2 EXPUNGE"])
        # FETCH must not report the EXPUNGE (RFC 3501 7.4.1).
        untagged, ok = a.command("f0", "FETCH 1:* (UID)")
        self.assertTrue(ok.startswith("f0 OK"), ok)
        self.assertFalse(any("EXPUNGE" in l for l in untagged), untagged)
        untagged, ok = a.command("n1", "CHECK")
        self.assertTrue(ok.startswith("n1 OK"), ok)
        self.assertIn("* 2 EXPUNGE", untagged)
        untagged, ok = a.command("f1", "FETCH 1:* (UID)")
        self.assertTrue(ok.startswith("f1 OK"), ok)
        self.assertEqual(untagged, ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"])

    def test_noop_expunge_and_exists_order(self):
        a = self.session(self.imapd)
        b = self.session(self.imapd2)
        _, ok = b.command("b1", r"STORE 1,3 +FLAGS.SILENT (\Deleted)")
        self.assertTrue(ok.startswith("b1 OK"), ok)
        b.command("b2", "EXPUNGE")
        self.deliver(4)
        untagged, ok = a.command("n1", "NOOP")
        self.assertTrue(ok.startswith("n1 OK"), ok)
        self.assertEqual(untagged[:3], ["* 3 EXPUNGE", "* 1 EXPUNGE", "* 2 EXISTS"], untagged)
        untagged, ok = a.command("f1", "UID FETCH 1:* (UID)")
        self.assertEqual(untagged, ["* 1 FETCH (UID 2)", "* 2 FETCH (UID 4)"])

    def test_idle_without_selected_mailbox(self):
        a = self.session(self.imapd, select=False)
        a.send("i1 IDLE")
        self.assertEqual(a.line(), "+ idling")
        a.send("DONE")
        self.assertEqual(a.line(), "i1 OK IDLE terminated.")

    def test_idle_wrong_continuation(self):
        a = self.session(self.imapd)
        a.send("i1 IDLE")
        self.assertEqual(a.line(), "+ idling")
        a.send("NOPE")
        self.assertTrue(a.line().startswith("i1 BAD"))
        _, ok = a.command("n1", "NOOP")
        self.assertTrue(ok.startswith("n1 OK"), ok)

    def test_idle_timeout(self):
        a = self.session(self.imapd_short)
        a.send("i1 IDLE")
        self.assertEqual(a.line(), "+ idling")
        start = time.monotonic()
        self.assertEqual(a.line(timeout=6), "* BYE Autologout; idle for too long.")
        self.assertGreater(time.monotonic() - start, 1.5)
        with self.assertRaises(ConnectionError):
            a.line(timeout=3)
        c = self.session(self.imapd_short)
        _, ok = c.command("n1", "NOOP")
        self.assertTrue(ok.startswith("n1 OK"), ok)

    def test_disconnect_during_idle(self):
        for _ in range(3):
            a = self.session(self.imapd)
            a.send("i1 IDLE")
            self.assertEqual(a.line(), "+ idling")
            time.sleep(0.2)
            a.close()
        time.sleep(0.5)
        # The server goes on: a new session works, and gets updates while idle.
        c = self.session(self.imapd)
        _, ok = c.command("n1", "NOOP")
        self.assertTrue(ok.startswith("n1 OK"), ok)
        c.send("i2 IDLE")
        self.assertEqual(c.line(), "+ idling")
        time.sleep(0.3)
        self.deliver(5)
        self.assertEqual(c.line(timeout=2), "* 4 EXISTS")
        c.send("DONE")
        self.assertEqual(c.line(), "i2 OK IDLE terminated.")
        self.assertEqual(self.imapd.http("/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main()
