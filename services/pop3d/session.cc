// session.cc - the per-connection loop: greeting, read -> parse -> dispatch,
// limits (line length, commands, bad commands, idle and login timeouts), STLS
// upgrade, PROXY header and the per-address connection limit.
#include "services/pop3d/session.h"

#include "lib/auth/credential_check.h"
#include "lib/base/log.h"
#include "lib/net/admission.h"
#include "lib/pop3/response.h"
#include "services/pop3d/commands.h"
#include "services/pop3d/maildrop.h"

namespace columba::pop3d {

using net::kNoThrow;

// Every metric of pop3d (README.md lists them with the same names and help).
Pop3Metrics::Pop3Metrics(prometheus::Registry& r)
    : sessions(prometheus::BuildCounter().Name("columba_pop3d_sessions_total").Help("POP3 sessions accepted").Register(r)),
      active(prometheus::BuildGauge().Name("columba_pop3d_sessions_active").Help("Open POP3 sessions").Register(r)),
      commands(prometheus::BuildCounter().Name("columba_pop3d_commands_total").Help("POP3 commands by name").Register(r)),
      logins(prometheus::BuildCounter().Name("columba_pop3d_logins_total").Help("Login attempts by result: ok, failed, refused, in_use, login_delay, error").Register(r)),
      errors(prometheus::BuildCounter().Name("columba_pop3d_errors_total").Help("Protocol and dependency errors by kind").Register(r)),
      locks(prometheus::BuildCounter().Name("columba_pop3d_maildrop_locks_total").Help("Maildrop lock attempts by result: taken, in_use, unavailable, lost").Register(r)),
      deleted(prometheus::BuildCounter().Name("columba_pop3d_messages_deleted_total").Help("Messages expunged in the UPDATE state").Register(r)),
      retrieved(prometheus::BuildCounter().Name("columba_pop3d_messages_retrieved_total").Help("Messages sent by RETR or TOP").Register(r)),
      sessions_total(sessions.Add({})),
      sessions_active(active.Add({})),
      deleted_total(deleted.Add({})) {}

Session::Session(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip, bool implicit_tls)
    : ctx_(ctx),
      stream_(std::move(socket)),
      reader_(stream_),
      peer_ip_(std::move(peer_ip)),
      implicit_tls_(implicit_tls),
      trusted_(ctx.trusted.Contains(peer_ip_)),
      idle_(stream_.get_executor()) {}

Session::~Session() = default;

std::vector<std::string> Session::Mechanisms() const {
  std::vector<std::string> out;
  for (const auto& m : ctx_.cfg.auth_mechanisms)
    if ((m != "PLAIN" && m != "LOGIN") || PlaintextAuthAllowed()) out.push_back(m);
  return out;
}

bool Session::MechanismAllowed(const std::string& mech) const {
  for (const auto& m : Mechanisms())
    if (m == mech) return true;
  return false;
}

void Session::Ok(std::string_view text) { out_ += pop3::FormatOk(text); }
void Session::Err(std::string_view code, std::string_view text) { out_ += pop3::FormatErr(code, text); }

asio::awaitable<bool> Session::Flush() {
  const bool write = !out_.empty() && !write_failed_;  // a top-level local on purpose (GCC 12)
  if (write) {
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kNoThrow);
    if (ec) write_failed_ = closing_ = true;
  }
  // A long RETR must not pin its buffer while the session waits.
  if (out_.capacity() > 64 * 1024)
    std::string().swap(out_);
  else
    out_.clear();
  co_return !write_failed_;
}

asio::awaitable<bool> Session::FlushIfLarge() {
  bool ok = true;
  if (out_.size() >= 64 * 1024) ok = co_await Flush();
  co_return ok;
}

void Session::ArmIdleTimer() {
  auto expiry = std::chrono::steady_clock::now() + ctx_.cfg.idle_timeout;
  if (!authenticated() && login_deadline_ < expiry) expiry = login_deadline_;
  idle_.expires_at(expiry);
  idle_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    timed_out_ = true;
    stream_.cancel();
  });
}

asio::awaitable<net::Line> Session::ReadAuthLine() {
  co_await Flush();
  ArmIdleTimer();
  net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_auth_line);
  idle_.cancel();
  co_return line;
}

asio::awaitable<bool> Session::UpgradeToTls() {
  // Whatever the client pipelined after STLS was sent in plaintext: dropped,
  // never read as a command under TLS (RFC 2595 4, command injection defence).
  reader_.DiscardBuffered();
  auto r = co_await stream_.StartTls(ctx_.tls->Current());
  bool ok = true;
  if (!r) {
    ctx_.metrics.Error("tls_handshake");
    log::Info("TLS handshake failed", {{"peer", peer_ip_}, {"error", r.error().message}});
    closing_ = true;
    ok = false;
  }
  co_return ok;
}

void Session::EnterTransaction(std::string user, uint64_t account_id, Maildrop drop,
                               std::shared_ptr<MaildropLock> lock) {
  user_ = std::move(user);
  account_id_ = account_id;
  maildrop_ = std::move(drop);
  lock_ = std::move(lock);
  pending_user_.reset();
  lock_->StartRenewal();
}

// A named local on purpose: GCC 12 miscompiled a parameterless member coroutine
// without locals (garbage `this`; see smtpd's CmdStartTls).
asio::awaitable<void> Session::ReleaseLock() {
  std::shared_ptr<MaildropLock> lock = lock_;
  if (lock) co_await lock->Release();
}

asio::awaitable<void> Session::BadCommand(std::string_view text) {
  Err("", text);
  if (++bad_commands_ > ctx_.cfg.max_bad_commands) {
    ctx_.metrics.Error("too_many_bad_commands");
    Err("", "Too many invalid commands, closing connection.");
    closing_ = true;
  }
  co_await Flush();
}

asio::awaitable<void> Session::Dispatch(const pop3::Command& cmd) {
  const CommandSpec* spec = FindCommand(cmd.verb);
  ctx_.metrics.commands.Add({{"command", spec ? std::string(pop3::VerbName(cmd.verb)) : std::string("unknown")}})
      .Increment();
  const unsigned state = authenticated() ? kTransaction : kAuthorization;
  if (!spec) {
    co_await BadCommand("Unknown command.");
  } else if (!(spec->states & state)) {
    std::string text = authenticated() ? "Command not valid in TRANSACTION state." : "Not logged in.";
    co_await BadCommand(text);
  } else {
    co_await spec->handler(*this, cmd);
  }
}

asio::awaitable<void> Session::Run() {
  login_deadline_ = std::chrono::steady_clock::now() + ctx_.cfg.login_timeout;
  bool go = true;
  if (implicit_tls_) go = co_await UpgradeToTls();
  if (go) {
    std::string greeting = "Columba POP3 ready.";
    if (ctx_.cfg.apop) {
      apop_banner_ = auth::MakeCramChallenge(ctx_.cfg.hostname);  // "<random.time@host>" (RFC 1939 7)
      greeting += " " + apop_banner_;
    }
    Ok(greeting);
    go = co_await Flush();
  }
  while (go && !closing_) {
    // Pipelined commands are answered together: write only when none is waiting.
    if (!reader_.HasBuffered()) {
      bool written = co_await Flush();
      if (!written) break;
    }
    ArmIdleTimer();
    net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_line_length);
    idle_.cancel();
    if (line.eof) {
      if (timed_out_) {
        Err("", authenticated() ? "Autologout; idle for too long." : "Login timed out.");
        co_await Flush();
      }
      break;  // a session that drops without QUIT deletes nothing
    }
    if (ctx_.runtime.draining()) {
      Err("SYS/TEMP", "Server shutting down, try again later.");
      co_await Flush();
      break;
    }
    if (++commands_ > ctx_.cfg.max_commands) {
      ctx_.metrics.Error("too_many_commands");
      Err("", "Too many commands in one session.");
      co_await Flush();
      break;
    }
    if (line.too_long) {
      ctx_.metrics.Error("line_too_long");
      co_await BadCommand("Line too long.");
      continue;
    }
    if (lock_ && lock_->lost()) {
      Err("SYS/TEMP", "Maildrop lock lost; nothing was deleted. Reconnect.");
      co_await Flush();
      break;
    }
    auto cmd = pop3::ParseCommand(line.text);
    if (!cmd) {
      ctx_.metrics.Error("syntax");
      co_await BadCommand(cmd.error().message);
      continue;
    }
    co_await Dispatch(*cmd);
  }
  co_await Flush();  // QUIT's answer, or the last error
  idle_.cancel();
  co_await ReleaseLock();
  stream_.close();
}

asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip,
                                 bool implicit_tls) {
  ctx.runtime.SessionStarted();
  ctx.metrics.sessions_total.Increment();
  ctx.metrics.sessions_active.Increment();
  // The real client behind a trusted load balancer (PROXY) and the connection
  // limit per address; trust, limits and POP-before-SMTP use a.client_ip.
  net::AdmissionRules rules{ctx.proxy_networks, ctx.cfg.proxy_timeout, ctx.trusted, ctx.conn_limits,
                            ctx.cfg.max_connections_per_ip};
  net::Admission a = co_await net::AdmitConnection(socket, std::move(peer_ip), rules);
  if (a.admitted) {
    Session s(ctx, std::move(socket), std::move(a.client_ip), implicit_tls);
    co_await s.Run();
  } else {
    ctx.metrics.Error(a.refusal);
    log::Info("connection refused", {{"peer", a.client_ip}, {"reason", a.refusal}, {"error", a.detail}});
    if (std::string_view(a.refusal) == "ip_limit" && !implicit_tls) {
      const std::string bye = pop3::FormatErr("SYS/TEMP", "Too many connections from your address.");
      co_await asio::async_write(socket, asio::buffer(bye), kNoThrow);
    }
    asio::error_code ignored;
    socket.close(ignored);
  }
  ctx.metrics.sessions_active.Decrement();
  ctx.runtime.SessionEnded();
}

}  // namespace columba::pop3d
