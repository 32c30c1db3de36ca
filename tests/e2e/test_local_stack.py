"""test_local_stack.py - the README's quick start, as a user runs it.

deploy/local/up on an empty state directory, `deploy/local/ctl user add`, an
LMTP delivery that is then visible through `ctl message list`, a second `up`
that is a no-op, `up` restarting a service killed with SIGKILL, and
deploy/local/down stopping every process it started. The stack runs on free
ports (COLUMBA_LOCAL_*_PORT, COLUMBA_PG_PORT, ...) and its own COLUMBA_STATE, so
it does not collide with a developer's stack on the fixed ports.
"""
import imaplib
import poplib
import os
import shutil
import signal
import socket
import smtplib
import ssl
import subprocess
import tempfile
import unittest

from pylib.stack import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


class BoundPop3(poplib.POP3):
    """poplib from a chosen source address (poplib has no source_address)."""

    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))


class LocalStack(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="columba-localstack-")
        self.env = dict(os.environ)
        build = os.environ.get("COLUMBA_BUILD_DIR")
        if build:
            self.env["COLUMBA_BUILD"] = build
        self.lmtp_port = free_port()
        self.imap_port = free_port()
        self.smtp_port = free_port()
        self.submission_port = free_port()
        self.submissions_port = free_port()
        self.pop3_port = free_port()
        self.env.update({
            "COLUMBA_LOCAL_POP3_PORT": str(self.pop3_port),
            "COLUMBA_LOCAL_POP3S_PORT": str(free_port()),
            "COLUMBA_LOCAL_POP3D_HTTP_PORT": str(free_port()),
            "COLUMBA_STATE": os.path.join(self.state, "state"),
            "COLUMBA_LOCAL_LMTP_PORT": str(self.lmtp_port),
            "COLUMBA_LOCAL_METAD_PORT": str(free_port()),
            "COLUMBA_LOCAL_METAD_HTTP_PORT": str(free_port()),
            "COLUMBA_LOCAL_LMTPD_HTTP_PORT": str(free_port()),
            "COLUMBA_LOCAL_IMAP_PORT": str(self.imap_port),
            "COLUMBA_LOCAL_IMAPS_PORT": str(free_port()),
            "COLUMBA_LOCAL_IMAPD_HTTP_PORT": str(free_port()),
            "COLUMBA_LOCAL_SMTP_PORT": str(self.smtp_port),
            "COLUMBA_LOCAL_SMTPD_HTTP_PORT": str(free_port()),
            "COLUMBA_LOCAL_SUBMISSION_PORT": str(self.submission_port),
            "COLUMBA_LOCAL_SUBMISSIONS_PORT": str(self.submissions_port),
            "COLUMBA_PG_PORT": str(free_port()),
            "COLUMBA_REDIS_PORT": str(free_port()),
            "COLUMBA_LDAP_PROVIDER_PORT": str(free_port()),
            "COLUMBA_LDAP_CONSUMER_PORT": str(free_port()),
        })

    def tearDown(self):
        self.run_script("deploy/local/down", check=False)
        shutil.rmtree(self.state, ignore_errors=True)

    def run_script(self, *args, check=True):
        r = subprocess.run([os.path.join(ROOT, args[0]), *args[1:]], env=self.env, capture_output=True,
                           text=True, timeout=600, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            self.fail(f"{' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def pid(self, name):
        with open(os.path.join(self.env["COLUMBA_STATE"], "run", f"{name}.pid")) as f:
            return int(f.read())

    def check_pop3(self, tls):
        """pop3d of a fresh `up`: fetchmail pulls the mail over STLS, a second concurrent
        session is refused with [IN-USE], and a POP3 login from an outside address opens
        relaying for exactly that address."""
        first = poplib.POP3("127.0.0.1", self.pop3_port, timeout=15)
        first.stls(context=tls)
        first.user("x@example.test")
        first.pass_("p")
        second = poplib.POP3("127.0.0.1", self.pop3_port, timeout=15)
        second.stls(context=tls)
        second.user("x@example.test")
        with self.assertRaisesRegex(poplib.error_proto, r"\[IN-USE\]"):
            second.pass_("p")
        second.quit()
        first.quit()
        if shutil.which("fetchmail"):
            home = os.path.join(self.state, "fetchmail")
            os.makedirs(home)
            mbox, rc = os.path.join(home, "mbox"), os.path.join(home, "fetchmailrc")
            with open(rc, "w") as f:
                f.write(f'poll 127.0.0.1 service {self.pop3_port} protocol pop3 uidl\n'
                        f'  user "x@example.test" there with password "p" is "x" here\n'
                        f'  sslproto "tls1.2+" no sslcertck mda "/bin/sh -c \'cat >> {mbox}\'"\n')
            os.chmod(rc, 0o600)
            r = subprocess.run(["fetchmail", "-f", rc, "--keep", "--nodetach", "--nosyslog", "-v",
                                "--idfile", os.path.join(home, "ids"), "--pidfile", os.path.join(home, "pid")],
                               capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": home})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("STLS", r.stdout + r.stderr)
            with open(mbox, "rb") as f:
                pulled = f.read()
            self.assertIn(b"Subject: quick start", pulled)
            self.assertIn(b"Subject: over smtp", pulled)
        # POP-before-SMTP: 127.0.0.3 logs in over POP3 (STLS: it is outside), then relays.
        def relay(source):
            with smtplib.SMTP("127.0.0.1", self.smtp_port, source_address=(source, 0)) as s:
                s.ehlo("roaming.example")
                s.mail("x@example.test")
                return s.rcpt("friend@elsewhere.example")[0]
        self.assertEqual(relay("127.0.0.3"), 554)
        c = BoundPop3("127.0.0.1", self.pop3_port, "127.0.0.3", timeout=15)
        c.stls(context=tls)
        c.user("x@example.test")
        c.pass_("p")
        c.quit()
        self.assertEqual(relay("127.0.0.3"), 250)
        self.assertEqual(relay("127.0.0.4"), 554)

    def test_quick_start(self):
        out = self.run_script("deploy/local/up").stdout
        self.assertIn("Columba is running", out)
        self.assertIn("started now: metad lmtpd imapd smtpd pop3d", out)

        self.assertIn("added", self.run_script("deploy/local/ctl", "user", "add", "x@example.test",
                                               "--password", "p").stdout)
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as s:
            self.assertEqual(s.sendmail("a@example.org", ["x@example.test"],
                                        b"Subject: quick start\r\n\r\nhello\r\n"), {})
        listing = self.run_script("deploy/local/ctl", "message", "list", "x@example.test").stdout
        self.assertIn("quick start", listing)
        # And over SMTP: swaks from an outside address (127.0.0.2) to the MX port; the
        # message reaches the same INBOX.
        swaks = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.smtp_port),
                                "--local-interface", "127.0.0.2", "--from", "a@example.org",
                                "--to", "x@example.test", "--header", "Subject: over smtp"],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(swaks.returncode, 0, swaks.stdout + swaks.stderr)
        self.assertIn("over smtp", self.run_script("deploy/local/ctl", "message", "list", "x@example.test").stdout)
        # From outside, relaying is refused...
        with smtplib.SMTP("127.0.0.1", self.smtp_port, source_address=("127.0.0.2", 0)) as s:
            s.ehlo("outside.example")
            s.mail("a@example.org")
            self.assertEqual(s.rcpt("victim@elsewhere.example")[0], 554)
        # ...and an authenticated submission (STARTTLS on the submission port) to a
        # remote address lands in the queue.
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.submission_port, source_address=("127.0.0.2", 0)) as s:
            s.starttls(context=tls)
            s.login("x@example.test", "p")
            self.assertEqual(s.sendmail("x@example.test", ["friend@elsewhere.example"],
                                        b"Subject: to the world\r\n\r\nhello\r\n"), {})
        queue = self.run_script("deploy/local/ctl", "queue", "list").stdout
        self.assertIn("friend@elsewhere.example", queue)
        self.assertIn("<x@example.test>", queue)
        with imaplib.IMAP4("127.0.0.1", self.imap_port) as imap:
            imap.login("x@example.test", "p")
            typ, data = imap.select("INBOX")
            self.assertEqual((typ, data), ("OK", [b"2"]))  # the LMTP and the SMTP message
            typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertIn(b"quick start", data[0][1])

        self.check_pop3(tls)

        again = self.run_script("deploy/local/up").stdout
        self.assertIn("nothing (all were running)", again)

        old = self.pid("lmtpd")
        os.kill(old, signal.SIGKILL)
        restarted = self.run_script("deploy/local/up").stdout
        self.assertIn("started now: lmtpd", restarted)
        self.assertNotEqual(self.pid("lmtpd"), old)

        pids = [self.pid("metad"), self.pid("lmtpd")]
        self.run_script("deploy/local/down")
        self.assertFalse(any(alive(p) for p in pids), "down left a service running")
        infra = self.run_script("deploy/lib/infra", "status", os.path.join(self.env["COLUMBA_STATE"], "infra"),
                                check=False)
        self.assertNotIn("running", infra.stdout)


if __name__ == "__main__":
    unittest.main()
