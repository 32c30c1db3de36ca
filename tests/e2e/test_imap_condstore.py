"""test_imap_condstore.py - columba-imapd CONDSTORE and QRESYNC (RFC 7162) with
ENABLE (RFC 5161) end to end: ENABLE, SELECT (CONDSTORE) / (QRESYNC (...)) with
VANISHED (EARLIER) and changed-message FETCH, FETCH (CHANGEDSINCE n [VANISHED]),
MODSEQ in untagged FETCH updates and VANISHED instead of EXPUNGE, against real
imapd + lmtpd + metad + PostgreSQL with a raw socket client.

Each test gets its own account with four messages delivered over LMTP.
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
            f"Subject: condstore test {n}\r\n"
            f"Message-ID: <cond{n}-{time.time_ns()}@example.org>\r\n"
            f"\r\n"
            f"Body number {n}.\r\n").encode()


def highestmodseq(lines):
    for l in lines:
        m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", l)
        if m:
            return int(m.group(1))
    return None


def uidvalidity(lines):
    for l in lines:
        m = re.search(r"\[UIDVALIDITY (\d+)\]", l)
        if m:
            return int(m.group(1))
    return None


class ImapCondstore(unittest.TestCase):
    counter = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapcond")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        self.user = self.stack.add_user(f"cond{next(self.counter)}", password="cond-secret")
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            for n in (1, 2, 3, 4):
                self.assertFalse(lmtp.sendmail("alice@example.org", [self.user], message(n)))
        self.assertEqual([m["uid"] for m in self.stack.messages(self.user)], [1, 2, 3, 4])
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass

    def session(self):
        c = RawImap(self.imapd.port)
        self.clients.append(c)
        _, ok = c.command("l1", f'LOGIN {self.user} "cond-secret"')
        self.assertTrue(ok.startswith("l1 OK"), ok)
        return c

    def test_enable(self):
        c = RawImap(self.imapd.port)
        self.clients.append(c)
        _, bad = c.command("e0", "ENABLE CONDSTORE")
        self.assertTrue(bad.startswith("e0 BAD"), bad)  # not authenticated
        _, ok = c.command("l1", f'LOGIN {self.user} "cond-secret"')
        untagged, ok = c.command("c1", "CAPABILITY")
        for cap in ("ENABLE", "CONDSTORE", "QRESYNC"):
            self.assertIn(cap, untagged[0].split())
        untagged, ok = c.command("e1", "ENABLE CONDSTORE X-UNKNOWN")
        self.assertEqual((untagged, ok[:5]), (["* ENABLED CONDSTORE"], "e1 OK"))
        untagged, ok = c.command("e2", "ENABLE CONDSTORE QRESYNC")
        self.assertEqual(untagged, ["* ENABLED QRESYNC"])
        untagged, ok = c.command("e3", "ENABLE QRESYNC")
        self.assertEqual(untagged, ["* ENABLED"])

    def test_qresync_without_enable_is_bad(self):
        c = self.session()
        _, bad = c.command("s1", "SELECT INBOX (QRESYNC (1 1))")
        self.assertTrue(bad.startswith("s1 BAD"), bad)
        _, ok = c.command("s2", "SELECT INBOX")
        _, bad = c.command("f1", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        self.assertTrue(bad.startswith("f1 BAD"), bad)

    def test_condstore_and_qresync(self):
        a = self.session()
        untagged, ok = a.command("e1", "ENABLE QRESYNC")
        self.assertEqual(untagged, ["* ENABLED QRESYNC"])
        untagged, ok = a.command("s1", "SELECT INBOX (CONDSTORE)")
        self.assertTrue(ok.startswith("s1 OK"), ok)
        m0 = highestmodseq(untagged)
        self.assertIsNotNone(m0, untagged)
        validity = uidvalidity(untagged)

        # Nothing changed since m0; one STORE later only that message.
        untagged, ok = a.command("f1", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {m0})")
        self.assertEqual((untagged, ok[:5]), ([], "f1 OK"))
        untagged, ok = a.command("t1", r"STORE 2 +FLAGS (\Flagged)")
        self.assertEqual(len(untagged), 1, untagged)
        # QRESYNC: UID and MODSEQ in every untagged FETCH.
        self.assertRegex(untagged[0], r"^\* 2 FETCH \(FLAGS \(\\Flagged\) UID 2 MODSEQ \((\d+)\)\)$")
        untagged, ok = a.command("f2", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {m0})")
        self.assertTrue(ok.startswith("f2 OK"), ok)
        self.assertEqual(len(untagged), 1, untagged)
        m = re.match(r"^\* 2 FETCH \(FLAGS \(\\Flagged\) MODSEQ \((\d+)\)\)$", untagged[0])
        self.assertTrue(m, untagged)
        m1 = int(m.group(1))
        self.assertGreater(m1, m0)
        untagged, ok = a.command("f3", "FETCH 1 (MODSEQ)")
        self.assertRegex(untagged[0], r"^\* 1 FETCH \(MODSEQ \(\d+\)\)$")

        # A second session changes flags of 3 and expunges 1; the first one
        # sees VANISHED (not EXPUNGE) and FETCH with MODSEQ on NOOP.
        b = self.session()
        _, ok = b.command("s1", "SELECT INBOX")
        _, ok = b.command("t1", r"STORE 3 +FLAGS (\Seen)")
        _, ok = b.command("t2", r"STORE 1 +FLAGS (\Deleted)")
        untagged, ok = b.command("x1", "EXPUNGE")
        self.assertEqual(untagged, ["* 1 EXPUNGE"])  # b has not enabled QRESYNC
        untagged, ok = a.command("n1", "NOOP")
        self.assertTrue(ok.startswith("n1 OK"), ok)
        self.assertIn("* VANISHED 1", untagged)
        self.assertFalse([l for l in untagged if l.endswith("EXPUNGE")], untagged)
        self.assertTrue([l for l in untagged if re.match(r"^\* 2 FETCH \(FLAGS \(\\Seen\) UID 3 MODSEQ \(\d+\)\)$", l)],
                        untagged)

        # UID FETCH ... (CHANGEDSINCE m1 VANISHED): the expunged UID and UID 3.
        untagged, ok = a.command("f4", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m1} VANISHED)")
        self.assertTrue(ok.startswith("f4 OK"), ok)
        self.assertEqual(untagged[0], "* VANISHED (EARLIER) 1")
        self.assertEqual(len(untagged), 2, untagged)
        self.assertRegex(untagged[1], r"^\* 2 FETCH \(UID 3 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$")
        a.command("z", "LOGOUT")

        # A fresh session resynchronises from m1.
        c = self.session()
        c.command("e1", "ENABLE QRESYNC")
        untagged, ok = c.command("s1", f"SELECT INBOX (QRESYNC ({validity} {m1}))")
        self.assertTrue(ok.startswith("s1 OK"), ok)
        self.assertIn("* 3 EXISTS", untagged)
        self.assertIn("* VANISHED (EARLIER) 1", untagged)
        fetches = [l for l in untagged if " FETCH " in l]
        self.assertEqual(len(fetches), 1, untagged)
        self.assertRegex(fetches[0], r"^\* 2 FETCH \(UID 3 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$")
        self.assertGreater(highestmodseq(untagged), m1)
        # VANISHED comes after the usual SELECT responses.
        self.assertGreater(untagged.index("* VANISHED (EARLIER) 1"), untagged.index("* 3 EXISTS"))

        # known-uids restricts VANISHED; a wrong UIDVALIDITY gets no resync data.
        untagged, ok = c.command("s2", f"EXAMINE INBOX (QRESYNC ({validity} {m1} 2:4))")
        self.assertTrue(ok.startswith("s2 OK"), ok)
        self.assertFalse([l for l in untagged if "VANISHED" in l], untagged)
        self.assertEqual(len([l for l in untagged if " FETCH " in l]), 1, untagged)
        untagged, ok = c.command("s3", f"SELECT INBOX (QRESYNC ({validity + 1} {m1}))")
        self.assertTrue(ok.startswith("s3 OK"), ok)
        self.assertFalse([l for l in untagged if "VANISHED" in l or " FETCH " in l], untagged)

        # QRESYNC's own EXPUNGE answers with VANISHED.
        _, ok = c.command("t1", r"UID STORE 4 +FLAGS (\Deleted)")
        untagged, ok = c.command("x1", "EXPUNGE")
        self.assertEqual(untagged, ["* VANISHED 4"])

        # A body fetch that sets \Seen reports the new FLAGS with UID and MODSEQ.
        untagged, ok = c.command("f1", "FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])")
        self.assertTrue(ok.startswith("f1 OK"), ok)
        tail = [l for l in untagged if "FLAGS" in l]
        self.assertEqual(len(tail), 1, untagged)
        m = re.search(r"FLAGS \(([^)]*)\) UID 2 MODSEQ \((\d+)\)\)$", tail[0])
        self.assertTrue(m, untagged)
        self.assertEqual(set(m.group(1).split()), {"\\Seen", "\\Flagged"})
        modseq = {r["uid"]: r["modseq"] for r in self.stack.messages(self.user)}[2]
        self.assertEqual(int(m.group(2)), modseq)


if __name__ == "__main__":
    unittest.main()
