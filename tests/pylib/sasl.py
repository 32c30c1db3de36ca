"""sasl.py - the client side of SASL mechanisms the e2e tests drive by hand
(SCRAM-SHA-256: Python's imaplib/smtplib have no SCRAM)."""
import base64
import hashlib
import hmac
import os


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


class ScramClient:
    """RFC 5802 / 7677 client side, SHA-256, no channel binding."""

    def __init__(self, user, password):
        self.user, self.password = user, password
        self.nonce = b64(os.urandom(18))
        self.first_bare = f"n={user},r={self.nonce}"

    def first(self):
        return "n,," + self.first_bare

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        assert attrs["r"].startswith(self.nonce), server_first
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c={b64('n,,')},r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.expected_server_final = "v=" + b64(hmac.new(server_key, auth_message, hashlib.sha256).digest())
        return f"{without_proof},p={b64(proof)}"
