"""test_imap_manage.py - columba-imapd mailbox management end to end: CREATE (with
CREATE-SPECIAL-USE), DELETE, RENAME (also of INBOX), SUBSCRIBE / UNSUBSCRIBE, STATUS and
NAMESPACE against a real imapd + lmtpd + metad + PostgreSQL, driven with Python's imaplib
over the plaintext port from 127.0.0.1 (a trusted network).

Each test logs in as its own user, so the tests do not see each other's mailboxes.
"""
import imaplib
import re
import smtplib
import unittest

from pylib.stack import Stack

LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:"/"|NIL) (?P<name>.+)$')


def msg(n):
    return (f"From: Alice <alice@example.org>\r\n"
            f"To: Bob <bob@example.test>\r\n"
            f"Subject: manage {n}\r\n"
            f"Message-ID: <manage{n}@example.org>\r\n"
            f"\r\n"
            f"Body of message {n}.\r\n").encode()


def unquote(name):
    if name.startswith(b'"') and name.endswith(b'"'):
        return name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\").decode()
    return name.decode()


class ImapManage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapmgr")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def user(self, local, deliver=0):
        addr = self.stack.add_user(local, password="mgr-secret")
        if deliver:
            with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
                for n in range(1, deliver + 1):
                    refused = lmtp.sendmail("alice@example.org", [addr], msg(n))
                    assert not refused, refused
        return addr

    def login(self, addr):
        c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        typ, _ = c.login(addr, "mgr-secret")
        self.assertEqual(typ, "OK")
        self.addCleanup(self._logout, c)
        return c

    @staticmethod
    def _logout(c):
        try:
            c.logout()
        except Exception:
            pass

    def listing(self, c, lsub=False):
        """{name (wire form): set of attributes}."""
        typ, data = (c.lsub if lsub else c.list)('""', "*")
        self.assertEqual(typ, "OK", data)
        out = {}
        for line in data:
            if line is None:
                continue
            m = LIST_RE.match(line)
            self.assertIsNotNone(m, line)
            out[unquote(m.group("name"))] = set(m.group("attrs").decode().split())
        return out

    def ok(self, result):
        typ, data = result
        self.assertEqual(typ, "OK", data)
        return data

    def no(self, result, code):
        typ, data = result
        self.assertEqual(typ, "NO", data)
        self.assertTrue(data[0].decode().startswith(code), data)

    def test_hierarchy_create_rename_delete(self):
        c = self.login(self.user("hier"))
        self.ok(c.create("a/b/c"))
        boxes = self.listing(c)
        for name in ("INBOX", "a", "a/b", "a/b/c"):
            self.assertIn(name, boxes)
        self.assertIn("\\HasChildren", boxes["a"])
        self.assertIn("\\HasChildren", boxes["a/b"])
        self.assertIn("\\HasNoChildren", boxes["a/b/c"])
        # A trailing delimiter is ignored (RFC 3501 6.3.3).
        self.ok(c.create("x/"))
        self.assertIn("x", self.listing(c))
        self.assertNotIn("x/", self.listing(c))
        # Duplicates.
        self.no(c.create("a/b"), "[ALREADYEXISTS]")
        self.no(c.create("INBOX"), "[ALREADYEXISTS]")
        self.no(c.create("inbox"), "[ALREADYEXISTS]")
        # Renaming moves the children along.
        self.ok(c.rename("a", "z"))
        boxes = self.listing(c)
        for name in ("z", "z/b", "z/b/c"):
            self.assertIn(name, boxes)
        for name in ("a", "a/b", "a/b/c"):
            self.assertNotIn(name, boxes)
        self.no(c.rename("a", "q"), "[NONEXISTENT]")
        self.no(c.rename("z", "x"), "[ALREADYEXISTS]")
        self.no(c.rename("z", "z/b/c/d"), "[CANNOT]")
        # Delete with children is refused; leaves first.
        typ, data = c.delete("z")
        self.assertEqual(typ, "NO", data)
        self.assertIn(b"[INUSE]", data[0])
        self.assertIn(b"has children", data[0])
        self.ok(c.delete("z/b/c"))
        self.ok(c.delete("z/b"))
        self.ok(c.delete("z"))
        self.no(c.delete("z"), "[NONEXISTENT]")
        self.no(c.delete("INBOX"), "[CANNOT]")
        boxes = self.listing(c)
        self.assertEqual(set(boxes) & {"z", "z/b", "z/b/c"}, set())
        self.assertIn("INBOX", boxes)

    def test_non_ascii_name(self):
        addr = self.user("utf")
        c = self.login(addr)
        self.ok(c.create("Entw&APw-rfe"))
        self.ok(c.create("Entw&APw-rfe/K&AOQ-se"))
        boxes = self.listing(c)
        self.assertIn("Entw&APw-rfe", boxes)
        self.assertIn("Entw&APw-rfe/K&AOQ-se", boxes)
        # metad holds the UTF-8 name (columbactl fails on a mailbox that does not exist).
        self.assertEqual(self.stack.messages(addr, mailbox="Entwürfe/Käse"), [])
        data = self.ok(c.status("Entw&APw-rfe", "(MESSAGES)"))
        self.assertEqual(data[0], b"Entw&APw-rfe (MESSAGES 0)")
        self.ok(c.select("Entw&APw-rfe"))
        c.close()
        # Invalid modified UTF-7 is refused.
        self.no(c.create("Bad&Jjo"), "[CANNOT]")
        self.ok(c.rename("Entw&APw-rfe", "Drafts-&AOQ-"))
        boxes = self.listing(c)
        self.assertIn("Drafts-&AOQ-", boxes)
        self.assertIn("Drafts-&AOQ-/K&AOQ-se", boxes)
        self.assertNotIn("Entw&APw-rfe", boxes)

    def test_create_special_use(self):
        c = self.login(self.user("special"))
        self.ok(c._simple_command("CREATE", "MyArchive", "(USE (\\Archive))"))
        self.ok(c._simple_command("CREATE", "Sent-Items", "(USE (\\Sent))"))
        boxes = self.listing(c)
        self.assertIn("\\Archive", boxes["MyArchive"])
        self.assertIn("\\Sent", boxes["Sent-Items"])
        self.ok(c.create("Plain"))
        self.assertEqual(self.listing(c)["Plain"] & {"\\Archive", "\\Sent", "\\Drafts", "\\Trash", "\\Junk"},
                         set())
        self.no(c._simple_command("CREATE", "Odd", "(USE (\\Bogus))"), "[USEATTR]")
        self.assertNotIn("Odd", self.listing(c))

    def test_subscribe_lsub(self):
        c = self.login(self.user("subs"))
        self.ok(c.create("Lists"))
        self.ok(c.create("Lists/dev"))
        self.ok(c.subscribe("Lists/dev"))
        subs = self.listing(c, lsub=True)
        self.assertIn("Lists/dev", subs)
        self.assertNotIn("Lists", subs)
        self.ok(c.subscribe("Lists"))
        self.assertIn("Lists", self.listing(c, lsub=True))
        self.ok(c.unsubscribe("Lists/dev"))
        subs = self.listing(c, lsub=True)
        self.assertNotIn("Lists/dev", subs)
        self.assertIn("Lists", subs)
        self.no(c.subscribe("Nope"), "[NONEXISTENT]")

    def test_status(self):
        addr = self.user("stat", deliver=3)
        stored = self.stack.messages(addr)
        self.assertEqual(len(stored), 3)
        c = self.login(addr)
        # Reading one message (non-PEEK) sets \Seen.
        self.ok(c.select("INBOX"))
        self.ok(c.fetch("1", "(BODY[])"))
        c.close()
        data = self.ok(c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE RECENT DELETED)"))
        m = re.match(rb"^INBOX \((.*)\)$", data[0])
        self.assertIsNotNone(m, data)
        vals = m.group(1).split()
        got = dict(zip([v.decode() for v in vals[0::2]], [int(v) for v in vals[1::2]]))
        self.assertEqual([k for k in got], ["MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY", "SIZE", "RECENT",
                                            "DELETED"])
        self.assertEqual(got["MESSAGES"], 3)
        self.assertEqual(got["UNSEEN"], 2)
        self.assertEqual(got["UIDNEXT"], max(r["uid"] for r in stored) + 1)
        self.assertEqual(got["SIZE"], sum(r["size"] for r in stored))
        self.assertEqual(got["RECENT"], 0)
        self.assertEqual(got["DELETED"], 0)
        typ, sel = c.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK")
        self.assertEqual(c.untagged_responses.get("UIDVALIDITY", [b"?"])[-1], str(got["UIDVALIDITY"]).encode())
        c.close()
        self.no(c.status("Missing", "(MESSAGES)"), "[NONEXISTENT]")
        # An empty mailbox.
        self.ok(c.create("Empty"))
        data = self.ok(c.status("Empty", "(MESSAGES UNSEEN SIZE UIDNEXT)"))
        self.assertEqual(data[0], b"Empty (MESSAGES 0 UNSEEN 0 SIZE 0 UIDNEXT 1)")

    def test_rename_inbox(self):
        addr = self.user("rinbox", deliver=2)
        c = self.login(addr)
        data = self.ok(c.select("INBOX"))
        self.assertEqual(data, [b"2"])
        c.close()
        self.ok(c.rename("INBOX", "Old/Inbox"))
        data = self.ok(c.select("INBOX"))
        self.assertEqual(data, [b"0"])
        c.close()
        data = self.ok(c.select("Old/Inbox"))
        self.assertEqual(data, [b"2"])
        data = self.ok(c.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        subjects = b"".join(part[1] for part in data if isinstance(part, tuple))
        self.assertIn(b"Subject: manage 1", subjects)
        self.assertIn(b"Subject: manage 2", subjects)
        c.close()
        boxes = self.listing(c)
        self.assertIn("INBOX", boxes)
        self.assertIn("Old/Inbox", boxes)
        self.assertEqual(len(self.stack.messages(addr)), 0)
        self.assertEqual(len(self.stack.messages(addr, mailbox="Old/Inbox")), 2)

    def test_namespace(self):
        c = self.login(self.user("ns"))
        data = self.ok(c.namespace())
        self.assertEqual(data, [b'(("" "/")) NIL NIL'])


if __name__ == "__main__":
    unittest.main()
