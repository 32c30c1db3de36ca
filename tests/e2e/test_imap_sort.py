"""test_imap_sort.py - SORT / UID SORT and THREAD (REFERENCES, ORDEREDSUBJECT) / UID THREAD
of columba-imapd end to end (RFC 5256): real imapd + lmtpd + metad + PostgreSQL + slapd,
driven with a raw IMAP client so the exact response lines are checked.

Nine messages with chosen Date/From/Cc/Subject/Message-ID/References headers are delivered
over LMTP in two batches a second apart (so ARRIVAL has two distinct internal dates); one
has no Date: header, so DATE falls back to its internal date (now, later than every Date:).
The expected orders and threads below are worked out by hand from RFC 5256.
"""
import re
import smtplib
import time
import unittest
from datetime import datetime

from pylib.stack import Stack
from pylib.imap_client import RawImap


def msg(n, frm, subject, date=None, refs=None, irt=None, cc=None, body=b"hello\r\n"):
    h = b"From: " + frm + b"\r\nTo: Bob <bob@example.test>\r\nSubject: " + subject + b"\r\n"
    if date:
        h += b"Date: " + date + b"\r\n"
    h += b"Message-ID: <m%d@example.org>\r\n" % n
    if refs:
        h += b"References: " + refs + b"\r\n"
    if irt:
        h += b"In-Reply-To: " + irt + b"\r\n"
    if cc:
        h += b"Cc: " + cc + b"\r\n"
    return h + b"\r\n" + body


BATCH1 = [
    # 1: the thread starter
    msg(1, b"Zed <zed@example.org>", b"Lunch plans", b"Sat, 10 Jan 2026 10:00:00 +0000"),
    # 2: reply to 1
    msg(2, b"alice@example.org", b"Re: Lunch plans", b"Sun, 11 Jan 2026 10:00:00 +0000",
        refs=b"<m1@example.org>", irt=b"<m1@example.org>"),
    # 3: a forward, large, with Cc
    msg(3, b"\"Bob\" <Bob@example.org>", b"[fwd: Budget]", b"Mon, 05 Jan 2026 10:00:00 +0000",
        cc=b"Carol <carol@example.org>",
        body=b"".join(b"line %05d of the forwarded budget\r\n" % i for i in range(300))),
    # 4: reply to 2, References only
    msg(4, b"Mike <mike@example.org>", b"Re: Re: Lunch plans", b"Mon, 12 Jan 2026 10:00:00 +0000",
        refs=b"<m1@example.org>\r\n <m2@example.org>"),
    # 5: no Date: header; a name with a comma
    msg(5, b"\"Doe, Dan\" <dan@example.org>", b"budget", None, cc=b"aaron@example.org"),
]
BATCH2 = [
    # 6: reply to 1 dated before it
    msg(6, b"Erin <erin@example.org>", b"Re: Lunch plans", b"Fri, 09 Jan 2026 10:00:00 +0000",
        irt=b"<m1@example.org>"),
    # 7, 8: replies to a message that is not in the mailbox
    msg(7, b"carol@example.org", b"Offsite", b"Wed, 07 Jan 2026 10:00:00 +0000", refs=b"<missing@example.org>"),
    msg(8, b"carol@example.org", b"Re: Offsite", b"Thu, 08 Jan 2026 10:00:00 +0000",
        refs=b"<missing@example.org>"),
    # 9: an encoded-word subject and name ("Été", "Zoé")
    msg(9, b"=?UTF-8?Q?Zo=C3=A9?= <zoe@example.org>", b"=?UTF-8?Q?=C3=89t=C3=A9?=",
        b"Tue, 06 Jan 2026 10:00:00 +0000"),
]


class ImapSort(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapsort")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()
        cls.user = st.add_user("bob", password="sort-secret")
        for i, batch in enumerate([BATCH1, BATCH2]):
            if i:
                time.sleep(1.1)  # a later internal date for the second batch
            with smtplib.LMTP("127.0.0.1", cls.lmtpd.port) as lmtp:
                for m in batch:
                    refused = lmtp.sendmail("alice@example.org", [cls.user], m)
                    assert not refused, refused
        cls.stored = sorted(st.messages(cls.user), key=lambda r: r["uid"])
        assert len(cls.stored) == 9, cls.stored
        cls.uids = [r["uid"] for r in cls.stored]

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        self.r = RawImap(self.imapd.port)
        _, done = self.r.command("l", f'LOGIN "{self.user}" "sort-secret"')
        self.assertTrue(done.startswith("l OK"), done)
        _, done = self.r.command("s", "SELECT INBOX")
        self.assertTrue(done.startswith("s OK"), done)

    def tearDown(self):
        try:
            self.r.command("z", "LOGOUT")
        except Exception:
            pass
        self.r.close()

    def sort(self, args, uid=False):
        untagged, done = self.r.command("t", ("UID SORT " if uid else "SORT ") + args)
        self.assertEqual(done, "t OK UID SORT completed." if uid else "t OK SORT completed.")
        lines = [l for l in untagged if l.startswith("* SORT")]
        self.assertEqual(len(lines), 1, untagged)
        return [int(x) for x in lines[0].split()[2:]]

    def thread(self, args, uid=False):
        untagged, done = self.r.command("t", ("UID THREAD " if uid else "THREAD ") + args)
        self.assertEqual(done, "t OK UID THREAD completed." if uid else "t OK THREAD completed.")
        lines = [l for l in untagged if l.startswith("* THREAD")]
        self.assertEqual(len(lines), 1, untagged)
        return lines[0][len("* THREAD "):]

    def fetch_numbers(self, item):
        """{seq: value} of a numeric FETCH item, read with the raw client."""
        untagged, done = self.r.command("f", f"FETCH 1:* ({item})")
        self.assertTrue(done.startswith("f OK"), done)
        out = {}
        for l in untagged:
            parts = l.split()
            out[int(parts[1])] = parts[parts.index("(" + item) + 1].rstrip(")")
        return out

    def test_sort_keys(self):
        self.assertEqual(self.sort("(SUBJECT) UTF-8 ALL"), [3, 5, 1, 2, 4, 6, 7, 8, 9])
        self.assertEqual(self.sort("(DATE) UTF-8 ALL"), [3, 9, 7, 8, 6, 1, 2, 4, 5])
        self.assertEqual(self.sort("(REVERSE DATE) UTF-8 ALL"), [5, 4, 2, 1, 6, 8, 7, 9, 3])
        self.assertEqual(self.sort("(FROM) UTF-8 ALL"), [2, 3, 7, 8, 5, 6, 4, 1, 9])
        self.assertEqual(self.sort("(CC) US-ASCII ALL"), [1, 2, 4, 6, 7, 8, 9, 5, 3])
        self.assertEqual(self.sort("(SUBJECT REVERSE DATE) UTF-8 ALL"), [5, 3, 4, 2, 1, 6, 8, 7, 9])
        self.assertEqual(self.sort("(TO FROM) UTF-8 ALL"), [2, 3, 7, 8, 5, 6, 4, 1, 9])  # all To: tie

    def test_sort_display(self):
        # RFC 5957 (SORT=DISPLAY): the first From's display name, or its addr-spec when it
        # has none, compared case-insensitively: alice@..., Bob, carol@... (7, 8),
        # "Doe, Dan", Erin, Mike, Zed, Zoé.
        untagged, _ = self.r.command("c", "CAPABILITY")
        self.assertIn("SORT=DISPLAY", untagged[0])
        self.assertEqual(self.sort("(DISPLAYFROM) UTF-8 ALL"), [2, 3, 7, 8, 5, 6, 4, 1, 9])
        self.assertEqual(self.sort("(REVERSE DISPLAYFROM) UTF-8 ALL"), [9, 1, 4, 6, 5, 7, 8, 3, 2])

    def test_sort_size_and_arrival(self):
        sizes = {k: int(v) for k, v in self.fetch_numbers("RFC822.SIZE").items()}
        self.assertEqual(self.sort("(SIZE) UTF-8 ALL"), sorted(sizes, key=lambda s: (sizes[s], s)))
        self.assertEqual(self.sort("(REVERSE SIZE) UTF-8 ALL"), sorted(sizes, key=lambda s: (-sizes[s], s)))
        self.assertEqual(self.sort("(REVERSE SIZE) UTF-8 ALL")[0], 3)
        # Two batches a second apart: REVERSE ARRIVAL puts the second batch first;
        # equal internal dates (whole seconds) keep mailbox order.
        untagged, _ = self.r.command("f", "FETCH 1:* (INTERNALDATE)")
        arrival = {}
        for l in untagged:
            m = re.match(r'\* (\d+) FETCH \(INTERNALDATE "([^"]+)"\)', l)
            self.assertIsNotNone(m, l)
            arrival[int(m.group(1))] = datetime.strptime(m.group(2), "%d-%b-%Y %H:%M:%S %z")
        reverse = self.sort("(REVERSE ARRIVAL) UTF-8 ALL")
        self.assertEqual(reverse, sorted(arrival, key=lambda s: (-arrival[s].timestamp(), s)))
        # The second batch first (its deliveries may straddle a second boundary on a
        # loaded machine, so only the set is fixed; the order is checked just above).
        self.assertEqual(sorted(reverse[:4]), [6, 7, 8, 9])
        self.assertEqual(self.sort("(ARRIVAL) UTF-8 ALL"), list(range(1, 10)))

    def test_sort_with_search_keys_and_uids(self):
        u = [0] + self.uids  # u[seq]
        self.assertEqual(self.sort("(DATE) UTF-8 FROM carol"), [7, 8])
        self.assertEqual(self.sort("(REVERSE DATE) UTF-8 SUBJECT lunch"), [4, 2, 1, 6])
        self.assertEqual(self.sort("(DATE) UTF-8 SENTBEFORE 7-Jan-2026 SENTSINCE 1-Jan-2026"), [3, 9])
        self.assertEqual(self.sort("(DATE) UTF-8 SUBJECT nonexistent"), [])
        self.assertEqual(self.sort("(DATE) UTF-8 ALL", uid=True), [u[s] for s in [3, 9, 7, 8, 6, 1, 2, 4, 5]])
        self.assertEqual(self.sort("(REVERSE SUBJECT) UTF-8 2:4", uid=True), [u[2], u[4], u[3]])
        self.assertEqual(self.sort(f"(SUBJECT) UTF-8 UID {u[6]}:{u[9]}"), [6, 7, 8, 9])

    def test_sort_errors(self):
        _, done = self.r.command("e1", "SORT (DATE) KOI8-R ALL")
        self.assertEqual(done, "e1 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.")
        _, done = self.r.command("e2", "SORT (NOPE) UTF-8 ALL")
        self.assertTrue(done.startswith("e2 BAD"), done)
        _, done = self.r.command("e3", "SORT DATE UTF-8 ALL")
        self.assertTrue(done.startswith("e3 BAD"), done)

    def test_thread_references(self):
        self.assertEqual(self.thread("REFERENCES UTF-8 ALL"), "(9)((7)(8))(1 (6)(2 4))(5 3)")
        # Without 1, its replies hang from a dummy parent.
        self.assertEqual(self.thread("REFERENCES UTF-8 NOT 1"), "(9)((7)(8))((6)(2 4))(5 3)")
        u = [0] + self.uids
        self.assertEqual(self.thread("REFERENCES UTF-8 SUBJECT lunch", uid=True),
                         f"({u[1]} ({u[6]})({u[2]} {u[4]}))")

    def test_thread_orderedsubject(self):
        self.assertEqual(self.thread("ORDEREDSUBJECT UTF-8 ALL"), "(3 5)(9)(7 8)(6 (1)(2)(4))")
        u = [0] + self.uids
        self.assertEqual(self.thread("ORDEREDSUBJECT US-ASCII FROM carol", uid=True), f"({u[7]} {u[8]})")

    def test_thread_errors_and_empty(self):
        untagged, done = self.r.command("e1", "THREAD REFERENCES UTF-8 SUBJECT nonexistent")
        self.assertEqual(done, "e1 OK THREAD completed.")
        self.assertEqual(untagged, ["* THREAD"])
        _, done = self.r.command("e2", "THREAD FOO UTF-8 ALL")
        self.assertTrue(done.startswith("e2 BAD"), done)
        _, done = self.r.command("e3", "THREAD REFERENCES KOI8-R ALL")
        self.assertEqual(done, "e3 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.")

    def test_needs_selected_mailbox(self):
        r = RawImap(self.imapd.port)
        _, done = r.command("l", f'LOGIN "{self.user}" "sort-secret"')
        self.assertTrue(done.startswith("l OK"), done)
        _, done = r.command("a", "SORT (DATE) UTF-8 ALL")
        self.assertTrue(done.startswith("a BAD") or done.startswith("a NO"), done)
        r.command("z", "LOGOUT")
        r.close()


if __name__ == "__main__":
    unittest.main()
