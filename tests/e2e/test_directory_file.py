"""test_directory_file.py - the flat-file directory (directory.backend: file,
storage/filedir) behind real services: columbactl writes users into the file, lmtpd
delivers to them and refuses unknown ones, imapd logs them in, and a hand edit of the
file (a new alias, a disabled account) is seen at the next delivery and login, with no
restart and no cache to wait for (issue 5, "Users and domains").
"""
import imaplib
import smtplib
import unittest

from pylib.stack import Stack

MSG = (b"From: Alice <alice@example.org>\r\nTo: someone\r\nSubject: via the file directory\r\n"
       b"Message-ID: <fd1@example.org>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")


class FileDirectory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("dirfile", directory="file")
        cls.metad = cls.stack.start_metad()
        cls.lmtpd = cls.stack.start_lmtpd()
        cls.imapd = cls.stack.start_imapd()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def deliver(self, rcpt):
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            return lmtp.sendmail("alice@example.org", [rcpt], MSG)

    def test_users_in_the_file_receive_and_log_in_and_edits_apply_at_once(self):
        st = self.stack
        user = st.add_user("fred", password="file-secret")
        with open(st.directory_file) as f:
            text = f.read()
        self.assertIn(f"domain {st.domain}\n", text)
        self.assertIn(f"account {user} {{", text)
        self.assertNotIn("file-secret", text, "only the hash is stored")

        self.assertEqual(self.deliver(user), {})
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
            self.deliver(f"nobody@{st.domain}")
        self.assertEqual(e.exception.recipients[f"nobody@{st.domain}"][0], 550)
        with imaplib.IMAP4("127.0.0.1", self.imapd.port) as c:
            c.login(user, "file-secret")
            typ, data = c.select("INBOX")
            self.assertEqual((typ, data), ("OK", [b"1"]))

        # By hand: an alias on fred's line. The next delivery to it reaches fred.
        lines = []
        for line in text.splitlines():
            if line.startswith(f"account {user} "):
                line += f" aliases=freddy@{st.domain}"
            lines.append(line)
        with open(st.directory_file, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.assertEqual(self.deliver(f"freddy@{st.domain}"), {})
        self.assertEqual(len(st.messages(user)), 2)

        # By hand again: disabled. Logins and deliveries stop at once.
        with open(st.directory_file) as f:
            text = f.read()
        with open(st.directory_file, "w") as f:
            f.write(text.replace(f"aliases=freddy@{st.domain}", f"aliases=freddy@{st.domain} disabled"))
        with imaplib.IMAP4("127.0.0.1", self.imapd.port) as c:
            with self.assertRaises(imaplib.IMAP4.error):
                c.login(user, "file-secret")
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            self.deliver(user)
        self.assertEqual(len(st.messages(user)), 2)


if __name__ == "__main__":
    unittest.main()
