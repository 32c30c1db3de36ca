"""test_smtp_domains.py - relay domains and catch-all aliases from the directory, end
to end (issue 5, "Users and domains"): columbactl writes them (`domain add --relay`,
`alias add @domain TARGET`), smtpd on the MX port classifies recipients with them and
lmtpd delivers to the catch-all's account. Runs once per directory backend (file, ldap,
sql), each with its own stack; every client here is outside (127.0.0.2), so nothing
is granted by trusted networks.

Checked: a relay domain of the directory, and one only in smtp.relay_domains, are
accepted from outside and the message is in `columbactl queue list` (not in any
mailbox); a remote domain that is neither is 554 5.7.1; an unknown local part of a
domain with a catch-all is delivered to the catch-all's account (also with a +detail);
an unknown local part of a local domain without one is 550 5.1.1; an exact alias and
an existing account still beat the catch-all; `domain list` shows both kinds and a
name cannot be both; a catch-all of a relay or unknown domain is refused.
"""
import unittest

from pylib.smtp_client import Raw
from pylib.stack import Stack, rand

MSG = (b"From: Outside <x@outside.example>\r\nTo: someone\r\nSubject: domains\r\n"
       b"Message-ID: <dom1@outside.example>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")




class DomainsFromTheDirectory:
    """The cases; a subclass per backend sets `directory` (mixed into TestCase)."""
    directory = None

    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack(f"dom{cls.directory}", directory=cls.directory)
        try:
            cls.metad = st.start_metad()
            cls.relay = f"relay-{rand(6)}.example"
            cls.config_relay = f"cfgrelay-{rand(6)}.example"
            cls.plain = f"plain-{rand(6)}.test"  # a local domain without a catch-all
            st.ctl("domain", "add", "--relay", cls.relay.upper())
            st.ctl("domain", "add", cls.plain)
            cls.catchall = st.add_user("catchall")
            cls.bob = st.add_user("bob")
            cls.plain_user = f"carol@{cls.plain}"
            st.ctl("user", "add", cls.plain_user, "--password", "secret")
            st.ctl("alias", "add", f"sales@{st.domain}", cls.bob)
            out = st.ctl("alias", "add", f"@{st.domain.upper()}", cls.catchall)
            assert f"alias @{st.domain} -> {cls.catchall} added" in out, out
            # Services start after every directory write: no cache to wait for.
            cls.lmtpd = st.start_lmtpd()
            cls.smtpd = st.start_smtpd(cls.lmtpd, smtp__relay_domains=[cls.config_relay])
        except Exception:
            st.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def outside(self):
        r = Raw(self.smtpd.port, "127.0.0.2")
        self.addCleanup(r.close)
        self.assertTrue(r.greeting[0].startswith("220 "), r.greeting)
        self.assertTrue(r.cmd("EHLO outside.example")[-1].startswith("250 "))
        self.assertEqual(r.cmd("MAIL FROM:<x@outside.example>"), ["250 2.1.0 Ok"])
        return r

    def send(self, rcpt):
        """One message from outside to rcpt; returns the reply to the end of DATA."""
        r = self.outside()
        self.assertEqual(r.cmd(f"RCPT TO:<{rcpt}>"), ["250 2.1.5 Ok"], rcpt)
        self.assertEqual(r.cmd("DATA"), ["354 End data with <CR><LF>.<CR><LF>"])
        r.s.sendall(MSG + b".\r\n")
        return r.reply()

    def counts(self):
        return {a: len(self.stack.messages(a)) for a in (self.catchall, self.bob)}

    def test_relay_domains_are_accepted_from_outside_and_queued(self):
        before = self.counts()
        for rcpt in (f"partner@{self.relay}", f"Partner@{self.relay.upper()}", f"partner@{self.config_relay}"):
            reply = self.send(rcpt)
            self.assertEqual(len(reply), 1, reply)
            self.assertTrue(reply[0].startswith("250 2.0.0 Ok: queued as "), (rcpt, reply))
            queue_id = reply[0].split()[-1]
            rows = [row for row in self.stack.queue() if row["id"] == queue_id]
            self.assertEqual(len(rows), 1, (rcpt, self.stack.queue()))
            self.assertEqual(rows[0]["sender"], "<x@outside.example>")
            self.assertIn(rcpt, rows[0]["recipients"])
        self.assertEqual(self.counts(), before, "relayed mail goes to no local mailbox (not the catch-all)")

    def test_other_remote_domains_are_refused_from_outside(self):
        for rcpt in (f"victim-{rand(4)}.example", f"sub.{self.relay}", f"x{self.relay}"):
            r = self.outside()
            self.assertEqual(r.cmd(f"RCPT TO:<someone@{rcpt}>"), ["554 5.7.1 Relay access denied"], rcpt)
            self.assertEqual(r.cmd("DATA"), ["554 5.5.1 No valid recipients"])

    def test_unknown_user_of_a_domain_with_a_catch_all_reaches_the_catch_all(self):
        before = self.counts()
        for rcpt in (f"nobody-{rand(4)}@{self.stack.domain}", f"Someone.Else+news@{self.stack.domain}"):
            self.assertEqual(self.send(rcpt), ["250 2.0.0 Ok: delivered"], rcpt)
        after = self.counts()
        self.assertEqual(after[self.catchall], before[self.catchall] + 2)
        self.assertEqual(after[self.bob], before[self.bob])

    def test_unknown_user_of_a_domain_without_a_catch_all_is_550(self):
        r = self.outside()
        self.assertEqual(r.cmd(f"RCPT TO:<nobody@{self.plain}>"), ["550 5.1.1 No such user here"])
        self.assertEqual(r.cmd(f"RCPT TO:<{self.plain_user}>"), ["250 2.1.5 Ok"])

    def test_exact_alias_and_account_beat_the_catch_all(self):
        before = self.counts()
        for rcpt in (f"sales@{self.stack.domain}", self.bob, self.catchall):
            self.assertEqual(self.send(rcpt), ["250 2.0.0 Ok: delivered"], rcpt)
        after = self.counts()
        self.assertEqual(after[self.bob], before[self.bob] + 2)
        self.assertEqual(after[self.catchall], before[self.catchall] + 1)

    def test_columbactl_shows_kinds_and_keeps_them_apart(self):
        st = self.stack
        rows = st.ctl("domain", "list").splitlines()
        self.assertIn(f"{self.relay}\trelay", rows)
        self.assertIn(f"{st.domain}\tlocal", rows)
        self.assertIn(f"{self.plain}\tlocal", rows)
        self.assertEqual(rows, sorted(rows))
        for args in (("domain", "add", self.relay), ("domain", "add", "--relay", st.domain),
                     ("alias", "add", f"@{self.relay}", self.bob),
                     ("alias", "add", f"@unknown-{rand(4)}.example", self.bob),
                     ("alias", "add", f"@{st.domain}", self.bob),  # one catch-all per domain
                     ("user", "add", f"someone@{self.relay}", "--password", "x")):
            r = st.ctl(*args, check=False)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
        r = st.ctl("alias", "add", "@", self.bob, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        show = st.ctl("user", "show", self.catchall)
        self.assertIn(f"alias: @{st.domain}\n", show)


class FileBackend(DomainsFromTheDirectory, unittest.TestCase):
    directory = "file"


class LdapBackend(DomainsFromTheDirectory, unittest.TestCase):
    directory = "ldap"


class SqlBackend(DomainsFromTheDirectory, unittest.TestCase):
    directory = "sql"


if __name__ == "__main__":
    unittest.main()
