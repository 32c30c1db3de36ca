// options.cc - parsing of columba-load's flags (see options.h).
//
// Pure: never touches the network or the file system. Every bad flag gives one
// message naming the flag; nothing is silently clamped.
#include "loadtest/options.h"

#include <asio/ip/address.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace columba::loadtest {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A non-negative decimal number with an optional fraction ("1.5").
std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return std::nullopt;
  }
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Parsed<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::string t = Lower(text);
  size_t unit_at = t.find_first_not_of("0123456789.");
  std::string_view num = std::string_view(t).substr(0, unit_at);
  std::string_view unit = unit_at == std::string::npos ? "s" : std::string_view(t).substr(unit_at);
  auto v = ParseNumber(num);
  if (!v) return tl::unexpected("bad duration '" + std::string(text) + "' (e.g. 20s, 500ms, 2m)");
  double ms = 0;
  if (unit == "ms") {
    ms = *v;
  } else if (unit == "s") {
    ms = *v * 1000;
  } else if (unit == "m" || unit == "min") {
    ms = *v * 60'000;
  } else if (unit == "h") {
    ms = *v * 3'600'000;
  } else {
    return tl::unexpected("bad duration unit in '" + std::string(text) + "' (ms, s, m, h)");
  }
  if (ms > 7 * 24 * 3'600'000.0) return tl::unexpected("duration '" + std::string(text) + "' is over a week");
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

Parsed<uint64_t> ParseSize(std::string_view text) {
  std::string t = Lower(text);
  size_t unit_at = t.find_first_not_of("0123456789.");
  std::string_view num = std::string_view(t).substr(0, unit_at);
  std::string_view unit = unit_at == std::string::npos ? "" : std::string_view(t).substr(unit_at);
  auto v = ParseNumber(num);
  if (!v) return tl::unexpected("bad size '" + std::string(text) + "' (e.g. 512, 10k, 1m)");
  double mult = 0;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    mult = 1024;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    mult = 1024.0 * 1024;
  } else {
    return tl::unexpected("bad size unit in '" + std::string(text) + "' (k, m)");
  }
  double octets = *v * mult;
  // 1 GiB: far beyond any server's message size limit; a typo, not a test.
  if (octets < 1 || octets > 1024.0 * 1024 * 1024) {
    return tl::unexpected("size '" + std::string(text) + "' must be between 1 octet and 1g");
  }
  return static_cast<uint64_t>(std::llround(octets));
}

Parsed<std::vector<SizeBucket>> ParseSizeDist(std::string_view text) {
  std::vector<SizeBucket> out;
  uint64_t total = 0;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      return tl::unexpected("bad --size-dist item '" + std::string(item) + "' (SIZE:WEIGHT)");
    }
    auto size = ParseSize(item.substr(0, colon));
    if (!size) return tl::unexpected(size.error());
    auto weight = ParseInt(item.substr(colon + 1));
    if (!weight || *weight < 0 || *weight > 1'000'000) {
      return tl::unexpected("bad weight in --size-dist item '" + std::string(item) + "'");
    }
    if (*weight == 0) continue;
    out.push_back({*size, static_cast<uint32_t>(*weight)});
    total += static_cast<uint64_t>(*weight);
  }
  if (out.empty() || total == 0) return tl::unexpected(std::string("--size-dist has no item with a weight above 0"));
  return out;
}

const std::vector<std::string_view> kImapMixOps = {"fetch-flags", "fetch-envelope", "fetch-body", "store",
                                                   "search",      "append",         "noop",       "idle",
                                                   "relogin",     "fetch-all"};

std::vector<MixItem> DefaultImapMix() {
  return {{"fetch-flags", 20}, {"fetch-envelope", 15}, {"fetch-body", 15}, {"store", 15}, {"search", 10},
          {"append", 5},       {"noop", 10},           {"idle", 5},        {"relogin", 5}};
}

Parsed<std::vector<MixItem>> ParseMix(std::string_view text) {
  std::vector<MixItem> out;
  uint64_t total = 0;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) return tl::unexpected("bad --mix item '" + std::string(item) + "' (OP:WEIGHT)");
    std::string op = Lower(item.substr(0, colon));
    bool known = false;
    for (auto k : kImapMixOps) known = known || k == op;
    if (!known) {
      std::string names;
      for (auto k : kImapMixOps) names += (names.empty() ? "" : ", ") + std::string(k);
      return tl::unexpected("unknown --mix operation '" + op + "' (" + names + ")");
    }
    for (const auto& m : out) {
      if (m.op == op) return tl::unexpected("--mix names '" + op + "' twice");
    }
    auto weight = ParseInt(item.substr(colon + 1));
    if (!weight || *weight < 0 || *weight > 1'000'000) {
      return tl::unexpected("bad weight in --mix item '" + std::string(item) + "'");
    }
    if (*weight == 0) continue;
    out.push_back({op, static_cast<uint32_t>(*weight)});
    total += static_cast<uint64_t>(*weight);
  }
  if (out.empty() || total == 0) return tl::unexpected(std::string("--mix has no operation with a weight above 0"));
  return out;
}

Parsed<std::vector<std::string>> ExpandRcptPattern(std::string_view pattern, int count) {
  size_t at = pattern.find("%d");
  if (at == std::string_view::npos || pattern.find("%d", at + 2) != std::string_view::npos ||
      pattern.find('%', at + 2) != std::string_view::npos || pattern.substr(0, at).find('%') != std::string_view::npos) {
    return tl::unexpected("--rcpt-pattern '" + std::string(pattern) + "' needs exactly one %d and no other %");
  }
  if (count < 1 || count > 1'000'000) return tl::unexpected(std::string("--rcpt-count must be 1..1000000"));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(count));
  for (int i = 1; i <= count; ++i) {
    out.push_back(std::string(pattern.substr(0, at)) + std::to_string(i) + std::string(pattern.substr(at + 2)));
  }
  return out;
}

Parsed<HostPort> ParseTarget(std::string_view text) {
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return tl::unexpected("bad --target '" + std::string(text) + "' (e.g. [::1]:2424)");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return tl::unexpected("bad --target '" + std::string(text) + "' (HOST:PORT, e.g. 127.0.0.1:2424)");
    }
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (out.host == "localhost") out.host = "127.0.0.1";
  std::error_code ec;
  (void)asio::ip::make_address(out.host, ec);
  if (ec) return tl::unexpected("--target host '" + out.host + "' must be a numeric address (no DNS lookups)");
  auto p = ParseInt(port);
  if (!p || *p < 1 || *p > 65535) return tl::unexpected("bad port in --target '" + std::string(text) + "'");
  out.port = static_cast<uint16_t>(*p);
  return out;
}

bool IsLoopback(std::string_view host) {
  std::error_code ec;
  auto a = asio::ip::make_address(std::string(host), ec);
  return !ec && a.is_loopback();
}

std::string UsageText() {
  return R"(usage: columba-load SCENARIO [flags]

Scenarios:
  lmtp         deliver messages over LMTP (LHLO, MAIL, RCPT..., DATA, per-recipient replies)
  smtp         send messages over SMTP (EHLO, MAIL, RCPT..., DATA, one reply), to local
               recipients; QUIT and reconnect every --messages-per-session messages
  imap         IMAP sessions: LOGIN, SELECT, then a weighted mix of commands (--mix)
  imap-idle    open --sessions IMAP connections (LOGIN, SELECT), hold them for --duration
  imap-notify  one session IDLEs; deliver by LMTP (--lmtp-target), time 250 -> "* n EXISTS"
  pop3         whole POP3 sessions: USER/PASS, STAT, UIDL, RETR of every message, QUIT
               (one "message" of the report = one session; use a user per session)

Target (loopback only unless --allow-remote; numeric addresses, never DNS):
  --target HOST:PORT       default 127.0.0.1 and the scenario's port (lmtp: 2424, smtp: 2525,
                           imap*: 2143, pop3: 2110)
  --unix PATH              connect to a unix socket instead
  --allow-remote           allow a non-loopback --target (a test host you own)

Load:
  --sessions N             concurrent connections (default 1)
  --duration D             measured period, e.g. 20s, 500ms, 2m (default 10s)
  --messages N             stop after N measured messages instead (over all sessions)
  --rate R                 messages/s over all sessions; 0 = as fast as possible (default)
  --warmup D               send for D before measuring (not counted; default 0)
  --timeout D              per read/write; a stuck session reconnects (default 30s)

Messages:
  --size S                 message size in octets: 512, 10k, 1m (default 10k); also --message-size
  --size-dist LIST         e.g. 2k:50,10k:40,100k:10 (size:weight; replaces --size)
  --rcpt ADDR              a recipient (repeatable)
  --rcpt-pattern P         e.g. 'load%d@example.test' with --rcpt-count N -> load1..loadN
  --rcpt-count N           (default 1)
  --rcpts-per-msg N        recipients per message, taken round-robin (default 1)
  --from ADDR              envelope and header sender (default loadgen@example.test)
  --helo NAME              LHLO/EHLO name (default columba-load.example.test)
  --pipelining             send MAIL/RCPT/DATA in one write when the server offers PIPELINING
                           (lmtp: off by default; smtp: on by default)
  --no-pipelining          one command per write, waiting for each reply
  --messages-per-session N lmtp/smtp: QUIT and reconnect after N messages; 0 = keep the
                           connection (default: smtp 10, lmtp 0)
  --seed N                 seed for message content and size choice (default 1)

IMAP and POP3 (imap, imap-idle, imap-notify, pop3):
  --user ADDR              a login name (repeatable); session i logs in as user i mod count
  --user-pattern P         e.g. 'imap%d@example.test' with --user-count N -> imap1..imapN
  --user-count N           (default 1); smtp: the recipients when no --rcpt* is given
  --password P             the password of every user (default x)
  --mailbox NAME           the mailbox to SELECT (default INBOX)
  --mix LIST               imap: OP:WEIGHT,... of fetch-flags fetch-envelope fetch-body store
                           search append noop idle relogin (default fetch-flags:20,
                           fetch-envelope:15,fetch-body:15,store:15,search:10,append:5,noop:10,
                           idle:5,relogin:5); append uses --size; fetch-all (not in the
                           default) is UID FETCH 1:* (FLAGS), for timing big mailboxes
  --idle                   imap-idle: hold the connections in IDLE (default: selected, silent)
  --connect-concurrency N  imap-idle: connections set up at once (default 32)
  --lmtp-target HOST:PORT  imap-notify: the LMTP server that delivers to the IMAP user
  --interval D             imap-notify: pause between deliveries (default 100ms)

Output:
  --json                   print one JSON object instead of the text report
  --dry-run                check the flags and print the plan; connect to nothing
  --help                   this text
)";
}

Parsed<Options> ParseOptions(int argc, const char* const* argv) {
  Options o;
  if (argc < 2) return tl::unexpected(std::string("missing scenario (try --help)"));
  o.scenario = argv[1];
  if (o.scenario.starts_with("-")) return tl::unexpected("expected a scenario before '" + o.scenario + "'");

  std::string rcpt_pattern;
  int rcpt_count = 1;
  std::string user_pattern;
  int user_count = 1;
  bool have_target = false;
  bool have_size = false;
  bool have_dist = false;
  std::optional<bool> pipelining;
  bool have_messages_per_session = false;

  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) return tl::unexpected("unexpected argument '" + std::string(arg) + "'");
    std::string name;
    std::optional<std::string> inline_value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(2, eq - 2));
      inline_value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg.substr(2));
    }
    // Boolean flags.
    if (name == "json" || name == "allow-remote" || name == "pipelining" || name == "no-pipelining" ||
        name == "dry-run" || name == "idle") {
      if (inline_value) return tl::unexpected("--" + name + " takes no value");
      if (name == "json") o.json = true;
      if (name == "dry-run") o.dry_run = true;
      if (name == "allow-remote") o.allow_remote = true;
      if (name == "pipelining" || name == "no-pipelining") {
        bool on = name == "pipelining";
        if (pipelining && *pipelining != on) return tl::unexpected(std::string("use --pipelining or --no-pipelining, not both"));
        pipelining = on;
      }
      if (name == "idle") o.idle_hold = true;
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argc) return tl::unexpected("--" + name + " needs a value");
      value = argv[++i];
    }
    auto int_in = [&](int64_t lo, int64_t hi) -> Parsed<int64_t> {
      auto v = ParseInt(value);
      if (!v || *v < lo || *v > hi) {
        return tl::unexpected("--" + name + " must be a whole number in " + std::to_string(lo) + ".." + std::to_string(hi));
      }
      return *v;
    };

    if (name == "target") {
      auto t = ParseTarget(value);
      if (!t) return tl::unexpected(t.error());
      o.host = t->host;
      o.port = t->port;
      have_target = true;
    } else if (name == "unix") {
      if (value.empty()) return tl::unexpected(std::string("--unix needs a path"));
      o.unix_path = value;
    } else if (name == "sessions") {
      auto v = int_in(1, 10'000);
      if (!v) return tl::unexpected(v.error());
      o.sessions = static_cast<int>(*v);
    } else if (name == "duration" || name == "warmup" || name == "timeout") {
      auto d = ParseDuration(value);
      if (!d) return tl::unexpected("--" + name + ": " + d.error());
      if (name == "duration") o.duration = *d;
      if (name == "warmup") o.warmup = *d;
      if (name == "timeout") {
        if (d->count() < 1) return tl::unexpected(std::string("--timeout must be above 0"));
        o.timeout = *d;
      }
    } else if (name == "messages") {
      auto v = int_in(1, int64_t{1} << 40);
      if (!v) return tl::unexpected(v.error());
      o.messages = static_cast<uint64_t>(*v);
    } else if (name == "rate") {
      auto v = ParseNumber(value);
      if (!v || *v > 1e7) return tl::unexpected(std::string("--rate must be a number of messages/s (0 = unlimited)"));
      o.rate = *v;
    } else if (name == "size" || name == "message-size") {
      auto s = ParseSize(value);
      if (!s) return tl::unexpected("--" + name + ": " + s.error());
      o.sizes = {{*s, 1}};
      have_size = true;
    } else if (name == "size-dist") {
      auto d = ParseSizeDist(value);
      if (!d) return tl::unexpected("--size-dist: " + d.error());
      o.sizes = *d;
      have_dist = true;
    } else if (name == "messages-per-session") {
      auto v = int_in(0, 1'000'000);
      if (!v) return tl::unexpected(v.error());
      o.messages_per_session = static_cast<int>(*v);
      have_messages_per_session = true;
    } else if (name == "rcpt") {
      if (value.empty() || value.find_first_of("<> \r\n") != std::string::npos || value.find('@') == std::string::npos) {
        return tl::unexpected("--rcpt '" + value + "' is not a plain address (local@domain)");
      }
      o.rcpts.push_back(value);
    } else if (name == "rcpt-pattern") {
      rcpt_pattern = value;
    } else if (name == "rcpt-count") {
      auto v = int_in(1, 1'000'000);
      if (!v) return tl::unexpected(v.error());
      rcpt_count = static_cast<int>(*v);
    } else if (name == "rcpts-per-msg") {
      auto v = int_in(1, 1000);
      if (!v) return tl::unexpected(v.error());
      o.rcpts_per_msg = static_cast<int>(*v);
    } else if (name == "from") {
      if (value.find_first_of("<> \r\n") != std::string::npos) return tl::unexpected("--from '" + value + "' is not a plain address");
      o.from = value;
    } else if (name == "helo") {
      if (value.empty() || value.find_first_of(" \r\n") != std::string::npos) return tl::unexpected(std::string("--helo needs one word"));
      o.helo = value;
    } else if (name == "user") {
      if (value.empty() || value.find_first_of("\r\n\"\\") != std::string::npos) {
        return tl::unexpected("--user '" + value + "' must be non-empty without quotes, backslashes or line ends");
      }
      o.users.push_back(value);
    } else if (name == "user-pattern") {
      user_pattern = value;
    } else if (name == "user-count") {
      auto v = int_in(1, 1'000'000);
      if (!v) return tl::unexpected(v.error());
      user_count = static_cast<int>(*v);
    } else if (name == "password") {
      if (value.find_first_of("\r\n\"\\") != std::string::npos) {
        return tl::unexpected(std::string("--password must not hold quotes, backslashes or line ends"));
      }
      o.password = value;
    } else if (name == "mailbox") {
      if (value.empty() || value.find_first_of("\r\n\"\\") != std::string::npos) {
        return tl::unexpected(std::string("--mailbox must be non-empty without quotes, backslashes or line ends"));
      }
      o.mailbox = value;
    } else if (name == "mix") {
      auto m = ParseMix(value);
      if (!m) return tl::unexpected(m.error());
      o.mix = *m;
    } else if (name == "connect-concurrency") {
      auto v = int_in(1, 10'000);
      if (!v) return tl::unexpected(v.error());
      o.connect_concurrency = static_cast<int>(*v);
    } else if (name == "lmtp-target") {
      auto t = ParseTarget(value);
      if (!t) return tl::unexpected("--lmtp-target: " + t.error());
      o.lmtp_host = t->host;
      o.lmtp_port = t->port;
    } else if (name == "interval") {
      auto d = ParseDuration(value);
      if (!d) return tl::unexpected("--interval: " + d.error());
      o.interval = *d;
    } else if (name == "seed") {
      auto v = int_in(0, INT64_MAX);
      if (!v) return tl::unexpected(v.error());
      o.seed = static_cast<uint64_t>(*v);
    } else {
      return tl::unexpected("unknown flag --" + name + " (try --help)");
    }
  }

  if (have_size && have_dist) return tl::unexpected(std::string("use --size or --size-dist, not both"));
  if (have_target && !o.unix_path.empty()) return tl::unexpected(std::string("use --target or --unix, not both"));
  if (!rcpt_pattern.empty()) {
    if (!o.rcpts.empty()) return tl::unexpected(std::string("use --rcpt or --rcpt-pattern, not both"));
    auto r = ExpandRcptPattern(rcpt_pattern, rcpt_count);
    if (!r) return tl::unexpected(r.error());
    o.rcpts = std::move(*r);
  }
  bool imap = o.scenario.starts_with("imap") || o.scenario == "pop3";  // both log in as --user
  if (!user_pattern.empty()) {
    if (!o.users.empty()) return tl::unexpected(std::string("use --user or --user-pattern, not both"));
    auto u = ExpandRcptPattern(user_pattern, user_count);
    if (!u) return tl::unexpected("--user-pattern: " + u.error());
    o.users = std::move(*u);
  }
  if (imap) {
    if (o.users.empty()) return tl::unexpected(std::string("no users: give --user ADDR or --user-pattern P --user-count N"));
    if (o.mix.empty()) o.mix = DefaultImapMix();
    if (o.scenario == "imap-notify") {
      if (o.lmtp_host.empty()) return tl::unexpected(std::string("imap-notify needs --lmtp-target HOST:PORT"));
      if (!o.allow_remote && !IsLoopback(o.lmtp_host)) {
        return tl::unexpected("--lmtp-target " + o.lmtp_host + " is not a loopback address; pass --allow-remote");
      }
      if (o.rcpts.empty()) o.rcpts = o.users;  // deliver to the user who IDLEs
    }
  }
  bool smtp = o.scenario == "smtp";
  if (smtp) {
    // --user/--user-pattern name the local recipients, or --rcpt/--rcpt-pattern do; not both.
    if (!o.rcpts.empty() && !o.users.empty()) return tl::unexpected(std::string("smtp: give --user* or --rcpt*, not both"));
    if (o.rcpts.empty()) o.rcpts = o.users;
    if (!have_messages_per_session) o.messages_per_session = 10;
  }
  o.pipelining = pipelining.value_or(smtp);
  if (o.rcpts.empty() && !imap) {
    return tl::unexpected(std::string(smtp ? "no recipients: give --user-pattern P --user-count N, --rcpt ADDR or --rcpt-pattern P --rcpt-count N"
                                           : "no recipients: give --rcpt ADDR or --rcpt-pattern P --rcpt-count N"));
  }
  if (!o.rcpts.empty() && static_cast<size_t>(o.rcpts_per_msg) > o.rcpts.size()) {
    return tl::unexpected(std::string("--rcpts-per-msg is larger than the number of recipients"));
  }
  if (o.unix_path.empty() && !o.allow_remote && !IsLoopback(o.host)) {
    return tl::unexpected("--target " + o.host + " is not a loopback address; pass --allow-remote for a test host you own");
  }
  if (o.duration.count() == 0 && o.messages == 0) o.duration = std::chrono::seconds(10);
  return o;
}

}  // namespace columba::loadtest
