"""test_pop3_fetchmail.py - a real POP3 client against columba-pop3d (issue 6):
fetchmail over STLS pulls a user's mail into an mbox.

- `--nokeep` fetches every message and empties the maildrop (QUIT's UPDATE).
- `--keep` with UIDL tracking (an idfile) leaves the maildrop as it is, and a
  second run fetches only the messages that arrived since.
The pop3d trusts no network here, so USER/PASS is refused before TLS: fetchmail
can only log in after STLS.
"""
import mailbox
import os
import shutil
import smtplib
import subprocess
import textwrap
import unittest

from pylib.stack import Stack

MDA = textwrap.dedent("""\
    #!/usr/bin/env python3
    # Appends the message on stdin to the mbox named in argv[1] (From_ line, >From quoting).
    import sys, time
    data = sys.stdin.buffer.read().replace(b"\\r\\n", b"\\n")
    lines = [(b">" + l) if l.startswith(b"From ") else l for l in data.split(b"\\n")]
    with open(sys.argv[1], "ab") as f:
        f.write(b"From fetchmail " + time.asctime().encode() + b"\\n" + b"\\n".join(lines).rstrip(b"\\n") + b"\\n\\n")
""")


def message(i):
    return (f"From: sender{i}@example.org\r\nTo: someone@example.test\r\nSubject: fetch {i}\r\n"
            f"Message-ID: <fetch{i}@example.org>\r\n\r\nbody {i}\r\n.dotted line {i}\r\n").encode()


@unittest.skipUnless(shutil.which("fetchmail"), "fetchmail is not installed (deploy/deps)")
class Fetchmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("pop3fetch")
        cert, key = os.path.join(st.dir, "pop.crt"), os.path.join(st.dir, "pop.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=pop.test"], check=True, capture_output=True, timeout=60)
        st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cls.pop3d = st.start_pop3d(tls=(cert, key), pop3__trusted_networks=["192.0.2.0/24"])
        cls.mda = os.path.join(st.dir, "mda.py")
        with open(cls.mda, "w") as f:
            f.write(MDA)
        os.chmod(cls.mda, 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def deliver(self, addr, numbers):
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            for i in numbers:
                self.assertFalse(lmtp.sendmail("sender@example.org", [addr], message(i)))

    def fetchmail(self, name, addr, keep):
        """Runs fetchmail once; returns the Subjects now in its mbox."""
        home = os.path.join(self.stack.dir, name)
        os.makedirs(home, exist_ok=True)
        rc, mbox = os.path.join(home, "fetchmailrc"), os.path.join(home, "mbox")
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.pop3d.port} protocol pop3 uidl auth password\n'
                    f'  user "{addr}" there with password "fetch-pw" is "local" here\n'
                    f'  sslproto "tls1.2+" no sslcertck mda "{self.mda} {mbox}"\n')
        os.chmod(rc, 0o600)
        args = ["fetchmail", "-f", rc, "--idfile", os.path.join(home, "idfile"), "--nodetach", "--nosyslog",
                "--pidfile", os.path.join(home, "pid"), "-v", "--keep" if keep else "--nokeep"]
        r = subprocess.run(args, capture_output=True, timeout=120, env={**os.environ, "HOME": home},
                           cwd=home)
        log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        # 0: mail fetched; 1: no new mail.
        self.assertIn(r.returncode, (0, 1), log)
        self.assertIn("STLS", log)  # the session was upgraded before the login
        if not os.path.exists(mbox):
            return []
        box = mailbox.mbox(mbox)
        try:
            return [m["Subject"] for m in box]
        finally:
            box.close()

    def test_nokeep_fetches_everything_and_empties_the_maildrop(self):
        addr = self.stack.add_user("nokeep", "fetch-pw")
        self.deliver(addr, range(1, 6))
        got = self.fetchmail("nokeep", addr, keep=False)
        self.assertEqual(sorted(got), [f"fetch {i}" for i in range(1, 6)])
        self.assertEqual(self.stack.messages(addr), [])
        box = mailbox.mbox(os.path.join(self.stack.dir, "nokeep", "mbox"))
        bodies = [m.get_payload() for m in box]
        box.close()
        self.assertIn("body 3\n.dotted line 3\n", bodies)  # dot-stuffing undone exactly

    def test_keep_with_uidl_fetches_only_new_mail_the_second_time(self):
        addr = self.stack.add_user("keep", "fetch-pw")
        self.deliver(addr, range(1, 4))
        first = self.fetchmail("keep", addr, keep=True)
        self.assertEqual(sorted(first), ["fetch 1", "fetch 2", "fetch 3"])
        self.assertEqual(len(self.stack.messages(addr)), 3)  # kept
        self.deliver(addr, [4, 5])
        second = self.fetchmail("keep", addr, keep=True)
        self.assertEqual(sorted(second), [f"fetch {i}" for i in range(1, 6)])  # 4 and 5 added, no duplicates
        self.assertEqual(len(self.stack.messages(addr)), 5)
        self.assertEqual(sorted(self.fetchmail("keep", addr, keep=True)), sorted(second))  # nothing new


if __name__ == "__main__":
    unittest.main()
