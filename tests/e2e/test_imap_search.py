"""test_imap_search.py - SEARCH / UID SEARCH / ESEARCH of columba-imapd end to end: real
imapd + lmtpd + metad + PostgreSQL + slapd, driven with Python's imaplib and a raw socket.

Five varied messages are delivered over LMTP (subjects, senders, sizes, a body word, a
custom header, a Latin-1 encoded-word subject, Date: headers on known days), then
searched. Flags are set with a non-PEEK FETCH (which sets \\Seen), not with STORE.
"""
import imaplib
import re
import smtplib
import time
import unittest

from pylib.stack import Stack
from pylib.imap_client import RawImap


def msg(frm, subject, date, body, extra=b""):
    return (b"From: " + frm + b"\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Date: " + date + b"\r\n" + extra +
            b"\r\n" + body)


MESSAGES = [
    # 1: small, body word "zebra", sent in January
    msg(b"Alice <alice@example.org>", b"quarterly report", b"Sat, 10 Jan 2026 10:00:00 +0000",
        b"The zebra numbers are in.\r\n"),
    # 2: custom header
    msg(b"Carol <carol@example.org>", b"lunch plans", b"Fri, 20 Nov 2026 12:00:00 +0000",
        b"Noon?\r\n", extra=b"X-Custom: blue-sky\r\n"),
    # 3: Latin-1 encoded-word subject ("Caf\xe9 meeting")
    msg(b"Dave <dave@example.org>", b"=?ISO-8859-1?Q?Caf=E9_meeting?=", b"Sat, 21 Nov 2026 09:00:00 +0000",
        b"See you there.\r\n"),
    # 4: large
    msg(b"Alice <alice@example.org>", b"big attachment", b"Sun, 22 Nov 2026 08:00:00 +0000",
        b"".join(b"line %05d of a large message body\r\n" % i for i in range(600))),
    # 5: Cc, body word "xylophone"
    msg(b"Erin <erin@example.org>", b"hello again", b"Mon, 23 Nov 2026 08:00:00 +0000",
        b"Bring the xylophone.\r\n", extra=b"Cc: Frank <frank@example.org>\r\n"),
]


def imap_date(t):
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    g = time.gmtime(t)
    return f"{g.tm_mday}-{months[g.tm_mon - 1]}-{g.tm_year}"


class ImapSearch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapsearch")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()
        cls.user = st.add_user("bob", password="search-secret")
        with smtplib.LMTP("127.0.0.1", cls.lmtpd.port) as lmtp:
            for m in MESSAGES:
                refused = lmtp.sendmail("alice@example.org", [cls.user], m)
                assert not refused, refused
        cls.stored = sorted(st.messages(cls.user), key=lambda r: r["uid"])
        assert len(cls.stored) == 5, cls.stored
        cls.uids = [r["uid"] for r in cls.stored]

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        self.c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        self.c.login(self.user, "search-secret")
        typ, _ = self.c.select("INBOX")
        self.assertEqual(typ, "OK")

    def tearDown(self):
        try:
            self.c.logout()
        except Exception:
            pass

    def search(self, *criteria, charset=None):
        typ, data = self.c.search(charset, *criteria)
        self.assertEqual(typ, "OK", data)
        return [int(x) for x in data[0].split()]

    def uid_search(self, *criteria):
        typ, data = self.c.uid("SEARCH", *criteria)
        self.assertEqual(typ, "OK", data)
        return [int(x) for x in data[0].split()]

    def raw(self):
        r = RawImap(self.imapd.port)  # reads the greeting
        _, done = r.command("l", f'LOGIN "{self.user}" "search-secret"')
        self.assertTrue(done.startswith("l OK"), done)
        _, done = r.command("s", "SELECT INBOX")
        self.assertTrue(done.startswith("s OK"), done)
        return r

    def test_all_and_text_keys(self):
        self.assertEqual(self.search("ALL"), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("SUBJECT", "report"), [1])
        self.assertEqual(self.search("SUBJECT", "REPORT"), [1])  # case-insensitive
        self.assertEqual(self.search("FROM", "alice"), [1, 4])
        self.assertEqual(self.search("TO", "bob"), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("CC", "frank"), [5])
        self.assertEqual(self.search("BODY", "zebra"), [1])
        self.assertEqual(self.search("BODY", "blue-sky"), [])  # a header, not the body
        self.assertEqual(self.search("TEXT", "xylophone"), [5])
        self.assertEqual(self.search("TEXT", "blue-sky"), [2])
        self.assertEqual(self.search("HEADER", "X-Custom", "blue"), [2])
        self.assertEqual(self.search("HEADER", "X-Custom", '""'), [2])  # header present
        self.assertEqual(self.search("SUBJECT", "nonexistent"), [])
        self.assertEqual(self.search("SUBJECT", '"meeting"'), [3])  # decoded encoded-word

    def test_sizes_and_logic(self):
        self.assertEqual(self.search("LARGER", "10000"), [4])
        self.assertEqual(self.search("SMALLER", "10000"), [1, 2, 3, 5])
        self.assertEqual(self.search("OR", "FROM", "carol", "FROM", "dave"), [2, 3])
        self.assertEqual(self.search("NOT", "FROM", "alice"), [2, 3, 5])
        self.assertEqual(self.search("FROM", "alice", "SMALLER", "10000"), [1])
        self.assertEqual(self.search("OR", "(FROM alice SUBJECT big)", "FROM", "erin"), [4, 5])
        self.assertEqual(self.search("NOT", "(FROM alice SUBJECT big)"), [1, 2, 3, 5])
        self.assertEqual(self.search("NOT", "OR", "FROM", "alice", "FROM", "erin"), [2, 3])

    def test_sequence_sets_and_uids(self):
        self.assertEqual(self.search("2:3"), [2, 3])
        self.assertEqual(self.search("*"), [5])
        self.assertEqual(self.search("2:*", "FROM", "alice"), [4])
        self.assertEqual(self.search("1,3,5", "NOT", "3"), [1, 5])
        self.assertEqual(self.search("4:99"), [4, 5])  # numbers above EXISTS are ignored
        u = self.uids
        self.assertEqual(self.uid_search("ALL"), u)
        self.assertEqual(self.uid_search("FROM", "alice"), [u[0], u[3]])
        self.assertEqual(self.uid_search("UID", f"{u[1]}:{u[2]}"), [u[1], u[2]])
        self.assertEqual(self.search("UID", f"{u[1]}:{u[2]}"), [2, 3])
        self.assertEqual(self.uid_search("UID", "*"), [u[4]])
        self.assertEqual(self.uid_search("2:3"), [u[1], u[2]])  # sequence numbers inside UID SEARCH

    def test_dates(self):
        now = time.time()
        today, tomorrow = imap_date(now), imap_date(now + 86400)
        self.assertEqual(self.search("SINCE", today), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("BEFORE", today), [])
        self.assertEqual(self.search("ON", today), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("BEFORE", tomorrow), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("SINCE", tomorrow), [])
        self.assertEqual(self.search("SENTBEFORE", "1-Feb-2026"), [1])
        self.assertEqual(self.search("SENTSINCE", "21-Nov-2026"), [3, 4, 5])
        self.assertEqual(self.search("SENTON", "21-Nov-2026"), [3])

    def test_charset(self):
        self.c.literal = "Café".encode()
        self.assertEqual(self.search("SUBJECT", charset="UTF-8"), [3])
        self.assertEqual(self.search("SUBJECT", "lunch", charset="US-ASCII"), [2])
        typ, data = self.c.search("KOI8-R", "SUBJECT", "lunch")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[BADCHARSET (US-ASCII UTF-8)]", data[0])

    def test_recent_new_old(self):
        self.assertEqual(self.search("RECENT"), [])
        self.assertEqual(self.search("NEW"), [])
        self.assertEqual(self.search("OLD"), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("NOT", "RECENT"), [1, 2, 3, 4, 5])

    def test_esearch(self):
        r = self.raw()
        untagged, done = r.command("e1", "SEARCH RETURN (MIN MAX COUNT) ALL")
        self.assertEqual(done, "e1 OK Search completed.")
        self.assertEqual(untagged, ['* ESEARCH (TAG "e1") MIN 1 MAX 5 COUNT 5'])
        untagged, done = r.command("e2", "SEARCH RETURN () FROM alice")
        self.assertEqual(untagged, ['* ESEARCH (TAG "e2") ALL 1,4'])
        u = self.uids
        untagged, done = r.command("e3", "UID SEARCH RETURN (ALL COUNT) 2:3")
        self.assertEqual(untagged, [f'* ESEARCH (TAG "e3") UID COUNT 2 ALL {u[1]}:{u[2]}'])
        untagged, done = r.command("e4", "SEARCH RETURN (MIN MAX COUNT) SUBJECT nonexistent")
        self.assertEqual(untagged, ['* ESEARCH (TAG "e4") COUNT 0'])
        # SAVE alone (SEARCHRES, tests/e2e/test_imap_extensions.py): no ESEARCH answer.
        untagged, done = r.command("e5", "SEARCH RETURN (SAVE) ALL")
        self.assertEqual((untagged, done), ([], "e5 OK Search completed."))
        untagged, done = r.command("e6", "SEARCH CHARSET ISO-2022-JP ALL")
        self.assertEqual(done, "e6 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.")
        r.command("z", "LOGOUT")
        r.close()

    def test_seen_flags_and_modseq(self):
        # Everything is unseen after delivery; a non-PEEK body fetch sets \Seen on 2.
        self.assertEqual(self.search("UNSEEN"), [1, 2, 3, 4, 5])
        typ, _ = self.c.fetch("2", "(BODY[TEXT])")
        self.assertEqual(typ, "OK")
        self.assertEqual(self.search("SEEN"), [2])
        self.assertEqual(self.search("UNSEEN"), [1, 3, 4, 5])
        self.assertEqual(self.search("UNSEEN", "FROM", "carol"), [])
        self.assertEqual(self.search("FLAGGED"), [])
        self.assertEqual(self.search("UNFLAGGED"), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("DELETED"), [])
        self.assertEqual(self.search("UNANSWERED", "UNDRAFT", "UNDELETED"), [1, 2, 3, 4, 5])
        self.assertEqual(self.search("KEYWORD", "$Forwarded"), [])
        self.assertEqual(self.search("UNKEYWORD", "$Forwarded"), [1, 2, 3, 4, 5])

        # MODSEQ criterion: (MODSEQ n) with the highest mod-sequence of the matches.
        typ, data = self.c.fetch("1:*", "(MODSEQ)")
        self.assertEqual(typ, "OK")
        modseqs = {int(m.group(1)): int(m.group(2))
                   for m in (re.match(rb"(\d+) \(MODSEQ \((\d+)\)\)", d) for d in data) if m}
        self.assertEqual(len(modseqs), 5, data)
        top = max(modseqs.values())
        r = self.raw()
        untagged, done = r.command("m1", "SEARCH MODSEQ 1")
        self.assertEqual(done, "m1 OK Search completed.")
        self.assertEqual(untagged, [f"* SEARCH 1 2 3 4 5 (MODSEQ {top})"])
        untagged, _ = r.command("m2", f"SEARCH MODSEQ {modseqs[2]}")
        expected = sorted(n for n, m in modseqs.items() if m >= modseqs[2])
        self.assertEqual(untagged, ["* SEARCH " + " ".join(map(str, expected)) + f" (MODSEQ {top})"])
        untagged, _ = r.command("m3", f"SEARCH MODSEQ {top + 1}")
        self.assertEqual(untagged, ["* SEARCH"])
        untagged, _ = r.command("m4", "SEARCH RETURN (MIN) MODSEQ 1")
        self.assertEqual(untagged, [f'* ESEARCH (TAG "m4") MIN 1 MODSEQ {modseqs[1]}'])
        r.command("z", "LOGOUT")
        r.close()

    def test_unannounced_messages_are_not_reported(self):
        # Another user: a message delivered after SELECT is not in the session's view.
        user = self.stack.add_user("carl", password="search-secret")
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            lmtp.sendmail("alice@example.org", [user], MESSAGES[0])
        c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        c.login(user, "search-secret")
        c.select("INBOX")
        first = self.stack.messages(user)[0]["uid"]
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            lmtp.sendmail("alice@example.org", [user], MESSAGES[1])
        self.assertEqual(len(self.stack.messages(user)), 2)
        typ, data = c.search(None, "ALL")
        self.assertEqual((typ, data[0]), ("OK", b"1"))
        typ, data = c.uid("SEARCH", "ALL")
        self.assertEqual((typ, data[0]), ("OK", str(first).encode()))
        c.logout()


if __name__ == "__main__":
    unittest.main()
