"""test_smtp_open_relay.py - the open-relay audit (DESIGN invariant 6, issue 5):
nmap's smtp-open-relay script (16 classic relay attempts: plain, %-hack, !-paths,
quoted local parts, source routes, address literals, ...) against the MX port from
an address outside the trusted networks finds no relay.

The same scan against an smtpd that trusts the scanner's address must report an
open relay: that shows the audit can fail, i.e. that nmap really reached the RCPT
stage. Both ports are scanned in one nmap run.
"""
import re
import subprocess
import unittest

from pylib.stack import Stack


class OpenRelayAudit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = st = Stack("openrelay")
        st.start_metad()
        lmtpd = st.start_lmtpd()
        # 127.0.0.1 is outside here: only a network nobody uses is trusted.
        cls.mx = st.start_smtpd(lmtpd, name="smtpd_mx", smtp__trusted_networks="[192.0.2.0/30]")
        cls.trusting = st.start_smtpd(lmtpd, name="smtpd_trusting")  # trusts 127.0.0.1

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_nmap_finds_no_open_relay_from_outside(self):
        r = subprocess.run(["nmap", "-Pn", "-sT", "-sV", "--version-light", "-p",
                            f"{self.mx.port},{self.trusting.port}", "--script", "smtp-open-relay",
                            "--script-args", f"smtp-open-relay.domain={self.stack.domain}", "127.0.0.1"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        verdicts = {}
        port = None
        for line in r.stdout.splitlines():
            m = re.match(r"(\d+)/tcp\s+open", line)
            if m:
                port = int(m.group(1))
            if "smtp-open-relay:" in line and port is not None:
                verdicts[port] = line.split("smtp-open-relay:", 1)[1].strip()
        self.assertIn(self.mx.port, verdicts, r.stdout)
        self.assertIn(self.trusting.port, verdicts, r.stdout)
        self.assertIn("doesn't seem to be an open relay", verdicts[self.mx.port], r.stdout)
        self.assertIn("is an open relay", verdicts[self.trusting.port], r.stdout)


if __name__ == "__main__":
    unittest.main()
