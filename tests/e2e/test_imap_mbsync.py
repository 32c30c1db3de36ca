"""test_imap_mbsync.py - a real IMAP client, mbsync (isync), synchronises an account
with columba-imapd both ways, against real imapd + lmtpd + metad + PostgreSQL.

What it proves, as a user of mbsync would check it:
1. First `mbsync -a` (plaintext LOGIN from the trusted 127.0.0.1): every mailbox
   appears locally and the mail delivered by LMTP arrives in the local Maildir byte
   for byte (mbsync's own transformations undone: CRLF -> LF and its X-TUID line).
2. Local changes go up, server changes come down, in one second `mbsync -a`:
   a message marked seen + flagged, one moved to Archive, one deleted (T flag +
   expunge), a new draft in Drafts, a new folder Projects/Columba with a message;
   at the same time on the server a flag set through imaplib, a message moved to
   Trash, a new folder Lists/Debian with an appended message and a new delivery. Checked through imaplib
   on the server (flags per UID, the moved message's bytes in Archive and its absence
   from INBOX, the deletion, the draft's bytes and \\Draft flag, the new folder) and
   in the Maildir (new mail, flags, the new folder).
3. A third `mbsync -a` is a no-op: mbsync sends no changing command (its network
   trace has no APPEND/STORE/EXPUNGE/...), the server's UIDs, flags, UIDNEXT and
   HIGHESTMODSEQ of every mailbox and the local Maildir files are all unchanged.
4. mbsync over implicit TLS (IMAPS) with a certificate made here also syncs.
mutt and offlineimap are not installed in CI: not covered.
"""
import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

from pylib.stack import Stack

MBSYNC = shutil.which("mbsync") or "/usr/bin/mbsync"
PASSWORD = "mbsync-secret"
# Commands that change the server: none may appear in a no-op sync.
CHANGING = ("APPEND", "STORE", "EXPUNGE", "COPY", "MOVE", "CREATE", "DELETE", "RENAME")


def message(n, extra=b""):
    """CRLF-clean (mbsync stores LF in the Maildir), with 8-bit text and dot lines."""
    return (b"From: Alice <alice@example.org>\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Subject: mbsync test %d\r\n"
            b"Message-ID: <mbsync%d-%d@example.org>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"Body number %d, gr\xc3\xbc\xc3\x9fe.\r\n"
            b".a line starting with a dot\r\n"
            b"%s"
            b"-- \r\nAlice\r\n") % (n, n, time.time_ns(), n, extra)


def maildir_to_wire(data):
    """Undoes what mbsync does when it stores into a Maildir: LF line ends and an
    added `X-TUID:` header line (used to find its own messages)."""
    data = re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", data, count=1)
    return data.replace(b"\n", b"\r\n")


def strip_tuid(wire):
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", wire, count=1)


def parse_flags(fetch_line):
    m = re.search(rb"FLAGS \(([^)]*)\)", fetch_line)
    return set(m.group(1).decode().split()) if m else None


class MbsyncSync(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imapmbsync")
        st = cls.stack
        cls.metad = st.start_metad()
        cls.lmtpd = st.start_lmtpd()
        cert, key = os.path.join(st.dir, "imap.crt"), os.path.join(st.dir, "imap.key")
        # CN = the address mbsync connects to, so its host check passes.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        cls.cert = cert
        cls.imapd = st.start_imapd(tls=(cert, key))

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="mbsync-", dir=self.stack.dir)
        self.imaps = []

    def tearDown(self):
        for c in self.imaps:
            try:
                c.logout()
            except Exception:
                pass

    # -- helpers

    def deliver(self, user, data):
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            self.assertFalse(lmtp.sendmail("alice@example.org", [user], data))

    def write_config(self, user, tls=False):
        self.inbox = os.path.join(self.home, "inbox")
        self.maildir = os.path.join(self.home, "mail")
        os.makedirs(self.maildir)
        if tls:
            conn = (f"Port {self.imapd.tls_port}\nSSLType IMAPS\nCertificateFile {self.cert}\n")
        else:
            conn = f"Port {self.imapd.port}\nSSLType None\nAuthMechs LOGIN\n"
        self.rc = os.path.join(self.home, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write(f"IMAPAccount columba\nHost 127.0.0.1\n{conn}User {user}\nPass {PASSWORD}\nTimeout 20\n\n"
                    f"IMAPStore remote\nAccount columba\n\n"
                    f"MaildirStore local\nPath {self.maildir}/\nInbox {self.inbox}\nSubFolders Verbatim\n\n"
                    f"Channel columba\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n"
                    f"SyncState *\n")

    def mbsync(self):
        """`mbsync -a` with the network trace (-Dn); returns the commands it sent."""
        start = time.monotonic()
        r = subprocess.run([MBSYNC, "-Dn", "-c", self.rc, "-a"], capture_output=True, timeout=60,
                           env={"HOME": self.home, "PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, f"mbsync failed:\n{out[-6000:]}\nimapd log:\n{self.imapd.log_tail()}")
        print(f"\nmbsync -a: {(time.monotonic() - start) * 1000:.0f} ms")
        # "(1 in progress) >>> 7 UID FETCH ..." when pipelined.
        return [m.group(1) for m in re.finditer(r">>> \d+ (.*)", out)]

    def box_dir(self, box):
        return self.inbox if box == "INBOX" else os.path.join(self.maildir, box)

    def local(self, box):
        """{path: (flags, wire bytes)} of the messages in a local Maildir folder."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.box_dir(box), sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                flags = name.split(":2,", 1)[1] if ":2," in name else ""
                with open(os.path.join(d, name), "rb") as f:
                    out[os.path.join(d, name)] = (flags, maildir_to_wire(f.read()))
        return out

    def local_files(self):
        """Every message file name under the Maildir tree, per folder (state files excluded)."""
        out = []
        for root in (self.inbox, self.maildir):
            for dirpath, _, files in os.walk(root):
                if os.path.basename(dirpath) in ("new", "cur", "tmp"):
                    out += [os.path.join(dirpath, f) for f in files]
        return sorted(out)

    def find_local(self, box, body):
        hits = [(p, fl) for p, (fl, data) in self.local(box).items() if data == body]
        self.assertEqual(len(hits), 1, f"expected exactly one local copy in {box}; have "
                         f"{[(p, d[:120]) for p, (_, d) in self.local(box).items()]}")
        return hits[0]

    def imap(self):
        c = imaplib.IMAP4("127.0.0.1", self.imapd.port, timeout=15)
        self.imaps.append(c)
        self.assertEqual(c.login(self.user, PASSWORD)[0], "OK")
        return c

    def server_box(self, c, box):
        """{uid: (flags, bytes)} of a server mailbox."""
        typ, _ = c.select(box)
        self.assertEqual(typ, "OK", box)
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        out = {}
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                flags = parse_flags(item[0])
                out[uid] = (flags, item[1])
        return out

    def server_state(self, c):
        """Per mailbox: STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ) and [(uid, flags)]."""
        typ, data = c.list()
        self.assertEqual(typ, "OK")
        state = {}
        for line in data:
            name = line.decode().rsplit(" ", 1)[1].strip('"')
            typ, st = c.status(name, "(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)")
            self.assertEqual(typ, "OK", name)
            typ, _ = c.select(name, readonly=True)
            self.assertEqual(typ, "OK", name)
            typ, rows = c.uid("FETCH", "1:*", "(UID FLAGS)")
            listing = []
            for r in rows:
                if r:
                    listing.append((int(re.search(rb"UID (\d+)", r).group(1)), sorted(parse_flags(r))))
            state[name] = (st[0].decode().split("(", 1)[1], listing)
            c.unselect()
        return state

    # -- the tests

    def test_sync_both_ways_then_noop(self):
        self.user = self.stack.add_user("mbsync1", password=PASSWORD)
        bodies = [message(1), message(2), message(3), message(4),
                  # > 256 KiB: imapd streams it from the blob store (imap.fetch_stream_threshold)
                  message(5, extra=b"x" * 998 + b"\r\n" + b"0123456789abcdef\r\n" * 20000)]
        for b in bodies:
            self.deliver(self.user, b)
        self.write_config(self.user)

        # 1. First sync: everything comes down, byte-exact.
        self.mbsync()
        c = self.imap()
        server = first = self.server_box(c, "INBOX")
        self.assertEqual(sorted(server), [1, 2, 3, 4, 5])
        for uid, (_, data) in server.items():
            self.assertTrue(data.endswith(bodies[uid - 1]), f"UID {uid}: server bytes end with the delivered message")
            self.find_local("INBOX", data)
        self.assertEqual(len(self.local("INBOX")), 5)
        for box in ("Archive", "Drafts", "Sent", "Trash"):
            self.assertTrue(os.path.isdir(os.path.join(self.box_dir(box), "cur")), f"local {box} created")

        # 2. Local changes ...
        def set_flags(path, flags):
            folder = os.path.dirname(os.path.dirname(path))
            base = os.path.basename(path).split(":2,", 1)[0]
            new = os.path.join(folder, "cur", f"{base}:2,{''.join(sorted(flags))}")
            os.rename(path, new)
            return new

        p1, _ = self.find_local("INBOX", server[1][1])
        set_flags(p1, "FS")                                    # UID 1: \Seen \Flagged
        p2, fl2 = self.find_local("INBOX", server[2][1])       # UID 2: moved to Archive
        moved_name = re.sub(r",U=\d+", "", os.path.basename(p2).split(":2,", 1)[0]) + ":2," + fl2
        os.rename(p2, os.path.join(self.maildir, "Archive", "cur", moved_name))
        p3, _ = self.find_local("INBOX", server[3][1])
        set_flags(p3, "T")                                     # UID 3: deleted
        draft = (b"From: Bob <bob@example.test>\r\nTo: Alice <alice@example.org>\r\n"
                 b"Subject: a draft written offline\r\nMessage-ID: <draft-%d@example.test>\r\n\r\n"
                 b"Not finished yet.\r\n") % time.time_ns()
        with open(os.path.join(self.maildir, "Drafts", "cur", f"{int(time.time())}.{os.getpid()}_1.test:2,D"),
                  "wb") as f:
            f.write(draft.replace(b"\r\n", b"\n"))
        # A new local folder with a subfolder (SubFolders Verbatim: Projects/Columba).
        project = message(8)
        proj_dir = os.path.join(self.maildir, "Projects", "Columba")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(proj_dir, sub))
        with open(os.path.join(proj_dir, "cur", f"{int(time.time())}.{os.getpid()}_2.test:2,S"), "wb") as f:
            f.write(project.replace(b"\r\n", b"\n"))
        # ... and server changes at the same time: a flag, a new folder with a message, new mail.
        list_mail = message(9)
        self.assertEqual(c.create("Lists/Debian")[0], "OK")
        self.assertEqual(c.append("Lists/Debian", r"(\Flagged)", None, list_mail)[0], "OK")
        typ, _ = c.select("INBOX")
        self.assertEqual(c.uid("STORE", "4", "+FLAGS", r"(\Answered)")[0], "OK")
        self.assertEqual(c.uid("MOVE", "5", "Trash")[0], "OK")  # the big one, moved on the server
        c.close()
        new_mail = message(6)
        self.deliver(self.user, new_mail)

        sent = self.mbsync()
        # (The trace is read right: the changes went up as STORE / APPEND / CLOSE.)
        self.assertTrue(any(cmd.startswith("APPEND ") for cmd in sent), sent)
        self.assertTrue(any(cmd.startswith("UID STORE ") for cmd in sent), sent)
        server = self.server_box(c, "INBOX")
        self.assertEqual(sorted(server), [1, 4, 6], "INBOX on the server after the second sync")
        self.assertEqual(server[1][0], {r"\Seen", r"\Flagged"})
        self.assertEqual(server[4][0], {r"\Answered"})
        archive = self.server_box(c, "Archive")
        self.assertEqual(len(archive), 1, archive.keys())
        (auid, (aflags, adata)), = archive.items()
        # mbsync uploads the Maildir file (CRLF again), maybe with its X-TUID line.
        self.assertEqual(strip_tuid(adata), first[2][1], "the moved message's bytes in Archive")
        self.assertNotIn(r"\Deleted", aflags)
        drafts = self.server_box(c, "Drafts")
        self.assertEqual(len(drafts), 1, drafts.keys())
        (duid, (dflags, ddata)), = drafts.items()
        self.assertEqual(strip_tuid(ddata), draft)
        self.assertEqual(dflags, {r"\Draft"})
        # The deleted message is gone everywhere, on both sides.
        for box in ("INBOX", "Archive", "Drafts", "Trash"):
            for _, (_, data) in self.server_box(c, box).items():
                self.assertFalse(data.endswith(bodies[2]), f"deleted message still in {box} on the server")
            for _, (_, data) in self.local(box).items():
                self.assertFalse(data.endswith(bodies[2]), f"deleted message still in local {box}")
        # Server changes arrived locally.
        self.assertTrue(server[6][1].endswith(new_mail))
        _, fl = self.find_local("INBOX", server[6][1])
        self.assertEqual(fl, "")
        _, fl = self.find_local("INBOX", server[4][1])
        self.assertEqual(fl, "R")
        _, fl = self.find_local("INBOX", server[1][1])
        self.assertEqual(fl, "FS")
        self.assertEqual(len(self.local("INBOX")), 3)
        trash = self.server_box(c, "Trash")
        self.assertEqual([d for _, d in trash.values()], [first[5][1]])
        self.find_local("Trash", first[5][1])  # the server-side move, down
        self.find_local("Archive", first[2][1])
        # New folders went both ways, hierarchy included.
        proj = self.server_box(c, "Projects/Columba")
        self.assertEqual([(fl, strip_tuid(d)) for fl, d in proj.values()], [({r"\Seen"}, project)])
        self.assertEqual(self.find_local("Lists/Debian", list_mail)[1], "F")

        # 3. A third sync changes nothing on either side.
        before_server, before_local = self.server_state(c), self.local_files()
        boxes = ("INBOX", "Archive", "Drafts", "Trash", "Projects/Columba", "Lists/Debian")
        contents = {p: d for box in boxes for p, (_, d) in self.local(box).items()}
        sent = self.mbsync()
        changing = [cmd for cmd in sent if cmd.split(" ")[0] in CHANGING
                    or (cmd.startswith("UID ") and cmd.split(" ")[1] in CHANGING)]
        self.assertEqual(changing, [], "the no-op sync sent changing commands")
        after_server, after_local = self.server_state(c), self.local_files()
        self.assertEqual(after_server, before_server, "server state changed by a no-op sync")
        self.assertEqual(after_local, before_local, "local Maildir changed by a no-op sync")
        self.assertEqual({p: d for box in boxes for p, (_, d) in self.local(box).items()}, contents)

    def test_sync_over_imaps(self):
        self.user = self.stack.add_user("mbsync2", password=PASSWORD)
        body = message(7)
        self.deliver(self.user, body)
        self.write_config(self.user, tls=True)
        self.mbsync()
        c = self.imap()
        server = self.server_box(c, "INBOX")
        self.assertEqual(list(server), [1])
        self.find_local("INBOX", server[1][1])
        self.assertTrue(server[1][1].endswith(body))


if __name__ == "__main__":
    unittest.main()
