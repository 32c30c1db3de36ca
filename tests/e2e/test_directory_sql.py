"""test_directory_sql.py - the SQL directory (directory.backend: sql, storage/sqldir)
behind real services: the directory tables live in the stack's own PostgreSQL
database and every process reaches them through metad's Directory gRPC service.

Covered: columbactl adds a domain, a user and an alias through metad (only a hash is
stored); lmtpd delivers to the user and to the alias and refuses unknown recipients
with 550, and so does smtpd; imapd logs the user in and sees the delivered messages; a user INSERTed
with plain SQL (psql, as an operator would, with an openssl SHA512-CRYPT hash) is
seen by lmtpd and imapd once the services' 1 s directory cache has expired, and so
is disabling it with an UPDATE. Waits are bounded polls, never fixed sleeps.
"""
import imaplib
import smtplib
import subprocess
import time
import unittest

from pylib.stack import Stack

MSG = (b"From: Alice <alice@example.org>\r\nTo: someone\r\nSubject: via the sql directory\r\n"
       b"Message-ID: <sd1@example.org>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")

CACHE_TTL = 1.0   # directory.cache_ttl of the stack's services
BOUND = 10.0      # generous upper bound for "seen after the cache TTL"


def eventually(fn, what):
    """Calls fn() until it returns a true value; fails after BOUND seconds."""
    deadline = time.monotonic() + BOUND
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND} s: {what}")
        time.sleep(0.1)


class SqlDirectory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("dirsql", directory="sql")
        cls.metad = cls.stack.start_metad()
        cls.lmtpd = cls.stack.start_lmtpd()
        cls.imapd = cls.stack.start_imapd()
        cls.smtpd = cls.stack.start_smtpd(cls.lmtpd)

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def deliver(self, rcpt):
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            return lmtp.sendmail("alice@example.org", [rcpt], MSG)

    def try_deliver(self, rcpt):
        """True when lmtpd accepted the recipient, False when it refused it with 550."""
        try:
            return self.deliver(rcpt) == {}
        except smtplib.SMTPRecipientsRefused as e:
            self.assertEqual(e.recipients[rcpt][0], 550, e.recipients)
            return False

    def try_login(self, user, password):
        with imaplib.IMAP4("127.0.0.1", self.imapd.port) as c:
            try:
                c.login(user, password)
            except imaplib.IMAP4.error:
                return False
            c.logout()
            return True

    def query(self, sql):
        r = subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", self.stack.pg_uri, "-c", sql],
                           check=True, capture_output=True, timeout=30)
        return r.stdout.decode().strip()

    def test_columbactl_users_receive_and_log_in(self):
        st = self.stack
        self.assertIn(st.domain, st.ctl("domain", "list").split())
        user = st.add_user("fred", password="sql-secret")
        stored = self.query(f"SELECT password_hash FROM directory_accounts WHERE address = '{user}'")
        self.assertTrue(stored.startswith("{ARGON2ID}"), stored[:12])
        self.assertNotIn("sql-secret", stored, "only the hash is stored")
        self.assertIn(user, st.ctl("user", "list").split())

        self.assertEqual(self.deliver(user), {})
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
            self.deliver(f"nobody@{st.domain}")
        self.assertEqual(e.exception.recipients[f"nobody@{st.domain}"][0], 550)
        with imaplib.IMAP4("127.0.0.1", self.imapd.port) as c:
            c.login(user, "sql-secret")
            typ, data = c.select("INBOX")
            self.assertEqual((typ, data), ("OK", [b"1"]))

        # smtpd (which has no metad section of its own) asks the same directory.
        with smtplib.SMTP("127.0.0.1", self.smtpd.port) as smtp:
            self.assertEqual(smtp.sendmail("alice@example.org", [user], MSG), {})
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                smtp.sendmail("alice@example.org", [f"nobody@{st.domain}"], MSG)
            self.assertEqual(e.exception.recipients[f"nobody@{st.domain}"][0], 550)
        eventually(lambda: len(st.messages(user)) == 2, "the message sent through smtpd")

        out = st.ctl("alias", "add", f"Freddy@{st.domain}", user)
        self.assertIn(f"freddy@{st.domain}", out)
        self.assertEqual(self.deliver(f"freddy@{st.domain}"), {})
        self.assertEqual(len(st.messages(user)), 3)
        # The alias is taken: neither a second alias nor a new user may claim it.
        r = st.ctl("alias", "add", f"freddy@{st.domain}", user, check=False)
        self.assertNotEqual(r.returncode, 0)
        r = st.ctl("user", "add", f"freddy@{st.domain}", "--password", "x", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"alias: freddy@{st.domain}", st.ctl("user", "show", user))

    def test_user_added_with_plain_sql_is_seen_after_the_cache_ttl(self):
        st = self.stack
        user = f"ops@{st.domain}"
        # Not there yet: refused (and this negative answer is now cached for CACHE_TTL).
        self.assertFalse(self.try_deliver(user))
        crypt = subprocess.run(["openssl", "passwd", "-6", "plain-sql-secret"], check=True,
                               capture_output=True, timeout=30).stdout.decode().strip()
        self.assertTrue(crypt.startswith("$6$"), crypt[:3])
        t0 = time.monotonic()
        st.sql("INSERT INTO directory_accounts (address, password_hash) "
               f"VALUES ('{user}', '{{SHA512-CRYPT}}{crypt}')")
        eventually(lambda: self.try_deliver(user), f"delivery to {user} after a plain INSERT")
        seen_after = time.monotonic() - t0
        self.assertLess(seen_after, CACHE_TTL + 5.0)
        eventually(lambda: self.try_login(user, "plain-sql-secret"), f"login of {user} after a plain INSERT")
        self.assertFalse(self.try_login(user, "wrong"))
        self.assertEqual(len(st.messages(user)), 1)

        # Disabled with plain SQL: logins stop once the cache has expired.
        st.sql(f"UPDATE directory_accounts SET enabled = false WHERE address = '{user}'")
        eventually(lambda: not self.try_login(user, "plain-sql-secret"), f"refusal of disabled {user}")
        self.assertIn(f"{user} (disabled)", st.ctl("user", "list", st.domain))


if __name__ == "__main__":
    unittest.main()
