"""test_imap_login.py - imapd login defences and SASL end to end (issue 4, "TLS and login").

Real metad + lmtpd + two imapd replicas sharing one Redis. Proves:
- AUTHENTICATE LOGIN and SCRAM-SHA-256 (a client implemented here from RFC 5802) log in;
  a wrong SCRAM proof, an unknown user and a user without a SCRAM secret all fail alike,
  each only after a full exchange.
- Failed logins are counted in Redis per client address and per user, so the delay before
  the next answer grows (auth_penalty_base doubling) and a second replica applies it too;
  a successful login resets the user's counter.
- A login from outside the trusted networks writes a POP-before-SMTP record
  (client IP -> user, TTL pop_before_smtp_ttl) in Redis; a trusted client writes none.
- Connections per client address and per user are limited (BYE [UNAVAILABLE] / NO [LIMIT]),
  trusted networks are exempt from the address limit, and a slot comes back on logout.
- A client that does not authenticate within login_timeout gets BYE; after login the
  (longer) idle timeout applies.
- With Redis unreachable, logins still work (counters fail open).
Source addresses 127.0.0.2-127.0.0.9 play untrusted clients (trusted: 127.0.0.1/32).
"""
import base64
import socket
import time
import unittest

from pylib.imap_client import RawImap
from pylib.sasl import ScramClient, b64
from pylib.stack import Stack

PENALTY_BASE = 0.4
FAILURE_DELAY = 0.1


def connect(port, source=None):
    try:
        return RawImap(port, source=source)
    except OSError as e:
        raise unittest.SkipTest(f"cannot connect from {source}: {e}")


class ImapLogin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("imaplogin")
        st.start_metad()
        common = dict(imap__allow_plaintext_auth="true", imap__auth_failure_delay=f"{int(FAILURE_DELAY * 1000)}ms",
                      imap__auth_penalty_base=f"{int(PENALTY_BASE * 1000)}ms", imap__auth_penalty_max="3s",
                      imap__max_connections_per_ip=3, imap__max_connections_per_user=2,
                      imap__login_timeout="2s", imap__auth_mechanisms=["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        cls.a = st.start_imapd("imapd-a", **common)
        cls.b = st.start_imapd("imapd-b", **common)
        cls.bob = st.add_user("bob", password="bob-secret")
        cls.sam = st.add_user("sam", password="sam-secret", scheme="SCRAM-SHA-256")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def login(self, port, user, password, source=None, tag="l1"):
        r = connect(port, source)
        t0 = time.monotonic()
        _, done = r.command(tag, f'LOGIN "{user}" "{password}"')
        return r, done, time.monotonic() - t0

    # -- SASL mechanisms

    def test_capabilities_offer_the_configured_mechanisms(self):
        r = RawImap(self.a.port, read_greeting=False)
        greeting = r.line()
        for m in ("AUTH=PLAIN", "AUTH=LOGIN", "AUTH=SCRAM-SHA-256"):
            self.assertIn(m, greeting)
        _, done = r.command("c1", "AUTHENTICATE CRAM-MD5")
        self.assertTrue(done.startswith("c1 NO [CANNOT]"), done)
        r.close()

    def test_authenticate_login(self):
        r = connect(self.a.port)
        r.send("a1 AUTHENTICATE LOGIN")
        self.assertEqual(r.line(), "+ " + b64("Username:"))
        r.send(b64(self.bob))
        self.assertEqual(r.line(), "+ " + b64("Password:"))
        r.send(b64("bob-secret"))
        done = r.line()
        self.assertTrue(done.startswith("a1 OK"), done)
        _, done = r.command("a2", "SELECT INBOX")
        self.assertTrue(done.startswith("a2 OK"), done)
        r.close()
        # With the user name as initial response (SASL-IR), and a wrong password.
        r = connect(self.a.port)
        r.send(f"b1 AUTHENTICATE LOGIN {b64(self.bob)}")
        self.assertEqual(r.line(), "+ " + b64("Password:"))
        r.send(b64("wrong"))
        self.assertTrue(r.line().startswith("b1 NO [AUTHENTICATIONFAILED]"))
        r.close()

    def scram(self, user, password, port=None):
        """Runs the exchange; returns (tagged reply, server-final or None, client)."""
        c = ScramClient(user, password)
        r = connect(port or self.a.port)
        r.send(f"s1 AUTHENTICATE SCRAM-SHA-256 {b64(c.first())}")
        line = r.line()
        self.assertTrue(line.startswith("+ "), line)
        server_first = base64.b64decode(line[2:]).decode()
        self.assertIn(",s=", server_first)
        r.send(b64(c.final(server_first)))
        line = r.line()
        server_final = None
        if line.startswith("+ "):
            server_final = base64.b64decode(line[2:]).decode()
            self.assertEqual(server_final, c.expected_server_final)
            r.send("")
            line = r.line()
        r.close()
        return line, server_final

    def test_scram_sha_256_logs_in_and_proves_the_server(self):
        done, server_final = self.scram(self.sam, "sam-secret")
        self.assertTrue(done.startswith("s1 OK"), done)
        self.assertIsNotNone(server_final)

    def test_scram_failures_look_alike(self):
        # Wrong password, unknown user, and a user whose directory entry holds Argon2
        # (no SCRAM secret): each gets a server-first-message and then the same NO.
        for user, password in ((self.sam, "wrong"), ("nobody@" + self.stack.domain, "x"), (self.bob, "bob-secret")):
            done, server_final = self.scram(user, password, port=self.b.port)
            self.assertIsNone(server_final, user)
            self.assertTrue(done.startswith("s1 NO [AUTHENTICATIONFAILED]"), (user, done))

    # -- failure counters and penalties (Redis)

    def test_penalty_grows_with_failures_and_every_replica_applies_it(self):
        victim = self.stack.add_user("victim", password="right")
        times = []
        for i in range(3):
            r, done, took = self.login(self.a.port, victim, "wrong", source="127.0.0.3")
            self.assertTrue(done.startswith("l1 NO [AUTHENTICATIONFAILED]"), done)
            r.close()
            times.append(took)
        # 1st: the failure delay only; 2nd: + base; 3rd: + 2 * base.
        self.assertGreaterEqual(times[0], FAILURE_DELAY)
        self.assertGreaterEqual(times[1], FAILURE_DELAY + PENALTY_BASE)
        self.assertGreaterEqual(times[2], FAILURE_DELAY + 2 * PENALTY_BASE)
        self.assertEqual(self.stack.redis("GET", f"cnt:authfail:user:{victim}"), "3")
        self.assertEqual(self.stack.redis("GET", "cnt:authfail:ip:127.0.0.3"), "3")
        # The other replica sees the counters: even the right password from a fresh
        # address waits the per-user penalty (3 failures: 4 * base) before its answer.
        r, done, took = self.login(self.b.port, victim, "right", source="127.0.0.4")
        self.assertTrue(done.startswith("l1 OK"), done)
        self.assertGreaterEqual(took, 4 * PENALTY_BASE)
        r.close()
        # Success reset the user's counter, not the failing address's.
        self.assertEqual(self.stack.redis("GET", f"cnt:authfail:user:{victim}"), "")
        self.assertEqual(self.stack.redis("GET", "cnt:authfail:ip:127.0.0.3"), "3")

    def test_trusted_clients_are_not_counted_by_address(self):
        r, done, _ = self.login(self.a.port, "ghost@" + self.stack.domain, "x")
        self.assertTrue(done.startswith("l1 NO [AUTHENTICATIONFAILED]"), done)
        r.close()
        self.assertEqual(self.stack.redis("GET", "cnt:authfail:ip:127.0.0.1"), "")
        self.assertEqual(self.stack.redis("GET", f"cnt:authfail:user:ghost@{self.stack.domain}"), "1")

    # -- POP-before-SMTP

    def test_login_from_outside_records_pop_before_smtp(self):
        r, done, _ = self.login(self.a.port, self.bob.upper(), "bob-secret", source="127.0.0.2")
        self.assertTrue(done.startswith("l1 OK"), done)
        r.close()
        self.assertEqual(self.stack.redis("GET", "pbs:127.0.0.2"), self.bob)
        ttl = int(self.stack.redis("TTL", "pbs:127.0.0.2"))
        self.assertTrue(1100 <= ttl <= 1200, ttl)
        r, done, _ = self.login(self.a.port, self.bob, "bob-secret")
        self.assertTrue(done.startswith("l1 OK"), done)
        r.close()
        self.assertEqual(self.stack.redis("GET", "pbs:127.0.0.1"), "")

    # -- connection limits

    def test_connections_per_address_are_limited_except_trusted(self):
        held = [connect(self.a.port, "127.0.0.5") for _ in range(3)]
        extra = RawImap(self.a.port, source="127.0.0.5", read_greeting=False)
        self.assertEqual(extra.line(), "* BYE [UNAVAILABLE] Too many connections from your address.")
        with self.assertRaises((ConnectionError, OSError)):
            extra.line(timeout=5)
        extra.close()
        # The other replica counts its own connections.
        other = connect(self.b.port, "127.0.0.5")
        _, done = other.command("n1", "NOOP")
        self.assertTrue(done.startswith("n1 OK"))
        other.close()
        _, done = held[0].command("q1", "LOGOUT")
        held[0].close()
        time.sleep(0.2)
        again = connect(self.a.port, "127.0.0.5")
        _, done = again.command("n2", "NOOP")
        self.assertTrue(done.startswith("n2 OK"), done)
        for c in held[1:] + [again]:
            c.close()
        trusted = [connect(self.a.port) for _ in range(6)]
        for c in trusted:
            c.close()

    def test_connections_per_user_are_limited(self):
        multi = self.stack.add_user("multi", password="m")
        first, done1, _ = self.login(self.a.port, multi, "m")
        second, done2, _ = self.login(self.a.port, multi, "m")
        third, done3, _ = self.login(self.a.port, multi, "m")
        self.assertTrue(done1.startswith("l1 OK") and done2.startswith("l1 OK"), (done1, done2))
        self.assertTrue(done3.startswith("l1 NO [LIMIT]"), done3)
        # Still not authenticated: the client may try again once a slot is free.
        first.command("o1", "LOGOUT")
        first.close()
        time.sleep(0.2)
        _, done = third.command("l2", f'LOGIN "{multi}" "m"')
        self.assertTrue(done.startswith("l2 OK"), done)
        second.close()
        third.close()

    # -- timeouts

    def test_unauthenticated_clients_are_dropped_after_login_timeout(self):
        r = connect(self.a.port)
        t0 = time.monotonic()
        self.assertEqual(r.line(timeout=10), "* BYE Authentication timed out.")
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        r.close()
        # After login the idle timeout (30 min) applies, not login_timeout.
        r, done, _ = self.login(self.a.port, self.bob, "bob-secret")
        self.assertTrue(done.startswith("l1 OK"), done)
        time.sleep(2.5)
        _, done = r.command("n1", "NOOP")
        self.assertTrue(done.startswith("n1 OK"), done)
        r.close()


class ImapLoginWithoutRedis(unittest.TestCase):
    def test_logins_work_when_redis_is_unreachable(self):
        st = Stack("imapnoredis")
        try:
            st.start_metad()
            dead = socket.socket()
            dead.bind(("127.0.0.1", 0))
            port = dead.getsockname()[1]
            dead.close()
            imapd = st.start_imapd(redis__uri=f"redis://127.0.0.1:{port}", redis__timeout="100ms",
                                   imap__auth_failure_delay="10ms", imap__allow_plaintext_auth="true")
            user = st.add_user("ann", password="pw")
            r = RawImap(imapd.port, source="127.0.0.2")
            _, done = r.command("l1", f'LOGIN "{user}" "wrong"')
            self.assertTrue(done.startswith("l1 NO [AUTHENTICATIONFAILED]"), done)
            _, done = r.command("l2", f'LOGIN "{user}" "pw"')
            self.assertTrue(done.startswith("l2 OK"), done)
            r.close()
            _, metrics = imapd.http("/metrics")
            self.assertIn('columba_imapd_errors_total{kind="redis"}', metrics)
        finally:
            st.close()


if __name__ == "__main__":
    unittest.main()
