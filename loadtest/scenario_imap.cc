// scenario_imap.cc - the IMAP scenarios of columba-load:
//   imap         LOGIN, SELECT, then a weighted mix of commands (--mix), per-command stats;
//   imap-idle    --sessions connections logged in and selected, held for --duration
//                (optionally in IDLE) so a script can measure the server's memory;
//   imap-notify  a session IDLEs, the tool delivers by LMTP and times the LMTP 250
//                to the untagged "* n EXISTS".
//
// Generic IMAP4rev1 (imap_client.h): the same commands against any server. Each
// scenario counts only operations issued after the warmup (Run tickets), never
// counts a NO/BAD/I/O failure as a success, and connects only to the endpoints in
// Options (the IMAP target, and for imap-notify the LMTP target).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>

#include "lib/smtp/data_reader.h"
#include "loadtest/connection.h"
#include "loadtest/imap_client.h"
#include "loadtest/message.h"
#include "loadtest/op_stats.h"
#include "loadtest/scenario.h"
#include "loadtest/smtp_client.h"

namespace columba::loadtest {

namespace {

using namespace std::chrono_literals;
using net::kNoThrow;

constexpr int kMaxFailedConnects = 5;

std::chrono::microseconds Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d);
}

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(kNoThrow);
}

// What SELECT told us, plus the lowest UID (FETCH 1 (UID)).
struct MailboxView {
  uint64_t exists = 0;
  uint64_t uid_lo = 1;
  uint64_t uid_next = 1;  // one past the highest UID we know of
};

struct OpenOutcome {
  bool ok = false;
  std::string error;  // error key when !ok
  MailboxView view;
};

// Connect, greeting, LOGIN, SELECT. LOGIN and SELECT are recorded in `table`
// when `measured`.
asio::awaitable<OpenOutcome> OpenMailbox(Connection& conn, ImapClient& client, const Options& o,
                                         const std::string& user, OpTable& table, bool measured) {
  OpenOutcome out;
  if (auto ec = co_await conn.Connect(o); ec) {
    out.error = "connect";
    co_return out;
  }
  auto greet = co_await client.Greeting();
  if (!greet.ok()) {
    out.error = "greeting-" + greet.ErrorKey();
    co_return out;
  }
  auto t0 = Clock::now();
  auto login = co_await client.Login(user, o.password);
  auto t1 = Clock::now();
  if (!login.ok()) {
    if (measured) table.Failed("login", login.ErrorKey());
    out.error = "login-" + login.ErrorKey();
    co_return out;
  }
  if (measured) table.Ok("login", Micros(t1 - t0));
  std::string select = "SELECT " + Quote(o.mailbox);
  auto sel = co_await client.Command(select);
  auto t2 = Clock::now();
  if (!sel.ok()) {
    if (measured) table.Failed("select", sel.ErrorKey());
    out.error = "select-" + sel.ErrorKey();
    co_return out;
  }
  if (measured) table.Ok("select", Micros(t2 - t1));
  for (const auto& u : sel.untagged) {
    if (auto n = UntaggedNumber(u.text, "EXISTS")) out.view.exists = *n;
    if (auto n = ResponseCodeNumber(u.text, "UIDNEXT")) out.view.uid_next = *n;
  }
  if (out.view.exists > 0) {
    auto first = co_await client.Command("FETCH 1 (UID)");
    for (const auto& u : first.untagged) {
      if (auto uid = FetchUid(u.text)) out.view.uid_lo = *uid;
    }
  }
  if (out.view.uid_next < out.view.uid_lo + 1) out.view.uid_next = out.view.uid_lo + 1;
  out.ok = true;
  co_return out;
}

// ---------------------------------------------------------------- imap (the mix)

class ImapMixScenario : public Scenario {
 public:
  explicit ImapMixScenario(const Options& o) {
    std::vector<double> w;
    for (const auto& m : o.mix) {
      ops_.push_back(m.op);
      w.push_back(m.weight);
    }
    pick_ = std::discrete_distribution<size_t>(w.begin(), w.end());
  }

  std::string ExtraText(double elapsed_s) const override { return table_.FormatText(elapsed_s); }
  std::string ExtraJsonMembers(double elapsed_s) const override { return table_.FormatJsonMembers(elapsed_s); }

  asio::awaitable<void> RunSession(Run& run, int session_id) override {
    const Options& o = run.options();
    auto ex = co_await asio::this_coro::executor;
    Connection conn(ex, o.timeout);
    ImapClient client(conn);
    std::mt19937_64 rng(o.seed * 1'000'003 + static_cast<uint64_t>(session_id));
    auto pick = pick_;
    SizeChooser sizes(o.sizes);
    const std::string& user = o.users[static_cast<size_t>(session_id) % o.users.size()];
    MailboxView view;
    int failed_connects = 0;
    auto backoff = 100ms;

    while (!run.stopping()) {
      if (!conn.open()) {
        auto ticket = co_await run.NextMessage();
        if (!ticket) break;
        auto opened = co_await OpenMailbox(conn, client, o, user, table_, ticket->measured);
        if (!opened.ok) {
          run.SessionError(opened.error);
          run.Failed(*ticket, {});
          conn.Close();
          if (++failed_connects >= kMaxFailedConnects) {
            run.SessionGaveUp();
            co_return;
          }
          co_await Sleep(backoff);
          backoff *= 2;
          continue;
        }
        run.Connected();
        run.Delivered(*ticket, 0s, 0, 0);
        failed_connects = 0;
        backoff = 100ms;
        view = opened.view;
      }

      auto ticket = co_await run.NextMessage();
      if (!ticket) break;
      const std::string& op = ops_[pick(rng)];
      bool ok = false;
      std::string error;
      bool reconnect = false;
      // Records one command's result; returns whether it succeeded.
      auto record = [&](std::string_view name, const ImapResult& r, Clock::time_point t0) {
        if (r.ok()) {
          if (ticket->measured) table_.Ok(name, Micros(Clock::now() - t0));
          ok = true;
        } else {
          if (ticket->measured) table_.Failed(name, r.ErrorKey());
          error = r.ErrorKey();
          if (r.failure != IoFailure::kNone || r.status == "BYE") reconnect = true;
        }
      };
      uint64_t span = view.uid_next > view.uid_lo ? view.uid_next - view.uid_lo : 1;
      uint64_t uid = view.uid_lo + rng() % span;
      auto t0 = Clock::now();

      if (op == "fetch-flags") {
        uint64_t n = 1 + rng() % 20;
        uint64_t lo = view.uid_lo + (span > n ? rng() % (span - n + 1) : 0);
        std::string cmd = fmt::format("UID FETCH {}:{} (FLAGS)", lo, lo + n - 1);
        auto r = co_await client.Command(cmd);
        record(op, r, t0);
      } else if (op == "fetch-all") {
        auto r = co_await client.Command("UID FETCH 1:* (FLAGS)");
        record(op, r, t0);
      } else if (op == "fetch-envelope") {
        std::string cmd = fmt::format("UID FETCH {} (ENVELOPE)", uid);
        auto r = co_await client.Command(cmd);
        record(op, r, t0);
      } else if (op == "fetch-body") {
        std::string cmd = fmt::format("UID FETCH {} (BODY.PEEK[])", uid);
        auto r = co_await client.Command(cmd);
        record(op, r, t0);
      } else if (op == "store") {
        bool add = rng() % 2 == 0;
        std::string cmd = fmt::format("UID STORE {} {}FLAGS (\\Flagged)", uid, add ? '+' : '-');
        auto r = co_await client.Command(cmd);
        record(op, r, t0);
      } else if (op == "search") {
        if (rng() % 2 == 0) {
          auto r = co_await client.Command("UID SEARCH UNSEEN");
          record("search-unseen", r, t0);
        } else {
          // Subjects are "columba-load message N (session S)": a substring search.
          std::string cmd = fmt::format("UID SEARCH SUBJECT \"message {}\"", 1 + rng() % 1000);
          auto r = co_await client.Command(cmd);
          record("search-subject", r, t0);
        }
      } else if (op == "append") {
        MessageSpec spec;
        spec.seq = ticket->seq;
        spec.session = session_id;
        spec.run_id = run.run_id();
        spec.from = o.from;
        spec.to = {user};
        spec.date = Rfc5322Now();
        spec.size = sizes.Pick(rng);
        std::string message = BuildMessage(spec, rng);
        t0 = Clock::now();  // message generation is not part of the latency
        auto r = co_await client.Append(o.mailbox, "(\\Seen)", message);
        record(op, r, t0);
        if (r.ok()) {
          auto appended = ResponseCodeNumber(r.text, "APPENDUID");
          view.uid_next = appended ? std::max(view.uid_next, *appended + 1) : view.uid_next + 1;
        }
      } else if (op == "noop") {
        auto r = co_await client.Command("NOOP");
        record(op, r, t0);
      } else if (op == "idle") {
        auto r = co_await client.Idle();
        if (r.ok()) r = co_await client.Done();
        record(op, r, t0);
      } else if (op == "relogin") {
        auto r = co_await client.Logout();
        record("logout", r, t0);
        if (ok) {
          auto opened = co_await OpenMailbox(conn, client, o, user, table_, ticket->measured);
          run.Connected();
          if (opened.ok) {
            view = opened.view;
          } else {
            ok = false;
            error = opened.error;
            reconnect = true;
          }
        } else {
          reconnect = true;
        }
      }

      if (ok) {
        run.Delivered(*ticket, Clock::now() - t0, 0, 1);
      } else {
        run.Failed(*ticket, {error});
      }
      if (reconnect) conn.Close();
    }
    if (conn.open()) (void)co_await client.Logout();
  }

 private:
  std::vector<std::string> ops_;
  std::discrete_distribution<size_t> pick_;
  OpTable table_;
};

// ---------------------------------------------------------------- imap-idle

class ImapIdleScenario : public Scenario {
 public:
  explicit ImapIdleScenario(const Options& o) : hold_(o.duration), total_(o.sessions) {}

  std::string ExtraText(double) const override {
    return fmt::format("  established  {} of {} connections in {:.2f} s, held {:.1f} s{}\n{}", established_, total_,
                       establish_s_, hold_.count() / 1000.0, idle_ ? " in IDLE" : "",
                       table_.FormatText(establish_s_));
  }
  std::string ExtraJsonMembers(double) const override {
    return fmt::format("\"established\":{},\"establish_s\":{:.3f},\"hold_s\":{:.3f},\"in_idle\":{},{}", established_,
                       establish_s_, hold_.count() / 1000.0, idle_ ? "true" : "false",
                       table_.FormatJsonMembers(establish_s_));
  }

  asio::awaitable<void> RunSession(Run& run, int session_id) override {
    const Options& o = run.options();
    idle_ = o.idle_hold;
    if (session_id == 0) start_ = Clock::now();
    auto ex = co_await asio::this_coro::executor;
    Connection conn(ex, o.timeout);
    ImapClient client(conn);
    const std::string& user = o.users[static_cast<size_t>(session_id) % o.users.size()];

    while (in_progress_ >= o.connect_concurrency && !run.stopping()) co_await Sleep(2ms);
    ++in_progress_;
    auto ticket = co_await run.NextMessage();
    bool ok = false;
    if (ticket) {
      auto t0 = Clock::now();
      auto opened = co_await OpenMailbox(conn, client, o, user, table_, true);
      ok = opened.ok;
      if (ok && o.idle_hold) {
        auto r = co_await client.Idle();
        ok = r.ok();
        if (ok) {
          table_.Ok("idle-start", Micros(Clock::now() - t0));
        } else {
          table_.Failed("idle-start", r.ErrorKey());
          opened.error = "idle-" + r.ErrorKey();
        }
      }
      if (ok) {
        run.Connected();
        run.Delivered(*ticket, Clock::now() - t0, 0, 1);
      } else {
        run.SessionError(opened.error);
        run.Failed(*ticket, {});
      }
    }
    --in_progress_;
    if (ok) ++established_;
    if (++finished_setup_ == total_) {
      establish_s_ = std::chrono::duration<double>(Clock::now() - start_).count();
      hold_end_ = Clock::now() + hold_;
      // The compare script waits for this line before it measures the server.
      std::fprintf(stderr, "columba-load imap-idle: established %d of %d connections in %.2f s; holding %.1f s\n",
                   established_, total_, establish_s_, hold_.count() / 1000.0);
      std::fflush(stderr);
    }
    // Hold: until every session is set up and the hold time has passed, or SIGINT.
    while (!run.stopping()) {
      auto wait = std::chrono::milliseconds(500);
      if (finished_setup_ == total_) {
        auto now = Clock::now();
        if (now >= hold_end_) break;
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(hold_end_ - now) + 1ms);
      }
      co_await Sleep(wait);
    }
    if (ok && o.idle_hold) {
      auto r = co_await client.Done();
      (void)r;
    }
    if (conn.open()) (void)co_await client.Logout();
  }

 private:
  std::chrono::milliseconds hold_;
  int total_;
  bool idle_ = false;
  int in_progress_ = 0;
  int established_ = 0;
  int finished_setup_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point hold_end_;
  double establish_s_ = 0;
  OpTable table_;
};

// ---------------------------------------------------------------- imap-notify

// Untagged EXISTS seen by the reader while the session IDLEs.
struct NotifyState {
  explicit NotifyState(asio::any_io_executor ex) : wake(ex) {}
  asio::steady_timer wake;  // cancelled by the reader on every EXISTS
  uint64_t exists = 0;
  Clock::time_point exists_at;
  bool reader_done = false;
  IoFailure failure = IoFailure::kNone;
};

// Reads responses until the tagged end of IDLE (after DONE) or an error.
asio::awaitable<void> NotifyReader(ImapClient& client, std::shared_ptr<NotifyState> st) {
  for (;;) {
    auto r = co_await client.ReadResponse();
    if (r.failure != IoFailure::kNone) {
      st->failure = r.failure;
      break;
    }
    if (r.response.kind == ImapResponse::Kind::kTagged) break;
    if (auto n = UntaggedNumber(r.response.text, "EXISTS")) {
      st->exists = *n;
      st->exists_at = Clock::now();
      st->wake.cancel();
    }
  }
  st->reader_done = true;
  st->wake.cancel();
}

class ImapNotifyScenario : public Scenario {
 public:
  std::string ExtraText(double elapsed_s) const override { return table_.FormatText(elapsed_s); }
  std::string ExtraJsonMembers(double elapsed_s) const override { return table_.FormatJsonMembers(elapsed_s); }

  asio::awaitable<void> RunSession(Run& run, int session_id) override {
    const Options& o = run.options();
    auto ex = co_await asio::this_coro::executor;
    const std::string& user = o.users[static_cast<size_t>(session_id) % o.users.size()];
    Connection conn(ex, o.timeout);
    ImapClient client(conn);
    auto opened = co_await OpenMailbox(conn, client, o, user, table_, true);
    if (!opened.ok) {
      run.SessionError(opened.error);
      run.SessionGaveUp();
      co_return;
    }
    run.Connected();
    Options lo = o;
    lo.unix_path.clear();
    lo.host = o.lmtp_host;
    lo.port = o.lmtp_port;
    Connection lmtp(ex, o.timeout);
    if (auto ec = co_await lmtp.Connect(lo); ec) {
      run.SessionError("lmtp-connect");
      run.SessionGaveUp();
      co_return;
    }
    auto lhlo = co_await OpenSession(lmtp, o.helo, /*lmtp=*/true);
    if (!lhlo.error.empty()) {
      run.SessionError("lmtp-" + lhlo.error);
      run.SessionGaveUp();
      co_return;
    }
    auto idle = co_await client.Idle();
    if (!idle.ok()) {
      run.SessionError("idle-" + idle.ErrorKey());
      run.SessionGaveUp();
      co_return;
    }
    auto st = std::make_shared<NotifyState>(ex);
    st->exists = opened.view.exists;
    asio::co_spawn(ex, NotifyReader(client, st), asio::detached);
    std::mt19937_64 rng(o.seed * 1'000'003 + static_cast<uint64_t>(session_id));
    SizeChooser sizes(o.sizes);

    while (!st->reader_done) {
      auto ticket = co_await run.NextMessage();
      if (!ticket) break;
      MessageSpec spec;
      spec.seq = ticket->seq;
      spec.session = session_id;
      spec.run_id = run.run_id();
      spec.from = o.from;
      spec.to = {user};
      spec.date = Rfc5322Now();
      spec.size = sizes.Pick(rng);
      std::string message = BuildMessage(spec, rng);
      std::string stuffed = smtp::DotStuff(message);
      Envelope env{o.from, spec.to};
      uint64_t want = st->exists + 1;
      auto t_send = Clock::now();
      auto out = co_await SendTransaction(lmtp, env, stuffed, message.size(), /*lmtp=*/true, false, lhlo.caps.size);
      auto t250 = Clock::now();
      if (!out.delivered) {
        if (ticket->measured) table_.Failed("lmtp", out.errors.empty() ? "lmtp" : out.errors.front());
        run.Failed(*ticket, out.errors);
        break;  // the LMTP side is broken; the latency can no longer be measured
      }
      if (ticket->measured) table_.Ok("lmtp", Micros(t250 - t_send));
      auto deadline = t250 + o.timeout;
      while (st->exists < want && !st->reader_done && Clock::now() < deadline) {
        st->wake.expires_at(deadline);
        co_await st->wake.async_wait(kNoThrow);
      }
      if (st->exists >= want) {
        // The EXISTS may arrive before this side read the 250 (both on one thread):
        // that is a latency of 0, counted as such.
        auto latency = st->exists_at > t250 ? st->exists_at - t250 : Clock::duration::zero();
        if (ticket->measured) table_.Ok("notify", Micros(latency));
        run.Delivered(*ticket, latency, message.size(), 1);
      } else {
        std::string key = st->reader_done ? IoFailureKey(st->failure) : "timeout";
        if (ticket->measured) table_.Failed("notify", key);
        run.Failed(*ticket, {key});
        break;
      }
      co_await Sleep(o.interval);
    }
    if (!st->reader_done) (void)co_await conn.Write("DONE\r\n");
    // The reader holds a reference to `client`: wait until it has ended.
    auto give_up = Clock::now() + o.timeout;
    while (!st->reader_done && Clock::now() < give_up) co_await Sleep(10ms);
    if (!st->reader_done) conn.Close();
    while (!st->reader_done) co_await Sleep(10ms);
    if (conn.open()) (void)co_await client.Logout();
    co_await Quit(lmtp);
  }

 private:
  OpTable table_;
};

}  // namespace

std::unique_ptr<Scenario> MakeImapScenario(const Options& options) { return std::make_unique<ImapMixScenario>(options); }
std::unique_ptr<Scenario> MakeImapIdleScenario(const Options& options) {
  return std::make_unique<ImapIdleScenario>(options);
}
std::unique_ptr<Scenario> MakeImapNotifyScenario(const Options&) { return std::make_unique<ImapNotifyScenario>(); }

}  // namespace columba::loadtest
