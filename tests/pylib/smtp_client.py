"""smtp_client.py - a line-level SMTP client for e2e tests that need what smtplib
hides: a chosen source address (127.0.0.2+ are "outside" clients), pipelined or
malformed input, raw replies, and STARTTLS at a chosen moment."""
import socket


class Raw:
    """One connection; reads the greeting unless greet=False (e.g. to send a PROXY
    header first). tls: an ssl.SSLContext for implicit TLS."""

    def __init__(self, port, source="127.0.0.1", greet=True, tls=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        if tls:
            self.s = tls.wrap_socket(self.s)
        self.f = self.s.makefile("rb")
        self.greeting = self.reply() if greet else None

    def reply(self):
        """One reply's lines, without CRLF. ConnectionError when the server closed."""
        lines = []
        while True:
            line = self.f.readline().decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ctx):
        assert self.cmd("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        self.s = ctx.wrap_socket(self.s)
        self.f = self.s.makefile("rb")

    def close(self):
        self.s.close()
