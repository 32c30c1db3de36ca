# deploy/local/common.sh - shared by deploy/local/{up,down,ctl}: paths, ports, and
# the process helpers that start and stop Columba services by pid file.
#
# Fixed local ports (docs/operations.md): LMTP 2424, SMTP 2525, submission 2587,
# submissions 2465, IMAP 2143, IMAPS 2993, POP3 2110, POP3S 2995; metad gRPC 27100;
# metrics/health HTTP: metad 29100, lmtpd 29124, imapd 29143, smtpd 29125, pop3d 29110. Infrastructure: PostgreSQL 25432,
# Redis 26379, slapd provider 23389, consumer 23390.
# Never stops a process by name: only the pid recorded in $STATE/run/<svc>.pid,
# and only when /proc/<pid>/exe is that service's binary.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${COLUMBA_STATE:-$ROOT/.state}
BUILD=${COLUMBA_BUILD:-$ROOT/build}
BIN=$BUILD/services
ETC=$STATE/etc
RUN=$STATE/run
LOG=$STATE/log

# The fixed ports above are the contract; the suite's own smoke test of these
# scripts (tests/e2e/test_local_stack.py) moves them with these variables so it
# can run beside a developer's stack. Nobody else should need them.
LMTP_PORT=${COLUMBA_LOCAL_LMTP_PORT:-2424}
METAD_PORT=${COLUMBA_LOCAL_METAD_PORT:-27100}
METAD_HTTP=${COLUMBA_LOCAL_METAD_HTTP_PORT:-29100}
LMTPD_HTTP=${COLUMBA_LOCAL_LMTPD_HTTP_PORT:-29124}
IMAP_PORT=${COLUMBA_LOCAL_IMAP_PORT:-2143}
IMAPS_PORT=${COLUMBA_LOCAL_IMAPS_PORT:-2993}
IMAPD_HTTP=${COLUMBA_LOCAL_IMAPD_HTTP_PORT:-29143}
SMTP_PORT=${COLUMBA_LOCAL_SMTP_PORT:-2525}
SUBMISSION_PORT=${COLUMBA_LOCAL_SUBMISSION_PORT:-2587}
SUBMISSIONS_PORT=${COLUMBA_LOCAL_SUBMISSIONS_PORT:-2465}
SMTPD_HTTP=${COLUMBA_LOCAL_SMTPD_HTTP_PORT:-29125}
POP3_PORT=${COLUMBA_LOCAL_POP3_PORT:-2110}
POP3S_PORT=${COLUMBA_LOCAL_POP3S_PORT:-2995}
POP3D_HTTP=${COLUMBA_LOCAL_POP3D_HTTP_PORT:-29110}

# SERVICES: name, binary, metrics port (health endpoint). Order = start order.
SERVICES=(
  "metad:metad/columba-metad:$METAD_HTTP"
  "lmtpd:lmtpd/columba-lmtpd:$LMTPD_HTTP"
  "imapd:imapd/columba-imapd:$IMAPD_HTTP"
  "smtpd:smtpd/columba-smtpd:$SMTPD_HTTP"
  "pop3d:pop3d/columba-pop3d:$POP3D_HTTP"
)

svc_pid() { # NAME -> pid of a live process of that service, or nothing
  local name=$1 bin=$2 pidfile=$RUN/$1.pid pid exe
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  exe=${exe% (deleted)}
  [[ $exe == "$(readlink -f "$BIN/$bin")" ]] && echo "$pid"
  return 0
}

http_ok() { # PORT PATH
  curl -fsS -m 2 "http://127.0.0.1:$1$2" >/dev/null 2>&1
}
