"""test_imap_store.py - columba-imapd message changes end to end: STORE / UID STORE
(flags, keywords, .SILENT, UNCHANGEDSINCE -> MODIFIED), COPY (COPYUID), MOVE,
EXPUNGE / UID EXPUNGE and APPEND (APPENDUID, TRYCREATE, MULTIAPPEND), against real
imapd + lmtpd + metad + PostgreSQL, driven with Python's imaplib and a raw socket.

Each test gets its own account with three messages delivered over LMTP, so the
tests do not depend on each other's order. What imapd reports is checked against
what metad holds (columbactl message list: flags bitmask 1 \\Seen, 2 \\Answered,
4 \\Flagged, 8 \\Deleted, 16 \\Draft).
"""
import imaplib
import itertools
import re
import smtplib
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack


def message(n):
    return (f"From: Alice <alice@example.org>\r\n"
            f"To: Bob <bob@example.test>\r\n"
            f"Subject: store test {n}\r\n"
            f"Message-ID: <store{n}@example.org>\r\n"
            f"Date: Wed, 25 Nov 2026 10:00:0{n} +0000\r\n"
            f"\r\n"
            f"Body number {n}.\r\n").encode()


APPENDED = (b"From: Dave <dave@example.org>\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Subject: appended\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"\r\n"
            b"Appended over IMAP.\r\n"
            b"Second line, no trailing CRLF")


def flags_of(fetch_line):
    m = re.search(rb"FLAGS \(([^)]*)\)", fetch_line if isinstance(fetch_line, bytes) else fetch_line.encode())
    return set(m.group(1).decode().split()) if m else None


class ImapStore(unittest.TestCase):
    counter = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapstore")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        """A fresh account with three messages (UIDs 1..3), logged in, INBOX selected."""
        self.user = self.stack.add_user(f"store{next(self.counter)}", password="store-secret")
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            for n in (1, 2, 3):
                refused = lmtp.sendmail("alice@example.org", [self.user], message(n))
                self.assertFalse(refused)
        self.assertEqual([m["uid"] for m in self.stack.messages(self.user)], [1, 2, 3])
        self.c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        self.assertEqual(self.c.login(self.user, "store-secret")[0], "OK")
        typ, data = self.c.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"3"]))
        self.c.response("EXISTS")  # select() leaves it in the untagged responses

    def tearDown(self):
        try:
            self.c.logout()
        except Exception:
            pass

    def flags(self, mailbox="INBOX"):
        """{uid: flags bitmask} as metad holds them."""
        return {m["uid"]: int(m["flags"].split("=")[1]) for m in self.stack.messages(self.user, mailbox)}

    def test_store_flags_and_keywords(self):
        c = self.c
        typ, data = c.store("1:2", "+FLAGS", r"(\Seen \Flagged)")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), 2, data)
        for line in data:
            self.assertEqual(flags_of(line), {"\\Seen", "\\Flagged"}, line)
        self.assertTrue(data[0].startswith(b"1 (FLAGS"), data)
        typ, data = c.store("3", "+FLAGS", "($Work)")
        self.assertEqual(typ, "OK")
        self.assertEqual(flags_of(data[0]), {"$Work"})
        self.assertEqual(self.flags(), {1: 5, 2: 5, 3: 0})

        typ, data = c.store("1", "-FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK")
        self.assertEqual(flags_of(data[0]), {"\\Seen"})
        self.assertEqual(self.flags()[1], 1)

        # .SILENT: no untagged FETCH.
        typ, data = c.store("2", "+FLAGS.SILENT", r"(\Answered)")
        self.assertEqual((typ, data), ("OK", [None]))
        self.assertEqual(self.flags()[2], 7)

        # FLAGS replaces system flags and keywords.
        typ, data = c.store("3", "FLAGS", r"(\Draft $Other)")
        self.assertEqual(flags_of(data[0]), {"\\Draft", "$Other"})

        # UID STORE reports the UID too.
        typ, data = c.uid("STORE", "2", "-FLAGS", r"(\Seen \Answered \Flagged)")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), 1, data)
        self.assertRegex(data[0].decode(), r"^2 \(FLAGS \(\) UID 2\)$")
        self.assertEqual(self.flags(), {1: 1, 2: 0, 3: 16})

        # A STORE that changes nothing sends no FETCH; the keywords are as FETCH reports them.
        typ, data = c.store("1", "+FLAGS", r"(\Seen)")
        self.assertEqual((typ, data), ("OK", [None]))
        typ, data = c.fetch("1:3", "(FLAGS)")
        self.assertEqual([flags_of(d) for d in data], [{"\\Seen"}, set(), {"\\Draft", "$Other"}])

        # Invalid flags and sequence numbers.
        with self.assertRaises(imaplib.IMAP4.error):
            c.store("1", "+FLAGS", r"(\Bogus)")
        with self.assertRaises(imaplib.IMAP4.error):
            c.store("9", "+FLAGS", r"(\Seen)")

    def test_store_unchangedsince(self):
        c = self.c
        c.store("1", "+FLAGS", r"(\Seen)")
        modseq1 = {m["uid"]: m["modseq"] for m in self.stack.messages(self.user)}[1]
        self.assertGreater(modseq1, 1)
        typ, data = c._simple_command("STORE", "1", "(UNCHANGEDSINCE 1)", "+FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"[MODIFIED 1]", data[0])
        self.assertEqual(self.flags()[1], 1)  # unchanged
        c.response("FETCH")

        # UID STORE: the MODIFIED set holds UIDs; unchanged messages are stored.
        typ, data = c._simple_command("UID", "STORE", "1:3", f"(UNCHANGEDSINCE {modseq1 - 1})", "+FLAGS",
                                      r"(\Answered)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"[MODIFIED 1]", data[0])
        self.assertEqual(self.flags(), {1: 1, 2: 2, 3: 2})
        typ, fetches = c.response("FETCH")
        self.assertEqual(len(fetches), 2, fetches)
        for f in fetches:
            self.assertRegex(f.decode(), r"^\d \(FLAGS \(\\Answered\) UID \d MODSEQ \(\d+\)\)$")

        # A high enough UNCHANGEDSINCE succeeds and reports MODSEQ.
        typ, data = c._simple_command("STORE", "1", "(UNCHANGEDSINCE 1000000)", "+FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK")
        self.assertNotIn(b"MODIFIED", data[0])
        typ, fetches = c.response("FETCH")
        self.assertRegex(fetches[0].decode(), r"^1 \(FLAGS \([^)]*\) MODSEQ \(\d+\)\)$")
        self.assertEqual(flags_of(fetches[0]), {"\\Seen", "\\Flagged"})
        self.assertEqual(self.flags()[1], 5)

    def test_copy(self):
        c = self.c
        c.store("2", "+FLAGS", r"(\Flagged)")
        typ, data = c.copy("2:3", "Archive")
        self.assertEqual(typ, "OK")
        m = re.match(rb"\[COPYUID (\d+) 2:3 1:2\]", data[0])
        self.assertTrue(m, data)
        archive = self.stack.messages(self.user, "Archive")
        self.assertEqual([a["uid"] for a in archive], [1, 2])
        self.assertEqual([a["subject"] for a in archive], ["store test 2", "store test 3"])
        self.assertEqual(self.flags("Archive"), {1: 4, 2: 0})
        self.assertEqual(len(self.stack.messages(self.user)), 3)  # source untouched
        typ, status = c.status("Archive", "(UIDVALIDITY)")
        if typ == "OK":  # STATUS may come with the manage commands
            self.assertIn(b"UIDVALIDITY " + m.group(1), status[0])

        typ, data = c._simple_command("UID", "COPY", "1", "Archive")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[COPYUID \d+ 1 3\]")

        typ, data = c.copy("1", "NoSuchBox")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])

        # COPY into the selected mailbox: the new message is announced.
        typ, data = c.copy("1", "INBOX")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[COPYUID \d+ 1 4\]")
        self.assertEqual(c.response("EXISTS"), ("EXISTS", [b"4"]))
        typ, data = c.fetch("4", "(UID)")
        # imaplib files unsolicited FETCH (FLAGS) updates, which the sync after COPY may
        # send for earlier flag changes, under the same name: look for the solicited one.
        self.assertIn(b"4 (UID 4)", data)

    def test_move(self):
        c = self.c
        typ, data = c._simple_command("MOVE", "2", "Trash")
        self.assertEqual(typ, "OK")
        typ, codes = c.response("COPYUID")
        self.assertEqual(len(codes), 1, codes)
        self.assertRegex(codes[0].decode(), r"^\d+ 2 1$")
        self.assertEqual(c.response("EXPUNGE"), ("EXPUNGE", [b"2"]))
        self.assertEqual([m["uid"] for m in self.stack.messages(self.user)], [1, 3])
        trash = self.stack.messages(self.user, "Trash")
        self.assertEqual([(m["uid"], m["subject"]) for m in trash], [(1, "store test 2")])
        typ, data = c.fetch("1:*", "(UID)")
        self.assertEqual(data, [b"1 (UID 1)", b"2 (UID 3)"])

        # UID MOVE of several: EXPUNGEs in descending sequence order.
        typ, data = c._simple_command("UID", "MOVE", "1,3", "Trash")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.response("EXPUNGE"), ("EXPUNGE", [b"2", b"1"]))
        typ, codes = c.response("COPYUID")
        self.assertRegex(codes[0].decode(), r"^\d+ 1,3 2:3$")
        self.assertEqual(self.stack.messages(self.user), [])
        self.assertEqual(len(self.stack.messages(self.user, "Trash")), 3)

        with self.assertRaises(imaplib.IMAP4.error):  # BAD: the mailbox is empty now
            c._simple_command("MOVE", "1", "Trash")
        typ, data = c.select("INBOX")
        self.assertEqual(data, [b"0"])
        c.select("Trash")
        typ, data = c._simple_command("MOVE", "1", "Nowhere")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])

    def test_expunge(self):
        c = self.c
        typ, data = c.store("1:3", "+FLAGS.SILENT", r"(\Deleted)")
        self.assertEqual(typ, "OK")
        self.assertEqual(self.flags(), {1: 8, 2: 8, 3: 8})
        # UID EXPUNGE of one UID only.
        typ, data = c.uid("EXPUNGE", "2")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.response("EXPUNGE"), ("EXPUNGE", [b"2"]))
        self.assertEqual(sorted(self.flags()), [1, 3])
        typ, data = c.fetch("1:*", "(UID)")
        self.assertEqual(data, [b"1 (UID 1)", b"2 (UID 3)"])
        # A message without \Deleted stays; EXPUNGE reports in descending order.
        c.store("2", "-FLAGS", r"(\Deleted)")
        typ, data = c.uid("EXPUNGE", "3")
        self.assertEqual(c.response("EXPUNGE"), ("EXPUNGE", [None]))
        self.assertEqual(sorted(self.flags()), [1, 3])
        c.store("2", "+FLAGS", r"(\Deleted)")
        typ, data = c.expunge()
        self.assertEqual((typ, data), ("OK", [b"2", b"1"]))
        self.assertEqual(self.stack.messages(self.user), [])
        typ, data = c.expunge()
        self.assertEqual((typ, data), ("OK", [None]))

        # EXAMINE: read-only, EXPUNGE refused.
        c.select("INBOX", readonly=True)
        typ, data = c._simple_command("EXPUNGE")
        self.assertEqual(typ, "NO")

    def test_append(self):
        c = self.c
        typ, data = c.append("INBOX", r"(\Seen $Label)", '"01-Feb-2026 10:00:00 +0100"', APPENDED)
        self.assertEqual(typ, "OK")
        m = re.match(rb"\[APPENDUID (\d+) 4\]", data[0])
        self.assertTrue(m, data)
        self.assertEqual(c.response("EXISTS"), ("EXISTS", [b"4"]))
        typ, data = c.fetch("4", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        head, body = data[0]
        self.assertEqual(body, APPENDED)
        self.assertIn(b"UID 4", head)
        self.assertEqual(flags_of(head), {"\\Seen", "$Label"})
        self.assertIn(b'INTERNALDATE "01-Feb-2026 09:00:00 +0000"', head)
        self.assertIn(b"RFC822.SIZE %d" % len(APPENDED), head)
        typ, data = c.fetch("4", "(ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertIn(b'"appended"', data[0][0])
        self.assertEqual(data[0][1], b"Subject: appended\r\n\r\n")
        self.assertEqual(self.flags()[4], 1)
        self.assertEqual(self.stack.message_bytes(self.user, 4), APPENDED)

        # To another mailbox (not announced in the selected one), no flags or date.
        typ, data = c.append("Archive", None, None, APPENDED)
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[APPENDUID \d+ 1\]")
        self.assertEqual(c.response("EXISTS"), ("EXISTS", [None]))
        self.assertEqual(self.flags("Archive"), {1: 0})

        typ, data = c.append("NoSuchBox", None, None, APPENDED)
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])

    def test_multiappend(self):
        r = RawImap(self.imapd.port)
        try:
            _, done = r.command("a1", f"LOGIN {self.user} store-secret")
            self.assertIn("OK", done)
            m1, m2 = message(7), message(8)
            cmd = (b"a2 APPEND Archive (\\Flagged) {%d+}\r\n%s (\\Seen) \"02-Feb-2026 08:00:00 +0000\" {%d+}\r\n%s\r\n"
                   % (len(m1), m1, len(m2), m2))
            _, done = r.command("a2", cmd)
            self.assertRegex(done, r"^a2 OK \[APPENDUID \d+ 1:2\]")
            self.assertEqual(self.flags("Archive"), {1: 4, 2: 1})
            self.assertEqual(self.stack.message_bytes(self.user, 2, "Archive"), m2)
            cmd = b"a3 APPEND Nowhere {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(m1), m1, len(m2), m2)
            _, done = r.command("a3", cmd)
            self.assertRegex(done, r"^a3 NO \[TRYCREATE\]")
        finally:
            r.close()

    def test_append_over_quota(self):
        user = self.stack.add_user(f"storequota{next(self.counter)}", password="q", quota_messages=1)
        r = RawImap(self.imapd.port)
        try:
            _, done = r.command("a1", f"LOGIN {user} q")
            self.assertIn("OK", done)
            m1, m2 = message(1), message(2)
            # MULTIAPPEND over quota: all or nothing (the first one is taken back).
            cmd = b"a2 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(m1), m1, len(m2), m2)
            _, done = r.command("a2", cmd)
            self.assertRegex(done, r"^a2 NO \[OVERQUOTA\]")
            self.assertEqual(self.stack.messages(user), [])
            _, done = r.command("a3", b"a3 APPEND INBOX {%d+}\r\n%s\r\n" % (len(m1), m1))
            self.assertRegex(done, r"^a3 OK \[APPENDUID \d+ \d+\]")
            _, done = r.command("a4", b"a4 APPEND INBOX {%d+}\r\n%s\r\n" % (len(m2), m2))
            self.assertRegex(done, r"^a4 NO \[OVERQUOTA\]")
            self.assertEqual(len(self.stack.messages(user)), 1)
        finally:
            r.close()


if __name__ == "__main__":
    unittest.main()
