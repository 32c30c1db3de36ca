"""stack.py - start real Columba services against the test infrastructure.

A Stack gives one test module its own world: a fresh PostgreSQL database (migrated
with columbactl), a fresh blob directory, random domains in the shared LDAP
directory, and Columba processes (metad, lmtpd, ...) on free loopback ports with
generated YAML configs. Everything it started is stopped in close(); the database
is dropped. The infrastructure itself (PostgreSQL, Redis, slapd) is started once
per ctest run by the `infra` fixture (tests/infra) and described by
$COLUMBA_TEST_STATE/env.

It never touches the developer's local stack (.state/) or its ports.
"""
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
import urllib.request


def _env_file():
    state = os.environ.get("COLUMBA_TEST_STATE")
    if not state:
        raise RuntimeError("COLUMBA_TEST_STATE is not set: run through ctest (tests/run), "
                           "or `tests/infra up DIR` and export COLUMBA_TEST_STATE=DIR")
    env = {}
    with open(os.path.join(state, "env")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = v.strip("'")
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rand(n=8):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class Service:
    """A running Columba daemon with its config, log and health port."""

    def __init__(self, name, binary, config_path, log_path, health_port):
        self.name, self.binary, self.config_path = name, binary, config_path
        self.log_path, self.health_port = log_path, health_port
        self.proc = None

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "--config", self.config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_ready()
        return self

    def http(self, path, timeout=2):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if self.http("/readyz")[0] == 200:
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


class Stack:
    def __init__(self, name, directory="ldap", plain_passwords=False):
        """directory: "ldap" (the shared slapd pair), "file" (storage/filedir, a file in
        the stack's directory) or "sql" (storage/sqldir: the stack's own database,
        through metad; the stack's domain is added when the first metad is up).
        plain_passwords: columbactl may store {PLAIN} passwords (auth.allow_plain_passwords;
        services must be told too, for CRAM-MD5)."""
        self.directory = directory
        self.env = _env_file()
        self.build = os.environ.get("COLUMBA_BUILD_DIR") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "build")
        self.dir = tempfile.mkdtemp(prefix=f"columba-{name}-")
        self.db = f"t_{name}_{rand(6)}"
        self.domain = f"{rand(6)}.test"
        # Redis is shared by every test stack: each keeps its keys under its own prefix.
        self.redis_prefix = f"columba:{self.db}:"
        self.services = []
        admin = self.env["COLUMBA_PG_ADMIN"]
        self._psql(admin, f'CREATE DATABASE "{self.db}" OWNER columba')
        base = self.env["COLUMBA_PG_URI"].rsplit("/", 1)[0]
        self.pg_uri = f"{base}/{self.db}"
        self.blob_root = os.path.join(self.dir, "blobs")
        self.directory_file = os.path.join(self.dir, "directory")
        os.makedirs(self.blob_root)
        self.metad_port = None
        self.plain_passwords = plain_passwords
        self.ctl_config = self.write_config("columbactl", self._ctl_sections("127.0.0.1:1"), storage=True)
        out = self.ctl("migrate")
        assert "schema at version" in out, out
        self._domain_added = False
        if directory != "sql":  # sql: columbactl needs a metad (start_metad adds it)
            self.ctl("domain", "add", self.domain)
            self._domain_added = True

    # -- helpers

    @staticmethod
    def _psql(uri, sql):
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", uri, "-c", sql], check=True,
                       stdout=subprocess.DEVNULL)

    def sql(self, statement):
        """Runs plain SQL on the stack's database as the `columba` role (as an operator
        managing the sql directory would)."""
        self._psql(self.pg_uri, statement)

    def bin(self, name):
        return os.path.join(self.build, "services", name.replace("columba-", ""), name) \
            if name != "columbactl" else os.path.join(self.build, "services", "columbactl", "columbactl")

    def storage_sections(self):
        if self.directory == "sql":
            # metad.address here too: smtpd has no metad section of its own.
            return {"blob": {"backend": "fs", "root": self.blob_root},
                    "directory": {"backend": "sql", "cache_ttl": "1s", "metad_deadline": "5s"},
                    "metad": {"address": f"127.0.0.1:{self.metad_port or 1}"}}
        if self.directory == "file":
            return {"blob": {"backend": "fs", "root": self.blob_root},
                    "directory": {"backend": "file", "file": self.directory_file}}
        uris = self.env["COLUMBA_LDAP_URIS"].split()
        return {
            "blob": {"backend": "fs", "root": self.blob_root},
            "directory": {"backend": "ldap", "cache_ttl": "1s"},
            "ldap": {"uris": uris, "write_uri": self.env["COLUMBA_LDAP_WRITE_URI"],
                     "base_dn": self.env["COLUMBA_LDAP_BASE_DN"], "bind_dn": self.env["COLUMBA_LDAP_BIND_DN"],
                     "bind_password_file": self.env["COLUMBA_LDAP_BIND_PASSWORD_FILE"]},
        }

    def write_config(self, name, sections, storage=False):
        if storage:
            merged = self.storage_sections()
            for k, v in sections.items():
                merged.setdefault(k, {}).update(v)
            sections = merged
        path = os.path.join(self.dir, f"{name}.yaml")
        with open(path, "w") as f:
            for sec, kv in sections.items():
                f.write(f"{sec}:\n")
                for k, v in kv.items():
                    if isinstance(v, list):
                        f.write(f"  {k}: [{', '.join(str(x) for x in v)}]\n")
                    else:
                        f.write(f"  {k}: {v}\n")
        return path

    def _ctl_sections(self, metad_address):
        sections = {"metad": {"address": metad_address, "postgres_uri": self.pg_uri}}
        if self.plain_passwords:
            sections["auth"] = {"allow_plain_passwords": "true"}
        return sections

    def ctl(self, *args, check=True, input=None, binary=False):
        cfg = self.ctl_config
        if self.metad_port:
            cfg = self.write_config("columbactl", self._ctl_sections(f"127.0.0.1:{self.metad_port}"), storage=True)
        r = subprocess.run([self.bin("columbactl"), "--config", cfg, *args], capture_output=True,
                           input=input, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"columbactl {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()}")
        if binary:
            return r.stdout
        return r.stdout.decode() if check else r

    def add_user(self, local, password="secret", **kw):
        addr = f"{local}@{self.domain}"
        args = ["user", "add", addr, "--password", password]
        if "quota_bytes" in kw:
            args += ["--quota-bytes", str(kw["quota_bytes"])]
        if "quota_messages" in kw:
            args += ["--quota-messages", str(kw["quota_messages"])]
        if "scheme" in kw:
            args += ["--scheme", kw["scheme"]]
        self.ctl(*args)
        return addr

    # -- services

    def _start(self, name, binary, cfg, http_port, extra, wait, storage=True):
        """Applies extra (section__key=value overrides) to cfg, writes the config, starts
        the service and returns it (stopped by close())."""
        for k, v in extra.items():
            sec, key = k.split("__")
            cfg.setdefault(sec, {})[key] = v
        path = self.write_config(name, cfg, storage=storage)
        svc = Service(name, self.bin(binary), path, os.path.join(self.dir, f"{name}.log"), http_port)
        svc.start(wait=wait)
        self.services.append(svc)
        return svc

    def start_metad(self, name="metad", wait=True, **extra):
        """extra: section__key=value config overrides."""
        grpc_port, http_port = free_port(), free_port()
        cfg = {"service": {"metrics_listen": f"127.0.0.1:{http_port}", "drain_timeout": "5s"},
               "metad": {"listen": f"127.0.0.1:{grpc_port}", "postgres_uri": self.pg_uri,
                         "db_connections": 8}}
        svc = self._start(name, "columba-metad", cfg, http_port, extra, wait, storage=False)
        svc.grpc_port = grpc_port
        if self.metad_port is None:
            self.metad_port = grpc_port
        if not self._domain_added and wait:
            self.ctl("domain", "add", self.domain)
            self._domain_added = True
        return svc

    def start_lmtpd(self, name="lmtpd", metad=None, wait=True, **extra):
        """extra: section__key=value config overrides, e.g. lmtp__max_message_size='10K'."""
        port, http_port = free_port(), free_port()
        metad_port = metad.grpc_port if metad else self.metad_port
        cfg = {"service": {"metrics_listen": f"127.0.0.1:{http_port}", "drain_timeout": "10s"},
               "lmtp": {"listen": f"127.0.0.1:{port}", "hostname": "lmtp.test",
                        "unix_socket": os.path.join(self.dir, f"{name}.sock")},
               "metad": {"address": f"127.0.0.1:{metad_port}", "deadline": "5s"}}
        svc = self._start(name, "columba-lmtpd", cfg, http_port, extra, wait)
        svc.port = port
        svc.unix_socket = cfg["lmtp"]["unix_socket"]
        return svc

    def start_smtpd(self, lmtpd, name="smtpd", wait=True, tls=None, **extra):
        """smtpd handing local mail to `lmtpd` (and queueing through the first metad):
        the MX port (svc.port) and the submission
        port (svc.submission_port, STARTTLS when tls is set) on free ports. tls:
        (cert_file, key_file) also enables the implicit-TLS port (svc.submissions_port).
        Redis is this stack's (POP-before-SMTP records, login penalties).
        extra: section__key=value config overrides."""
        port, sub_port, http_port = free_port(), free_port(), free_port()
        cfg = {"service": {"metrics_listen": f"127.0.0.1:{http_port}", "drain_timeout": "5s"},
               "smtp": {"listen": f"127.0.0.1:{port}", "hostname": "mx.test",
                        "submission_listen": f"127.0.0.1:{sub_port}", "submissions_listen": "''",
                        "lmtp_address": f"127.0.0.1:{lmtpd.port}",
                        # The queue runner retries quickly here (defaults: 5s, 60s).
                        "queue_interval": "300ms", "queue_retry_base": "1s"},
               "metad": {"address": f"127.0.0.1:{self.metad_port}", "deadline": "5s"},
               "redis": {"uri": self.env["COLUMBA_REDIS_URI"], "key_prefix": f"\"{self.redis_prefix}\""}}
        subs_port = None
        if tls:
            subs_port = free_port()
            cfg["smtp"]["submissions_listen"] = f"127.0.0.1:{subs_port}"
            cfg["tls"] = {"cert_file": tls[0], "key_file": tls[1]}
            if len(tls) > 2:
                cfg["tls"]["client_ca_file"] = tls[2]
        svc = self._start(name, "columba-smtpd", cfg, http_port, extra, wait)
        svc.port = port
        svc.submission_port = sub_port
        svc.submissions_port = subs_port
        return svc

    def start_imapd(self, name="imapd", metad=None, wait=True, tls=None, **extra):
        """columba-imapd on free ports. tls: (cert_file, key_file) enables the implicit-TLS
        port (svc.tls_port) and STARTTLS; extra: section__key=value config overrides."""
        port, http_port = free_port(), free_port()
        metad_port = metad.grpc_port if metad else self.metad_port
        cfg = {"service": {"metrics_listen": f"127.0.0.1:{http_port}", "drain_timeout": "5s"},
               "imap": {"listen": f"127.0.0.1:{port}", "hostname": "imap.test", "tls_listen": "''"},
               "metad": {"address": f"127.0.0.1:{metad_port}", "deadline": "5s"},
               "redis": {"uri": self.env["COLUMBA_REDIS_URI"], "key_prefix": f"\"{self.redis_prefix}\""}}
        tls_port = None
        if tls:
            tls_port = free_port()
            cfg["imap"]["tls_listen"] = f"127.0.0.1:{tls_port}"
            cfg["tls"] = {"cert_file": tls[0], "key_file": tls[1]}
        svc = self._start(name, "columba-imapd", cfg, http_port, extra, wait)
        svc.port = port
        svc.tls_port = tls_port
        return svc

    def start_pop3d(self, name="pop3d", metad=None, wait=True, tls=None, **extra):
        """columba-pop3d on free ports (svc.port: POP3 with STLS when tls is set). tls:
        (cert_file, key_file) also enables the implicit-TLS port (svc.tls_port). Redis is
        this stack's (maildrop locks, POP-before-SMTP records, login penalties).
        extra: section__key=value config overrides."""
        port, http_port = free_port(), free_port()
        metad_port = metad.grpc_port if metad else self.metad_port
        cfg = {"service": {"metrics_listen": f"127.0.0.1:{http_port}", "drain_timeout": "5s"},
               "pop3": {"listen": f"127.0.0.1:{port}", "hostname": "pop.test", "tls_listen": "''"},
               "metad": {"address": f"127.0.0.1:{metad_port}", "deadline": "5s"},
               "redis": {"uri": self.env["COLUMBA_REDIS_URI"], "key_prefix": f"\"{self.redis_prefix}\""}}
        tls_port = None
        if tls:
            tls_port = free_port()
            cfg["pop3"]["tls_listen"] = f"127.0.0.1:{tls_port}"
            cfg["tls"] = {"cert_file": tls[0], "key_file": tls[1]}
        svc = self._start(name, "columba-pop3d", cfg, http_port, extra, wait)
        svc.port = port
        svc.tls_port = tls_port
        return svc

    def queue(self):
        """[{id, sender, recipients, next, error}] from `columbactl queue list`."""
        out = self.ctl("queue", "list")
        rows = []
        for line in out.splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 3:
                rows.append({"id": parts[0], "sender": parts[1], "recipients": parts[2],
                             "next": parts[3] if len(parts) > 3 else "",
                             "error": parts[4] if len(parts) > 4 else ""})
        return rows

    def messages(self, address, mailbox="INBOX"):
        """[(uid, size, flags, blob, subject, modseq)] through metad (columbactl message list)."""
        r = self.ctl("message", "list", address, "--mailbox", mailbox, check=False)
        if r.returncode != 0:
            if b"no such account" in r.stderr:
                return []  # nothing was ever delivered: metad has no mailstore for it yet
            raise RuntimeError(f"columbactl message list failed: {r.stderr.decode()}")
        out = r.stdout.decode()
        rows = []
        for line in out.splitlines():
            parts = line.split("\t")
            rows.append({"uid": int(parts[0]), "size": int(parts[1]), "flags": parts[2], "blob": parts[3],
                         "modseq": int(parts[4].split("=")[1]), "subject": parts[5] if len(parts) > 5 else ""})
        return rows

    def redis(self, *args):
        """redis-cli against the test Redis; keys are relative to this stack's prefix
        when given as ('GET', 'pbs:127.0.0.2'), i.e. the prefix is added to the 2nd word."""
        args = list(args)
        if len(args) > 1:
            args[1] = self.redis_prefix + args[1]
        r = subprocess.run(["redis-cli", "-u", self.env["COLUMBA_REDIS_URI"], "--raw", *args],
                           capture_output=True, timeout=30, check=True)
        return r.stdout.decode().strip()

    def message_bytes(self, address, uid, mailbox="INBOX"):
        return self.ctl("message", "get", address, str(uid), "--mailbox", mailbox, binary=True)

    def close(self):
        for s in reversed(self.services):
            s.stop()
        try:
            self._psql(self.env["COLUMBA_PG_ADMIN"], f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        except Exception:
            pass
        if os.environ.get("COLUMBA_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


class LmtpClient:
    """A raw LMTP client that shows every reply line, for per-recipient checks."""

    def __init__(self, port=None, unix=None, timeout=30):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return int(l[:3]), lines

    def close(self):
        self.sock.close()


def dot_stuff(body: bytes) -> bytes:
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return out + b".\r\n"
