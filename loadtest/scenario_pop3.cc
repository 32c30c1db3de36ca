// scenario_pop3.cc - the POP3 scenario of columba-load: each ticket is one whole
// session, the way a mail client polls: connect, greeting, USER/PASS, STAT,
// UIDL, RETR of every message (one at a time), QUIT. Sessions/s is the result.
//
// Generic RFC 1939 (no extensions needed): the same dialogue against any
// server. It never sends DELE (the maildrop stays as filled, so every session
// does the same work), counts a session only when every step answered +OK and
// every multi-line response ended with ".", and connects only to the endpoint
// in Options. Concurrent sessions should use distinct users (--user-pattern
// with --user-count >= --sessions): a server that locks the maildrop (RFC 1939
// 8, Columba) refuses a second session of one user with -ERR [IN-USE].
#include <charconv>
#include <string>

#include "loadtest/connection.h"
#include "loadtest/scenario.h"

namespace columba::loadtest {

namespace {

using namespace std::chrono_literals;

constexpr int kMaxFailedConnects = 5;
constexpr size_t kMaxLine = 64 * 1024;

struct SessionOutcome {
  bool ok = false;
  bool connected = false;
  std::string error;    // error key when !ok
  uint64_t bytes = 0;   // message octets received (RETR bodies, stuffing included)
};

// Reads one status line: true for "+OK".
asio::awaitable<bool> Status(Connection& conn, std::string& error, const char* step) {
  auto line = co_await conn.ReadLine(kMaxLine);
  bool ok = false;
  if (line.failure != IoFailure::kNone) {
    error = std::string(step) + "-" + IoFailureKey(line.failure);
  } else if (!line.text.starts_with("+OK")) {
    error = std::string(step) + "-err";
  } else {
    ok = true;
  }
  co_return ok;
}

// Reads a multi-line body up to its "." line; the octets of its lines.
asio::awaitable<std::optional<uint64_t>> Body(Connection& conn, std::string& error, const char* step) {
  uint64_t bytes = 0;
  std::optional<uint64_t> out;
  for (;;) {
    auto line = co_await conn.ReadLine(kMaxLine);
    if (line.failure != IoFailure::kNone) {
      error = std::string(step) + "-" + IoFailureKey(line.failure);
      break;
    }
    if (line.text == ".") {
      out = bytes;
      break;
    }
    bytes += line.text.size() + 2;
  }
  co_return out;
}

asio::awaitable<SessionOutcome> OneSession(Connection& conn, const Options& o, const std::string& user) {
  SessionOutcome out;
  if (auto ec = co_await conn.Connect(o); ec) {
    out.error = "connect";
    co_return out;
  }
  out.connected = true;
  if (!co_await Status(conn, out.error, "greeting")) co_return out;
  std::string cmd = "USER " + user + "\r\n";
  if (co_await conn.Write(cmd) != IoFailure::kNone) {
    out.error = "user-io";
    co_return out;
  }
  if (!co_await Status(conn, out.error, "user")) co_return out;
  cmd = "PASS " + o.password + "\r\n";
  if (co_await conn.Write(cmd) != IoFailure::kNone) {
    out.error = "pass-io";
    co_return out;
  }
  if (!co_await Status(conn, out.error, "login")) co_return out;
  // STAT: "+OK n octets"
  cmd = "STAT\r\n";
  if (co_await conn.Write(cmd) != IoFailure::kNone) {
    out.error = "stat-io";
    co_return out;
  }
  auto stat = co_await conn.ReadLine(kMaxLine);
  uint64_t count = 0;
  if (stat.failure != IoFailure::kNone || !stat.text.starts_with("+OK ")) {
    out.error = "stat-err";
    co_return out;
  }
  std::string_view rest = std::string_view(stat.text).substr(4);
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), count);
  if (ec != std::errc()) {
    out.error = "stat-syntax";
    co_return out;
  }
  cmd = "UIDL\r\n";
  if (co_await conn.Write(cmd) != IoFailure::kNone) {
    out.error = "uidl-io";
    co_return out;
  }
  if (!co_await Status(conn, out.error, "uidl")) co_return out;
  auto uidl = co_await Body(conn, out.error, "uidl");
  if (!uidl) co_return out;
  for (uint64_t i = 1; i <= count; ++i) {
    cmd = "RETR " + std::to_string(i) + "\r\n";
    if (co_await conn.Write(cmd) != IoFailure::kNone) {
      out.error = "retr-io";
      co_return out;
    }
    if (!co_await Status(conn, out.error, "retr")) co_return out;
    auto body = co_await Body(conn, out.error, "retr");
    if (!body) co_return out;
    out.bytes += *body;
  }
  cmd = "QUIT\r\n";
  if (co_await conn.Write(cmd) != IoFailure::kNone) {
    out.error = "quit-io";
    co_return out;
  }
  if (!co_await Status(conn, out.error, "quit")) co_return out;
  out.ok = true;
  co_return out;
}

class Pop3Scenario : public Scenario {
 public:
  asio::awaitable<void> RunSession(Run& run, int session_id) override {
    const Options& o = run.options();
    auto ex = co_await asio::this_coro::executor;
    const std::string& user = o.users[static_cast<size_t>(session_id) % o.users.size()];
    int failed_connects = 0;
    while (!run.stopping()) {
      auto ticket = co_await run.NextMessage();
      if (!ticket) break;
      Connection conn(ex, o.timeout);
      auto t0 = Clock::now();
      SessionOutcome s = co_await OneSession(conn, o, user);
      auto latency = Clock::now() - t0;
      conn.Close();
      if (s.connected) run.Connected();
      if (s.ok) {
        failed_connects = 0;
        run.Delivered(*ticket, latency, s.bytes, 1);
        continue;
      }
      run.Failed(*ticket, {s.error});
      if (!s.connected && ++failed_connects >= kMaxFailedConnects) {
        run.SessionGaveUp();
        co_return;
      }
    }
  }
};

}  // namespace

std::unique_ptr<Scenario> MakePop3Scenario(const Options&) { return std::make_unique<Pop3Scenario>(); }

}  // namespace columba::loadtest
