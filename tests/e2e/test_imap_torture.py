"""test_imap_torture.py - concurrent sessions on two imapd processes (each on its own
metad, both metads on one PostgreSQL) append, change flags and expunge in ONE mailbox
for a bounded time; afterwards every session's view agrees with the server's.

Each session keeps a client-side model of the selected mailbox - sequence number ->
(UID, flags) - built ONLY from the server's untagged responses (EXISTS, EXPUNGE,
FETCH), exactly as a real client must: it learns the UIDs of new messages with
`FETCH n:m (UID FLAGS)` after an EXISTS, and never rereads flags it already has.
Workers pick at random (seeded RNG per session): APPEND (with flags), STORE / UID
STORE (+FLAGS, -FLAGS, FLAGS), STORE \\Deleted then EXPUNGE or UID EXPUNGE, UID MOVE
to Archive, UID COPY within INBOX, SELECT again (QRESYNC sessions: SELECT (QRESYNC
...) with their cache, checked against RFC 7162 3.2.5; and UID FETCH (CHANGEDSINCE m
VANISHED)), NOOP, and a `FETCH 1:* (UID)` whose every number -> UID must be the
model's (the client's and the server session's sequence numbers agree at every
moment). Two more sessions sit in IDLE (leaving it now and then to learn UIDs). Per
imapd one worker is plain, one has ENABLEd CONDSTORE (FETCH carries MODSEQ) and one
QRESYNC (`* VANISHED uids` instead of EXPUNGE); idle1 has QRESYNC, idle2 CONDSTORE.
Meanwhile lmtpd delivers new mail every ~50 ms.
Checked, with a readable diff on failure:
- during the run: EXISTS never shrinks the view, EXPUNGE / FETCH numbers are in range,
  no EXPUNGE / VANISHED answers FETCH or STORE (RFC 3501 7.4.1),
  a FETCH UID never contradicts the model, the model's UIDs are strictly ascending, a
  message's MODSEQ never goes back (nor changes flags without a new MODSEQ), a
  UID never comes back to a session that was told it was expunged, and every APPENDUID
  is new (above every UID any session had learned before the APPEND was sent), every
  COPYUID too;
- at the end, after a final NOOP: each session's view (UIDs in order and flags per
  UID, and MODSEQ per UID with CONDSTORE) equals a fresh SELECT + `UID FETCH 1:*
  (UID FLAGS MODSEQ)` on both imapds and metad's listing (columbactl); no UID that
  any session saw expunged (or got in a VANISHED (EARLIER)) is still there, and every
  message ever created is either there or was reported expunged.
"""
import collections
import concurrent.futures
import random
import re
import smtplib
import threading
import time
import unittest

from pylib.imap_client import RawImap
from pylib.stack import Stack

PASSWORD = "torture-secret"
RUN_SECONDS = 8           # the concurrent phase
WORKER_MODES = ["plain", "condstore", "qresync"]  # per imapd; ENABLEd before SELECT
IDLER_MODES = ["qresync", "condstore"]            # idle1, idle2
SEED = 20261126
FLAG_POOL = [r"\Seen", r"\Flagged", r"\Answered", r"\Draft", "$Label1", "$Label2"]
INITIAL = 12
HIGH_WATER = 45           # above this many messages, workers prefer expunging


def message(tag):
    return (f"From: Torture <t@example.org>\r\nTo: Bob <bob@example.test>\r\n"
            f"Subject: torture {tag}\r\nMessage-ID: <torture-{tag}-{time.time_ns()}@example.org>\r\n"
            f"\r\nMessage {tag}.\r\n").encode()


def uid_set(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        out += list(range(int(a), int(b or a) + 1)) if int(b or a) >= int(a) else list(range(int(b), int(a) + 1))
    return out


def fmt_uids(uids):
    """Ascending UIDs as a compact set: 1:3,7."""
    out, start = [], None
    for i, u in enumerate(uids):
        if start is None:
            start = u
        if i + 1 == len(uids) or uids[i + 1] != u + 1:
            out.append(str(start) if start == u else f"{start}:{u}")
            start = None
    return ",".join(out)


class Violation(AssertionError):
    pass


class Shared:
    """What all sessions know together (under one lock)."""

    def __init__(self, initial_uids):
        self.lock = threading.Lock()
        self.created = set(initial_uids)   # initial + every APPENDUID
        self.appended = []                 # (session, uid)
        self.expunged = {}                 # uid -> session that saw it expunged first
        self.vanished_earlier = set()      # UIDs reported by UID FETCH (CHANGEDSINCE m VANISHED)
        self.max_learned = max(initial_uids)
        self.stop = threading.Event()
        self.errors = []


class Session:
    """One IMAP connection with a model of the selected mailbox kept from untagged responses."""

    def __init__(self, name, imapd, user, shared, rng, append_selected=True, mode="plain"):
        self.name, self.shared, self.rng, self.mode = name, shared, rng, mode
        self.log = collections.deque(maxlen=300)
        self.c = RawImap(imapd.port, timeout=20)
        # APPENDs go through this session itself (INBOX selected) or through a second
        # connection of the same client with nothing selected.
        self.poster = None
        if not append_selected:
            self.poster = RawImap(imapd.port, timeout=20)
            _, ok = self.poster.command("p0", f'LOGIN {user} "{PASSWORD}"')
            assert ok.startswith("p0 OK"), ok
        self.tags = (f"{name}.{i}" for i in range(1, 10 ** 9))
        self.entries = []  # [uid or None, set of flags or None, modseq or None] in sequence order
        self.uidvalidity = self.highestmodseq = None  # of the last SELECT
        self.in_changedsince = False
        self.gone = set()  # UIDs this session was told were expunged
        self.modseqs = {}  # uid -> (highest MODSEQ reported, its flags): never goes back
        self.ops = collections.Counter()
        self.cmd(f'LOGIN {user} "{PASSWORD}"')
        if mode != "plain":  # CONDSTORE: FETCH carries MODSEQ; QRESYNC: VANISHED instead of EXPUNGE
            untagged, _ = self.cmd(f"ENABLE {mode.upper()}")
            if not any(mode.upper() in l for l in untagged if l.startswith("* ENABLED")):
                self.fail(f"ENABLE {mode.upper()}: {untagged}")
        self.cmd("SELECT INBOX")

    # -- the model

    def fail(self, what):
        raise Violation(f"{self.name}: {what}\nlast lines of {self.name}:\n" + "\n".join(list(self.log)[-40:]))

    def apply(self, line):
        code = re.match(r"\* OK \[(UIDVALIDITY|HIGHESTMODSEQ) (\d+)\]", line)
        if code:
            setattr(self, code.group(1).lower(), int(code.group(2)))
            return
        v = re.fullmatch(r"\* VANISHED (\(EARLIER\) )?([\d:,]+)", line)
        if v and v.group(1) and self.in_changedsince:
            # RFC 7162 3.2.6: expunged after the given modseq; the view stays as it is.
            with self.shared.lock:
                self.shared.vanished_earlier.update(uid_set(v.group(2)))
            self.ops["vanished-earlier"] += 1
            return
        if v:
            if self.mode != "qresync" or v.group(1):
                self.fail(f"unexpected {line!r}")
            for uid in uid_set(v.group(2)):
                self.vanish(uid)
                self.ops["vanished"] += 1
            return
        m = re.match(r"\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)\b ?(.*)$", line)
        if not m:
            return
        n, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        if kind == "EXISTS":
            if n < len(self.entries):
                self.fail(f"EXISTS {n} below the view's {len(self.entries)} messages: {line}")
            self.entries += [[None, None, None] for _ in range(n - len(self.entries))]
        elif kind == "EXPUNGE":
            if self.mode == "qresync":
                self.fail(f"EXPUNGE with QRESYNC enabled (RFC 7162 3.2.10 wants VANISHED): {line}")
            if not 1 <= n <= len(self.entries):
                self.fail(f"EXPUNGE {n} outside 1..{len(self.entries)}")
            self.remove(n)
        elif kind == "FETCH":
            if not 1 <= n <= len(self.entries):
                self.fail(f"FETCH {n} outside 1..{len(self.entries)}: {line}")
            e = self.entries[n - 1]
            u = re.search(r"\bUID (\d+)", rest)
            if u:
                uid = int(u.group(1))
                if e[0] is not None and e[0] != uid:
                    self.fail(f"FETCH says message {n} is UID {uid}, the view says UID {e[0]}: {line}")
                if e[0] is None:
                    self.learn(n, uid)
            f = re.search(r"\bFLAGS \(([^)]*)\)", rest)
            if f:
                e[1] = set(f.group(1).split())
            ms = re.search(r"\bMODSEQ \((\d+)\)", rest)
            if ms and self.mode == "plain":
                self.fail(f"MODSEQ without CONDSTORE: {line}")
            if ms:
                self.ops["modseq"] += 1
                e[2] = int(ms.group(1))
                if e[0] is not None:
                    last = self.modseqs.get(e[0])
                    if last and (e[2] < last[0] or (e[2] == last[0] and f and e[1] != last[1])):
                        self.fail(f"UID {e[0]} went back from MODSEQ {last[0]} {sorted(last[1] or [])}: {line}")
                    self.modseqs[e[0]] = (e[2], e[1])
            elif self.mode != "plain" and f:
                self.fail(f"FETCH FLAGS without MODSEQ with CONDSTORE enabled: {line}")

    def remove(self, n):
        uid = self.entries.pop(n - 1)[0]
        if uid is not None:
            self.gone.add(uid)
            with self.shared.lock:
                self.shared.expunged.setdefault(uid, self.name)

    def vanish(self, uid):
        """A VANISHED UID: its entry, or else one of the not-yet-learned entries where it would
        sit (they lie between the same two known UIDs, so which one makes no difference)."""
        idx = [i for i, e in enumerate(self.entries) if e[0] == uid]
        if not idx:
            lo = max([i for i, e in enumerate(self.entries) if e[0] is not None and e[0] < uid], default=-1)
            hi = min([i for i, e in enumerate(self.entries) if e[0] is not None and e[0] > uid],
                     default=len(self.entries))
            idx = [i for i in range(lo + 1, hi) if self.entries[i][0] is None]
            if not idx:
                self.fail(f"VANISHED {uid}: not in the view")
        self.remove(idx[0] + 1)

    def learn(self, n, uid):
        before = [e[0] for e in self.entries[:n - 1] if e[0] is not None]
        after = [e[0] for e in self.entries[n:] if e[0] is not None]
        if (before and before[-1] >= uid) or (after and after[0] <= uid):
            self.fail(f"UID {uid} learned for message {n} breaks ascending order "
                      f"(neighbours {before[-1:]} {after[:1]})")
        if uid in self.gone:
            self.fail(f"UID {uid} appears again after this session was told it was expunged")
        with self.shared.lock:
            self.shared.max_learned = max(self.shared.max_learned, uid)
        self.entries[n - 1][0] = uid

    def cmd(self, text, literal=None, ok=True):
        """Sends a command; applies every untagged line; returns (untagged, tagged)."""
        tag = next(self.tags)
        data = (f"{tag} {text}\r\n".encode() if literal is None
                else f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        self.log.append(f"C: {tag} {text}")
        untagged, tagged = self.c.command(tag, data)
        for l in untagged:
            self.log.append(f"S: {l}")
            # RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH (UID forms may).
            if text.split()[0] in ("FETCH", "STORE", "SEARCH") and re.match(r"\* (\d+ EXPUNGE|VANISHED \d)", l):
                self.fail(f"{l!r} in the response to {text!r}")
            self.apply(l)
        self.log.append(f"S: {tagged}")
        if ok and not tagged.startswith(f"{tag} OK"):
            self.fail(f"{text!r} answered {tagged!r}")
        return untagged, tagged

    def fill(self):
        """Learns the UIDs (and flags) of messages announced by EXISTS."""
        for _ in range(3):
            unknown = [i + 1 for i, e in enumerate(self.entries) if e[0] is None]
            if not unknown:
                return
            # Not known yet because a FETCH skipped it: expunged meanwhile; a later NOOP says so.
            self.cmd(f"FETCH {unknown[0]}:{unknown[-1]} (UID FLAGS)")
            if any(e[0] is None for e in self.entries):
                return

    def check_sequence(self):
        """FETCH 1:* (UID): every number -> UID it reports is the model's (no EXPUNGE or EXISTS
        can come in between). Messages another session expunged meanwhile may be left out
        (RFC 3501 allows it; the next NOOP reports their EXPUNGE), so only contradictions count."""
        if not self.entries:
            return
        untagged, _ = self.cmd("FETCH 1:* (UID)")
        got = []
        for l in untagged:
            m = re.fullmatch(r"\* (\d+) FETCH \(UID (\d+)\)", l)
            if not m:
                self.fail(f"unexpected line {l!r}")
            got.append((int(m.group(1)), int(m.group(2))))
        want = [(i + 1, e[0]) for i, e in enumerate(self.entries)]
        if not set(got) <= set(want) or got != sorted(got):
            self.fail(f"FETCH 1:* (UID) contradicts the view:\n  server {got}\n  view   {want}")

    def view(self):
        """[(uid, flags)] or, with CONDSTORE, [(uid, flags, modseq)]."""
        if self.mode == "plain":
            return [(u, frozenset(f) if f is not None else None) for u, f, _ in self.entries]
        return [(u, frozenset(f) if f is not None else None, m) for u, f, m in self.entries]

    # -- the workload

    def random_flags(self):
        return self.rng.sample(FLAG_POOL, self.rng.randint(1, 3))

    def pick(self, k=1):
        known = [(i + 1, e[0]) for i, e in enumerate(self.entries) if e[0] is not None]
        return self.rng.sample(known, min(k, len(known)))

    def op_append(self):
        flags = self.rng.sample(FLAG_POOL, self.rng.randint(0, 2))
        with self.shared.lock:
            floor = self.shared.max_learned
        tag = f"{self.name}-{self.ops['append']}"
        if self.poster:
            data = message(tag)
            self.log.append(f"C(poster): APPEND INBOX ({' '.join(flags)})")
            untagged, tagged = self.poster.command(
                "p1", f"p1 APPEND INBOX ({' '.join(flags)}) {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
            self.log.append(f"S(poster): {tagged}")
            if untagged or not tagged.startswith("p1 OK"):
                self.fail(f"APPEND on the unselected connection: {untagged} {tagged}")
        else:
            _, tagged = self.cmd(f"APPEND INBOX ({' '.join(flags)})", literal=message(tag))
        m = re.search(r"\[APPENDUID \d+ (\d+)\]", tagged)
        if not m:
            self.fail(f"APPEND without APPENDUID: {tagged}")
        uid = int(m.group(1))
        with self.shared.lock:
            if uid in self.shared.created or uid <= floor:
                self.fail(f"APPENDUID {uid} is not new (UIDs learned before the APPEND went up to {floor})")
            self.shared.created.add(uid)
            self.shared.appended.append((self.name, uid))

    def op_store(self):
        targets = self.pick(self.rng.randint(1, 3))
        if not targets:
            return
        mode = self.rng.choice(["+FLAGS", "-FLAGS", "FLAGS", "+FLAGS.SILENT"])
        flags = " ".join(self.random_flags())
        if self.rng.random() < 0.5:
            self.cmd(f"UID STORE {','.join(str(u) for _, u in targets)} {mode} ({flags})")
        else:
            self.cmd(f"STORE {','.join(str(n) for n, _ in targets)} {mode} ({flags})")
        if mode == "+FLAGS.SILENT":
            # No FETCH comes back (RFC 3501 6.4.6), and a server need not echo the
            # session's own change later: the client adds the flags itself. A change
            # another session made meanwhile still comes (with the full flags) at NOOP.
            for e in self.entries:
                if e[0] in {u for _, u in targets} and e[1] is not None:
                    e[1] = e[1] | set(flags.split())

    def op_expunge(self):
        targets = self.pick(self.rng.randint(1, 3))
        if not targets:
            return
        uids = ",".join(str(u) for _, u in targets)
        self.cmd(f"UID STORE {uids} +FLAGS.SILENT (\\Deleted)")
        if self.rng.random() < 0.5:
            self.cmd(f"UID EXPUNGE {uids}")
        else:
            self.cmd("EXPUNGE")

    def op_move(self):
        """UID MOVE to Archive: leaves INBOX like an expunge (RFC 6851)."""
        targets = self.pick(self.rng.randint(1, 2))
        if targets:
            self.cmd(f"UID MOVE {','.join(str(u) for _, u in targets)} Archive")

    def op_copy(self):
        """UID COPY within INBOX: new messages (COPYUID), announced like any other."""
        targets = self.pick(self.rng.randint(1, 2))
        if not targets:
            return
        with self.shared.lock:
            floor = self.shared.max_learned
        _, tagged = self.cmd(f"UID COPY {','.join(str(u) for _, u in targets)} INBOX")
        m = re.search(r"\[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]", tagged)
        if not m:
            return  # all of them were expunged meanwhile: nothing copied
        with self.shared.lock:
            for uid in uid_set(m.group(2)):
                if uid in self.shared.created or uid <= floor:
                    self.fail(f"COPYUID {uid} is not new (UIDs learned before the COPY went up to {floor})")
                self.shared.created.add(uid)

    def op_changedsince(self):
        """QRESYNC: UID FETCH 1:* (FLAGS) (CHANGEDSINCE m VANISHED) with the last SELECT's
        HIGHESTMODSEQ: FETCHes must agree with the model; VANISHED (EARLIER) UIDs are noted
        (none may exist at the end)."""
        if self.mode != "qresync" or not self.entries:
            return
        self.in_changedsince = True
        try:
            self.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {self.highestmodseq} VANISHED)")
        finally:
            self.in_changedsince = False

    def op_reselect(self):
        """SELECT INBOX again: the view starts over from SELECT's EXISTS; a QRESYNC session
        resynchronises its cache instead."""
        if self.mode == "qresync" and QRESYNC_RESELECT:
            return self.qresync_select()
        self.entries = []
        self.cmd("SELECT INBOX")

    def qresync_select(self):
        """SELECT INBOX (QRESYNC (uidvalidity modseq known-uids)) with the cache (the known
        UIDs and their flags; modseq: HIGHESTMODSEQ of the last SELECT, everything since then
        is in the cache or comes again). RFC 7162 3.2.5: VANISHED (EARLIER) for what went away,
        FETCH (UID FLAGS MODSEQ) for everything changed or new, EXISTS; the FETCH numbers must
        be the positions in (cache - vanished + new) and its size the EXISTS."""
        cache = {e[0]: (e[1], e[2]) for e in self.entries if e[0] is not None}
        known = fmt_uids(sorted(cache)) if cache else "1:*"
        tag = next(self.tags)
        text = f"SELECT INBOX (QRESYNC ({self.uidvalidity} {self.highestmodseq} {known}))"
        self.log.append(f"C: {tag} {text}")
        untagged, tagged = self.c.command(tag, text)
        exists, fetched = None, []
        for l in untagged:
            self.log.append(f"S: {l}")
            if re.match(r"\* OK \[(UIDVALIDITY|HIGHESTMODSEQ) ", l):
                self.apply(l)
            elif m := re.fullmatch(r"\* VANISHED \(EARLIER\) ([\d:,]+)", l):
                self.ops["vanished-earlier"] += 1
                for uid in uid_set(m.group(1)):
                    if cache.pop(uid, None) is not None:
                        self.gone.add(uid)
                        with self.shared.lock:
                            self.shared.expunged.setdefault(uid, self.name)
            elif m := re.fullmatch(r"\* (\d+) EXISTS", l):
                exists = int(m.group(1))
            elif m := re.fullmatch(r"\* (\d+) FETCH \((.*)\)", l):
                u, f, ms = (re.search(r"\bUID (\d+)", m.group(2)), re.search(r"\bFLAGS \(([^)]*)\)", m.group(2)),
                            re.search(r"\bMODSEQ \((\d+)\)", m.group(2)))
                if not (u and f and ms):
                    self.fail(f"QRESYNC SELECT: FETCH without UID, FLAGS and MODSEQ: {l}")
                fetched.append((int(m.group(1)), int(u.group(1)), set(f.group(1).split()), int(ms.group(1))))
            elif re.match(r"\* (\d+ RECENT|FLAGS|OK )", l):
                pass
            else:
                self.fail(f"QRESYNC SELECT: unexpected {l!r}")
        self.log.append(f"S: {tagged}")
        if not tagged.startswith(f"{tag} OK"):
            self.fail(f"{text!r} answered {tagged!r}")
        for _, uid, flags, modseq in fetched:
            if uid in self.gone:
                self.fail(f"QRESYNC SELECT: UID {uid} comes back after it was reported expunged")
            cache[uid] = (flags, modseq)
        uids = sorted(cache)
        if exists != len(uids):
            noop, _ = self.c.command("qn", "NOOP")  # what the server thinks the view holds
            self.fail(f"QRESYNC SELECT: EXISTS {exists}, but cache - VANISHED + FETCHed = {len(uids)}: {uids}"
                      f"\n(a NOOP right after answers {noop})")
        for n, uid, _, _ in fetched:
            if uids.index(uid) + 1 != n:
                self.fail(f"QRESYNC SELECT: FETCH {n} for UID {uid}, which is message {uids.index(uid) + 1}")
        self.entries = [[u, cache[u][0], cache[u][1]] for u in uids]
        self.ops["qresync-select"] += 1

    def step(self):
        size = len(self.entries)
        weights = {"append": 3 if size < HIGH_WATER else 1, "copy": 0.7 if size < HIGH_WATER else 0, "store": 4,
                   "expunge": 2 if size > 8 else 0.3, "move": 0.5, "noop": 2, "check": 1,
                   "reselect": 0.6 if self.mode == "qresync" else 0.2,
                   "changedsince": 0.6 if self.mode == "qresync" else 0}
        if size > HIGH_WATER:
            weights["expunge"] = 5
        op = self.rng.choices(list(weights), list(weights.values()))[0]
        self.ops[op] += 1
        if op == "append":
            self.op_append()
        elif op == "store":
            self.op_store()
        elif op == "expunge":
            self.op_expunge()
        elif op == "move":
            self.op_move()
        elif op == "copy":
            self.op_copy()
        elif op == "reselect":
            self.op_reselect()
        elif op == "changedsince":
            self.op_changedsince()
        elif op == "noop":
            self.cmd("NOOP")
        else:
            self.check_sequence()
        self.fill()

    def run_worker(self, barrier):
        try:
            self.fill()
            while not self.shared.stop.is_set():
                self.step()
                time.sleep(self.rng.uniform(0, 0.02))
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.shared.errors.append(e if isinstance(e, Violation) else
                                      Violation(f"{self.name}: {e!r}\n" + "\n".join(list(self.log)[-40:])))
            self.shared.stop.set()
        finally:
            barrier.wait(timeout=60)

    def run_idler(self, barrier):
        """Sits in IDLE, applying what arrives; leaves it every ~1 s to learn UIDs."""
        try:
            self.fill()
            while not self.shared.stop.is_set():
                tag = next(self.tags)
                self.c.send(f"{tag} IDLE")
                self.log.append(f"C: {tag} IDLE")
                if self.c.line() != "+ idling":
                    self.fail("no + idling")
                until = time.monotonic() + self.rng.uniform(0.5, 1.5)
                while time.monotonic() < until and not self.shared.stop.is_set():
                    try:
                        l = self.c.line(timeout=0.1)
                    except TimeoutError:
                        continue
                    self.log.append(f"S: {l}")
                    self.apply(l)
                    self.ops["idle-update"] += 1
                self.c.send("DONE")
                while True:
                    l = self.c.line()
                    self.log.append(f"S: {l}")
                    if l.startswith(tag + " "):
                        if not l.startswith(f"{tag} OK"):
                            self.fail(f"IDLE ended with {l!r}")
                        break
                    self.apply(l)
                self.fill()
        except Exception as e:  # noqa: BLE001
            self.shared.errors.append(e if isinstance(e, Violation) else
                                      Violation(f"{self.name}: {e!r}\n" + "\n".join(list(self.log)[-40:])))
            self.shared.stop.set()
        finally:
            barrier.wait(timeout=60)


def snapshot(imapd, user):
    """A fresh session's view: [(uid, flags, modseq)] from SELECT INBOX (CONDSTORE) +
    UID FETCH 1:* (UID FLAGS MODSEQ)."""
    c = RawImap(imapd.port)
    try:
        _, ok = c.command("l", f'LOGIN {user} "{PASSWORD}"')
        assert ok.startswith("l OK"), ok
        untagged, ok = c.command("s", "SELECT INBOX (CONDSTORE)")
        assert ok.startswith("s OK"), ok
        exists = next(int(l.split()[1]) for l in untagged if l.endswith(" EXISTS"))
        untagged, ok = c.command("f", "UID FETCH 1:* (UID FLAGS MODSEQ)")
        assert ok.startswith("f OK"), ok
        out = []
        for l in untagged:
            m = re.fullmatch(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)", l)
            assert m, l
            out.append((int(m.group(1)), frozenset(m.group(2).split()), int(m.group(3))))
        assert len(out) == exists or exists == 0, (exists, untagged)
        c.command("o", "LOGOUT")
        return out
    finally:
        c.close()


def search_uids(imapd, user, criteria):
    c = RawImap(imapd.port)
    try:
        _, ok = c.command("l", f'LOGIN {user} "{PASSWORD}"')
        assert ok.startswith("l OK"), ok
        c.command("s", "EXAMINE INBOX")
        untagged, ok = c.command("f", f"UID SEARCH {criteria}")
        assert ok.startswith("f OK"), ok
        return [int(x) for l in untagged if l.startswith("* SEARCH") for x in l.split()[2:]]
    finally:
        c.close()


def diff(name, got, want):
    """A readable difference of two [(uid, flags[, modseq])] lists."""
    g, w = {t[0]: t[1:] for t in got}, {t[0]: t[1:] for t in want}
    lines = [f"{name} differs from the fresh SELECT ({len(got)} vs {len(want)} messages):"]
    missing, extra = sorted(set(w) - set(g)), sorted(set(g) - set(w))
    if missing:
        lines.append(f"  UIDs missing from {name}: {missing}")
    if extra:
        lines.append(f"  UIDs only in {name} (expunged on the server): {extra}")
    for uid in sorted(set(g) & set(w)):
        if g[uid] != w[uid]:
            lines.append(f"  UID {uid}: {name} has flags {sorted(g[uid][0] or [])} {g[uid][1:]}, "
                         f"server {sorted(w[uid][0])} {w[uid][1:]}")
    if [t[0] for t in got if t[0] in w] != [t[0] for t in want if t[0] in g]:
        lines.append(f"  order: {[t[0] for t in got]} vs {[t[0] for t in want]}")
    return "\n".join(lines)


# Regression (fixed in 4180364, found here): SELECT (QRESYNC ...) read the view (EXISTS)
# and the changes since the client's modseq at two moments; a message appended and
# expunged in between was counted in EXISTS without a FETCH or VANISHED (EARLIER), and
# the next NOOP sent `* VANISHED uid` for a UID the client had never been told. See
# test_qresync_select_racing_an_expunge. False: QRESYNC sessions reselect plainly.
QRESYNC_RESELECT = True

SYSTEM_FLAGS = {r"\Seen": 1, r"\Answered": 2, r"\Flagged": 4, r"\Deleted": 8, r"\Draft": 16}


class ImapTorture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("imaptorture")
        st = cls.stack
        cls.metad1 = st.start_metad(name="metad1")
        cls.metad2 = st.start_metad(name="metad2")
        cls.lmtpd = st.start_lmtpd(metad=cls.metad1)
        # imapd2 reads message metadata from metad 4 UIDs at a time: FETCH 1:* and the like
        # span several metad calls while other sessions change the mailbox.
        cls.imapds = [st.start_imapd(name="imapd1", metad=cls.metad1),
                      st.start_imapd(name="imapd2", metad=cls.metad2, imap__fetch_batch=4)]

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def setUp(self):
        self.sessions = []

    def tearDown(self):
        for s in self.sessions:
            for c in (s.c, s.poster):
                try:
                    c and c.close()
                except Exception:
                    pass

    def account(self, local):
        user = self.stack.add_user(local, password=PASSWORD)
        with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
            for n in range(INITIAL):
                self.assertFalse(lmtp.sendmail("t@example.org", [user], message(f"initial-{n}")))
        initial = [t[0] for t in snapshot(self.imapds[0], user)]
        self.assertEqual(initial, list(range(1, INITIAL + 1)))
        return user

    def torture(self, user, seconds, seed, append_selected):
        shared = Shared(range(1, INITIAL + 1))
        master = random.Random(seed)
        specs = []  # (name, imapd, rng, worker?, mode) - seeds drawn in a fixed order
        for i, imapd in enumerate(self.imapds):
            specs += [(f"w{i + 1}{k}", imapd, random.Random(master.random()), True, WORKER_MODES[k])
                      for k in range(len(WORKER_MODES))]
            specs.append((f"idle{i + 1}", imapd, random.Random(master.random()), False, IDLER_MODES[i]))
        with concurrent.futures.ThreadPoolExecutor(len(specs)) as pool:  # logins take a while each
            made = list(pool.map(lambda sp: Session(sp[0], sp[1], user, shared, sp[2], mode=sp[4],
                                                    append_selected=append_selected or not sp[3]), specs))
        workers = [s for s, sp in zip(made, specs) if sp[3]]
        idlers = [s for s, sp in zip(made, specs) if not sp[3]]
        sessions = self.sessions = workers + idlers
        barrier = threading.Barrier(len(sessions) + 1)
        threads = [threading.Thread(target=s.run_worker, args=(barrier,), daemon=True) for s in workers] + \
                  [threading.Thread(target=s.run_idler, args=(barrier,), daemon=True) for s in idlers]
        delivered = []

        def deliver():
            """New mail by LMTP all along (lmtpd on metad1), as an MTA would."""
            try:
                with smtplib.LMTP("127.0.0.1", self.lmtpd.port) as lmtp:
                    while not shared.stop.is_set():
                        refused = lmtp.sendmail("t@example.org", [user], message(f"lmtp-{len(delivered)}"))
                        if refused:
                            raise Violation(f"LMTP refused: {refused}")
                        delivered.append(1)
                        shared.stop.wait(0.05)
            except Exception as e:  # noqa: BLE001
                shared.errors.append(e if isinstance(e, Violation) else Violation(f"LMTP: {e!r}"))
                shared.stop.set()

        threads.append(threading.Thread(target=deliver, daemon=True))
        def covered():
            """Every kind of change the checks below count has happened often enough."""
            try:
                ops = sum((collections.Counter(s.ops) for s in sessions), collections.Counter())
            except RuntimeError:  # a worker's Counter grew while being copied
                return False
            return (ops["append"] > 10 and len(shared.expunged) > 10 and ops["vanished"] > 10
                    and ops["modseq"] > 10 and ops["changedsince"] > 5 and len(delivered) > 10
                    and ops["copy"] > 5)

        start = time.monotonic()
        for t in threads:
            t.start()
        # At least `seconds`; on a slow or busy machine on until the workload has covered
        # every kind of change the checks below count (at most 4 x `seconds`).
        shared.stop.wait(seconds)
        while not shared.stop.is_set() and not covered() and time.monotonic() < start + 4 * seconds:
            shared.stop.wait(0.25)
        shared.stop.set()
        barrier.wait(timeout=60)  # every session has stopped changing things
        for t in threads:
            t.join(timeout=30)
        ops = sum((s.ops for s in sessions), collections.Counter())
        print(f"\ntorture: {len(sessions)} sessions, {time.monotonic() - start:.1f} s, ops {dict(ops)}, "
              f"{len(shared.appended)} appended, {len(delivered)} delivered, {len(shared.expunged)} seen expunged")
        if shared.errors:
            self.fail("\n\n".join(str(e) for e in shared.errors))

        # The final NOOP, then every view must be the server's. A polling session sees
        # another process's change within a second (NOOP may answer from the Watch
        # stream for up to imap.poll_max_staleness, 1 s, after its last metad read):
        # past that, the final NOOP must ask metad.
        time.sleep(1.2)
        for s in sessions:
            s.cmd("NOOP")
            s.fill()
        fresh = snapshot(self.imapds[0], user)
        fresh2 = snapshot(self.imapds[1], user)
        self.assertEqual(fresh2, fresh, diff("a fresh SELECT on imapd2", fresh2, fresh))
        listing = [(m["uid"], int(m["flags"].split("=")[1]), m["modseq"]) for m in self.stack.messages(user)]
        self.assertEqual(listing, [(u, sum(SYSTEM_FLAGS.get(f, 0) for f in fl), ms) for u, fl, ms in fresh],
                         "metad's listing (UIDs, system flags, modseqs) vs a fresh SELECT")
        uids = [t[0] for t in fresh]
        self.assertEqual(uids, sorted(set(uids)), "UIDs strictly ascending")
        self.assertGreater(ops["append"], 10, "the workload ran")
        self.assertGreater(len(shared.expunged), 10, "the workload expunged")
        self.assertGreater(ops["vanished"], 10, "QRESYNC sessions were told VANISHED")
        self.assertGreater(ops["modseq"], 10, "CONDSTORE sessions were told MODSEQs")
        self.assertEqual(sorted(set(uids) & set(shared.expunged)), [], "UIDs seen expunged are still there")
        self.assertEqual(sorted(set(uids) & shared.vanished_earlier), [],
                         "UIDs reported by VANISHED (EARLIER) are still there")
        self.assertGreater(ops["changedsince"], 5, "QRESYNC sessions used UID FETCH (CHANGEDSINCE m VANISHED)")
        self.assertGreater(len(delivered), 10, "mail was delivered")
        shared.created |= set(search_uids(self.imapds[1], user, 'SUBJECT "torture lmtp-"'))
        self.assertEqual(sorted(set(uids) - shared.created), [], "UIDs nobody created")
        self.assertGreater(ops["copy"], 5, "the workload copied")
        self.assertEqual(sorted(shared.created - set(uids) - set(shared.expunged)), [],
                         "messages gone without any session being told EXPUNGE")
        plain = [(u, fl) for u, fl, _ in fresh]
        problems = [diff(s.name, s.view(), fresh if s.mode != "plain" else plain) for s in sessions
                    if s.view() != (fresh if s.mode != "plain" else plain)]
        self.assertFalse(problems, "\n\n".join(problems))
        for s in sessions:
            s.cmd("LOGOUT")

    def test_concurrent_sessions_agree_with_server(self):
        """Workers STORE / EXPUNGE / NOOP in INBOX and APPEND through a second, unselected
        connection; IDLE sessions watch."""
        self.torture(self.account("torture1"), RUN_SECONDS, SEED, append_selected=False)

    # Regression: an APPEND / COPY into the selected mailbox used to put its own new UID in
    # the session's view at once, and the sync then announced only UIDs above the view's
    # highest: a message another session had added just before (a lower UID) was never
    # announced to this session (fixed in 457c848, found by this test).
    def test_concurrent_sessions_appending_to_selected_mailbox(self):
        """As above, but workers APPEND with INBOX selected (as most clients save to Sent / Drafts)."""
        self.torture(self.account("torture2"), 5, SEED + 1, append_selected=True)

    def test_append_or_copy_to_selected_mailbox_reports_earlier_ones(self):
        """The same, deterministic: B (imapd2) adds a message, then A (imapd1, INBOX selected)
        adds one; A must end up with both, for APPEND and for COPY."""
        user = self.account("torture3")
        a, b = RawImap(self.imapds[0].port), RawImap(self.imapds[1].port)
        self.sessions = [type("S", (), {"c": a, "poster": b})()]
        for c in (a, b):
            _, ok = c.command("l", f'LOGIN {user} "{PASSWORD}"')
            self.assertTrue(ok.startswith("l OK"), ok)
            _, ok = c.command("s", "SELECT INBOX")
            self.assertTrue(ok.startswith("s OK"), ok)
        m = message("earlier")
        steps = [("APPEND", lambda c, t: c.command(t, b"%s APPEND INBOX {%d+}\r\n%s\r\n" % (t.encode(), len(m), m))),
                 ("COPY", lambda c, t: c.command(t, "COPY 1 INBOX"))]
        uid = INITIAL
        for what, do in steps:
            untagged_b, ok = do(b, "b1")
            self.assertRegex(ok, rf"^b1 OK \[(APPENDUID \d+|COPYUID \d+ 1) {uid + 1}\]")
            untagged_a, ok = do(a, "a1")
            self.assertRegex(ok, rf"^a1 OK \[(APPENDUID \d+|COPYUID \d+ 1) {uid + 2}\]")
            uid += 2
            untagged_n, ok = a.command("n", "NOOP")
            # Whatever the order of the announcements, A's view must have both.
            untagged, ok = a.command("f", "UID FETCH 1:* (UID)")
            self.assertEqual([int(re.search(r"UID (\d+)", l).group(1)) for l in untagged],
                             list(range(1, uid + 1)),
                             f"A's view after its {what} and a NOOP (it was told {untagged_a + untagged_n})")
            exists = [int(l.split()[1]) for l in untagged_a + untagged_n if l.endswith(" EXISTS")]
            self.assertEqual(exists[-1:], [uid], "the last EXISTS A was sent")
            b.command("n", "NOOP")

    def test_qresync_select_racing_an_expunge(self):  # regression: see QRESYNC_RESELECT above
        """A (imapd1, QRESYNC) reselects INBOX with (QRESYNC (uidvalidity modseq 1:12)) over and
        over while B (imapd2) appends a message and expunges it again: after every SELECT,
        EXISTS must be the 12 known messages plus those reported by FETCH (none vanish)."""
        user = self.account("torture4")
        a, b = RawImap(self.imapds[0].port), RawImap(self.imapds[1].port)
        self.sessions = [type("S", (), {"c": a, "poster": b})()]
        for c in (a, b):
            _, ok = c.command("l", f'LOGIN {user} "{PASSWORD}"')
            self.assertTrue(ok.startswith("l OK"), ok)
        a.command("e", "ENABLE QRESYNC")
        untagged, _ = a.command("s", "SELECT INBOX")
        uv = next(int(re.search(r"UIDVALIDITY (\d+)", l).group(1)) for l in untagged if "UIDVALIDITY" in l)
        hm = next(int(re.search(r"HIGHESTMODSEQ (\d+)", l).group(1)) for l in untagged if "HIGHESTMODSEQ" in l)
        stop, churned = threading.Event(), []

        b.command("s", "SELECT INBOX")

        def churn():
            m = message("churn")
            while not stop.is_set():
                _, ok = b.command("a", b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(m), m))
                uid = re.search(r"APPENDUID \d+ (\d+)", ok).group(1)
                b.command("x", f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
                b.command("x", f"UID EXPUNGE {uid}")
                churned.append(uid)

        t = threading.Thread(target=churn, daemon=True)
        t.start()
        bad = []
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and not bad:
                untagged, ok = a.command("q", f"SELECT INBOX (QRESYNC ({uv} {hm} 1:{INITIAL}))")
                self.assertTrue(ok.startswith("q OK"), ok)
                exists = next(int(l.split()[1]) for l in untagged if l.endswith(" EXISTS"))
                fetched = {int(re.search(r"UID (\d+)", l).group(1)) for l in untagged if " FETCH " in l}
                known = set(range(1, INITIAL + 1)) | fetched
                if exists != len(known):
                    noop, _ = a.command("n", "NOOP")
                    bad.append(f"EXISTS {exists}, known UIDs {sorted(known)}; SELECT said "
                               f"{[l for l in untagged if 'EXISTS' in l or 'FETCH' in l or 'VANISHED' in l]}, "
                               f"the NOOP after it {noop}")
        finally:
            stop.set()
            t.join(timeout=10)
        print(f"\n{len(churned)} appended+expunged by B; {bad[:1] or 'no inconsistent QRESYNC SELECT'}")
        self.assertEqual(bad, [], "a QRESYNC SELECT counted a message it never named")
        self.assertGreater(len(churned), 5, "B appended and expunged")


if __name__ == "__main__":
    unittest.main()
