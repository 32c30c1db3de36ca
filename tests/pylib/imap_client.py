"""imap_client.py - a line-level IMAP client for the e2e tests: checks imaplib
hides (the greeting, exact untagged and tagged replies, IDLE, raw literals)."""
import socket


class RawImap:
    def __init__(self, port, source=None, timeout=15, read_greeting=True):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        if read_greeting:
            self.line()

    def line(self, timeout=None):
        """One line without CRLF; `timeout` overrides the socket timeout for this read."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def command(self, tag, data):
        """Sends `tag data` (or, when `data` is bytes, exactly those bytes: the whole
        command); returns (untagged lines, tagged line)."""
        self.sock.sendall(data if isinstance(data, bytes) else f"{tag} {data}\r\n".encode())
        untagged = []
        while True:
            l = self.line()
            if l.startswith(tag + " "):
                return untagged, l
            untagged.append(l)

    def close(self):
        self.sock.close()
