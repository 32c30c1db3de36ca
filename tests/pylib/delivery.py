"""delivery.py - a retrying LMTP sender for stress tests: behaves like an MTA.

Each send() loops until every recipient got a final answer: on a dropped
connection or a 4xx it reconnects and retries, exactly as a real MTA would; it
records a message as acknowledged only when lmtpd answered 250 for it.
"""
import hashlib
import os
import time

from pylib.stack import LmtpClient, dot_stuff


class RetryingSender:
    def __init__(self, port_fn, deadline_s=120):
        self.port_fn = port_fn  # callable: the current lmtpd port (it may restart)
        self.client = None
        self.deadline_s = deadline_s

    def _connect(self):
        c = LmtpClient(self.port_fn(), timeout=20)
        code, _ = c.reply()
        if code != 220:
            raise ConnectionError(f"greeting {code}")
        c.send("LHLO stress.test\r\n")
        if c.reply()[0] != 250:
            raise ConnectionError("LHLO refused")
        return c

    def send(self, sender, rcpts, body):
        """Returns {rcpt: final code} once every recipient has a 2xx or 5xx."""
        pending = list(rcpts)
        final = {}
        start = time.time()
        while pending:
            if time.time() - start > self.deadline_s:
                raise TimeoutError(f"could not deliver to {pending} within {self.deadline_s}s")
            try:
                if self.client is None:
                    self.client = self._connect()
                c = self.client
                c.send(f"MAIL FROM:<{sender}>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in pending) + "DATA\r\n")
                if c.reply()[0] != 250:
                    raise ConnectionError("MAIL refused")
                accepted = []
                for r in pending:
                    code, _ = c.reply()
                    if code == 250:
                        accepted.append(r)
                    elif code >= 500:
                        final[r] = code
                data_code = c.reply()[0]
                if not accepted:
                    if data_code == 354:
                        raise ConnectionError("354 without recipients")
                    pending = [r for r in pending if r not in final]
                    time.sleep(0.05)
                    continue
                if data_code != 354:
                    raise ConnectionError(f"DATA answered {data_code}")
                c.send(dot_stuff(body))
                for r in accepted:
                    code, _ = c.reply()
                    if code < 400 or code >= 500:
                        final[r] = code
                pending = [r for r in pending if r not in final]
                if pending:
                    time.sleep(0.05)
            except (OSError, ConnectionError):
                if self.client:
                    self.client.close()
                self.client = None
                time.sleep(0.05)
        return final

    def close(self):
        if self.client:
            try:
                self.client.send("QUIT\r\n")
            except OSError:
                pass
            self.client.close()


def blob_path(root, blob_id):
    return os.path.join(root, blob_id[:2], blob_id[2:4], blob_id)


def blob_ok(root, blob_id, size):
    """The blob exists, has the listed size and hashes to its id (complete, not torn)."""
    try:
        with open(blob_path(root, blob_id), "rb") as f:
            data = f.read()
    except OSError:
        return False, b""
    return len(data) == size and hashlib.sha256(data).hexdigest() == blob_id, data
