"""test_imap_large_mailbox.py - a 100,000-message INBOX: SELECT, UID FETCH 1:* (FLAGS ENVELOPE)
and SEARCH work and stream with bounded memory in imapd and metad (issue 4, "Large mailboxes").

One real message is delivered over LMTP; the other 99,999 rows are copies of it written
straight into PostgreSQL (99,999 LMTP deliveries would take minutes; the rows are exactly
what metad's append writes, with ascending UIDs and MODSEQs, every tenth one \\Seen). The
test then reads everything back over IMAP and checks:
- SELECT answers EXISTS 100000, UIDNEXT 100001 and the first unseen message;
- UID FETCH 1:* (FLAGS ENVELOPE) returns 100,000 responses in UID order with the stored
  envelope, while imapd's and metad's resident memory grow by less than 64 MiB each
  (the whole answer is ~30 MB: neither may hold it at once);
- SEARCH SEEN counts 10,000 and UID SEARCH RETURN (COUNT MIN MAX) UNSEEN agrees;
- the times are printed (they are measurements, not assertions).
"""
import os
import re
import smtplib
import subprocess
import time
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack

N = 100_000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class ImapLargeMailbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("imapbig")
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.imapd = st.start_imapd()
        cls.user = st.add_user("big", password="pw")
        msg = (b"From: Sender <sender@example.org>\r\nTo: big@example.test\r\nSubject: bulk message\r\n"
               b"Message-ID: <bulk@example.org>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n")
        with smtplib.LMTP("127.0.0.1", cls.lmtpd.port) as lmtp:
            assert not lmtp.sendmail("sender@example.org", [cls.user], msg)
        t0 = time.monotonic()
        sql = f"""
          INSERT INTO messages (account_id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id,
                                email_id)
          SELECT m.account_id, m.mailbox_id, g, m.modseq + g, CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END, m.keywords,
                 m.internal_date, m.size, m.blob_id, m.email_id
          FROM messages m, generate_series(2, {N}) g
          WHERE m.uid = 1;
          UPDATE mailboxes b SET uidnext = {N + 1},
                 highestmodseq = (SELECT max(modseq) FROM messages m WHERE m.mailbox_id = b.mailbox_id)
          WHERE b.mailbox_id = (SELECT mailbox_id FROM messages WHERE uid = {N});
          UPDATE accounts a SET message_used = {N}, storage_used = {N} * (SELECT size FROM messages WHERE uid = 1)
          WHERE a.address = '{cls.user}';
        """
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", st.pg_uri, "-c", sql], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"\nseeded {N} messages in {time.monotonic() - t0:.1f} s")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_select_fetch_search_stream_with_bounded_memory(self):
        r = RawImap(self.imapd.port, timeout=120)
        _, done = r.command("l", f'LOGIN "{self.user}" "pw"')
        self.assertTrue(done.startswith("l OK"), done)

        t0 = time.monotonic()
        untagged, done = r.command("s", "SELECT INBOX")
        select_s = time.monotonic() - t0
        self.assertTrue(done.startswith("s OK"), done)
        self.assertIn(f"* {N} EXISTS", untagged)
        self.assertIn("* OK [UNSEEN 1] First unseen.", untagged)
        self.assertTrue(any(f"[UIDNEXT {N + 1}]" in l for l in untagged), untagged)

        imapd_pid, metad_pid = self.imapd.proc.pid, self.metad.proc.pid
        base_imapd, base_metad = rss_kib(imapd_pid), rss_kib(metad_pid)
        peak_imapd, peak_metad = base_imapd, base_metad
        t0 = time.monotonic()
        r.send("f UID FETCH 1:* (FLAGS ENVELOPE)")
        count, last_uid = 0, 0
        pattern = re.compile(r"^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) ENVELOPE \(\"Wed, 25 Nov 2026")
        while True:
            line = r.line()
            if line.startswith("f "):
                self.assertEqual(line, "f OK UID FETCH completed.")
                break
            m = pattern.match(line)
            self.assertIsNotNone(m, line[:200])
            seq, uid = int(m.group(1)), int(m.group(2))
            self.assertEqual((seq, uid), (count + 1, last_uid + 1))
            self.assertEqual(m.group(3), "\\Seen" if uid % 10 == 0 and uid > 1 else "")
            self.assertIn('"bulk message"', line)
            count, last_uid = count + 1, uid
            if count % 5000 == 0:
                peak_imapd = max(peak_imapd, rss_kib(imapd_pid))
                peak_metad = max(peak_metad, rss_kib(metad_pid))
        fetch_s = time.monotonic() - t0
        self.assertEqual(count, N)
        grow_imapd, grow_metad = (peak_imapd - base_imapd) // 1024, (peak_metad - base_metad) // 1024
        self.assertLess(grow_imapd, 64, f"imapd grew by {grow_imapd} MiB during the FETCH")
        self.assertLess(grow_metad, 64, f"metad grew by {grow_metad} MiB during the FETCH")

        t0 = time.monotonic()
        untagged, done = r.command("q", "SEARCH SEEN")
        search_s = time.monotonic() - t0
        self.assertTrue(done.startswith("q OK"), done)
        self.assertEqual(len(untagged[0].split()) - 2, N // 10 - 0)
        untagged, done = r.command("u", "UID SEARCH RETURN (COUNT MIN MAX) UNSEEN")
        self.assertEqual(untagged, [f'* ESEARCH (TAG "u") UID MIN 1 MAX {N - 1} COUNT {N - N // 10}'])
        r.close()
        print(f"SELECT of {N}: {select_s * 1000:.0f} ms; UID FETCH 1:* (FLAGS ENVELOPE): {fetch_s:.1f} s; "
              f"SEARCH SEEN: {search_s * 1000:.0f} ms; RSS growth imapd {grow_imapd} MiB, metad {grow_metad} MiB")


if __name__ == "__main__":
    unittest.main()
