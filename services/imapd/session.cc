// session.cc - the per-connection loop: greeting, read -> parse -> dispatch,
// protocol errors, idle timeout, STARTTLS upgrade.
#include "services/imapd/session.h"

#include "lib/base/log.h"
#include "services/imapd/commands.h"

namespace columba::imapd {

using net::kNoThrow;

ImapMetrics::ImapMetrics(prometheus::Registry& r)
    : sessions(prometheus::BuildCounter().Name("columba_imapd_sessions_total").Help("IMAP sessions accepted").Register(r)),
      commands(prometheus::BuildCounter().Name("columba_imapd_commands_total").Help("IMAP commands by name").Register(r)),
      logins(prometheus::BuildCounter().Name("columba_imapd_logins_total").Help("Login attempts by result: ok, failed, refused, error").Register(r)),
      errors(prometheus::BuildCounter().Name("columba_imapd_errors_total").Help("Protocol and dependency errors by kind").Register(r)),
      active(prometheus::BuildGauge().Name("columba_imapd_sessions_active").Help("Open IMAP sessions").Register(r)),
      sessions_total(sessions.Add({})),
      sessions_active(active.Add({})) {}

Session::Session(ServerContext& ctx, net::MaybeTlsStream& stream, std::string peer_ip, bool implicit_tls)
    : ctx_(ctx),
      stream_(stream),
      peer_ip_(std::move(peer_ip)),
      implicit_tls_(implicit_tls),
      trusted_(ctx.trusted.Contains(peer_ip_)),
      parser_(NewParser()),
      idle_(stream.get_executor()) {}

std::unique_ptr<imap::Parser> Session::NewParser() const {
  auto p = std::make_unique<imap::Parser>(ctx_.cfg.limits, imap::ParserOptions{});
  p->SetAuthenticated(authenticated());
  return p;
}

std::string Session::Capabilities() const {
  std::string caps = "IMAP4rev1 SASL-IR LITERAL+ ID UNSELECT";
  if (authenticated()) return caps + " IDLE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE NAMESPACE UIDPLUS MOVE MULTIAPPEND ESEARCH STATUS=SIZE ENABLE CONDSTORE QRESYNC";
  if (CanStartTls()) caps += " STARTTLS";
  caps += PlaintextAuthAllowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
  return caps;
}

void Session::SetAuthenticated(std::string user, uint64_t account_id) {
  user_ = std::move(user);
  account_id_ = account_id;
  parser_->SetAuthenticated(true);
}

asio::awaitable<bool> Session::Flush() {
  if (out_.empty() || closing_) co_return !closing_;
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kNoThrow);
  out_.clear();
  if (ec) closing_ = true;
  co_return !ec;
}

asio::awaitable<void> Session::Done(std::string tag, std::string status, std::string text) {
  out_ += tag;
  out_ += ' ';
  out_ += status;
  out_ += ' ';
  out_ += text;
  out_ += "\r\n";
  co_await Flush();
}

void Session::ArmIdleTimer() {
  idle_.expires_after(ctx_.cfg.idle_timeout);
  idle_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    timed_out_ = true;
    stream_.cancel();  // the pending read ends; Run says BYE and closes
  });
}

asio::awaitable<std::optional<imap::ParseEvent>> Session::NextEvent() {
  for (;;) {
    imap::ParseEvent ev = parser_->Next();
    if (ev.kind == imap::ParseEvent::Kind::kContinue) {
      Queue("+ OK\r\n");
      if (!co_await Flush()) co_return std::nullopt;
      continue;
    }
    if (ev.kind != imap::ParseEvent::Kind::kNeedMore) co_return ev;
    if (!co_await Flush()) co_return std::nullopt;
    ArmIdleTimer();
    char buf[16384];
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buf), kNoThrow);
    idle_.cancel();
    if (ec || n == 0) co_return std::nullopt;
    parser_->Feed(std::string_view(buf, n));
  }
}

void Session::StartIdleRead(std::shared_ptr<IdleSignal> sig) {
  if (idle_read_pending_ || input_closed_) return;
  idle_read_pending_ = true;
  stream_.async_read_some(asio::buffer(idle_buf_), [this, sig](asio::error_code ec, size_t n) {
    idle_read_pending_ = false;
    if (ec || n == 0)
      input_closed_ = true;
    else
      parser_->Feed(std::string_view(idle_buf_.data(), n));
    sig->Wake();
  });
}

asio::awaitable<bool> Session::UpgradeToTls() {
  // Anything the client sent after STARTTLS was read in plaintext: drop it
  // (RFC 3501 6.2.1, command injection defence) by starting a fresh parser.
  parser_ = NewParser();
  auto r = co_await stream_.StartTls(ctx_.tls->Current());
  if (!r) {
    log::Info("TLS handshake failed", {{"peer", peer_ip_}, {"error", r.error().message}});
    closing_ = true;
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> Session::ProtocolError(const imap::ProtocolError& e) {
  ctx_.metrics.errors.Add({{"kind", e.code.empty() ? "syntax" : e.code}}).Increment();
  if (e.fatal) {
    Queue("* BYE " + e.text + "\r\n");
    co_await Flush();
    closing_ = true;
    co_return;
  }
  std::string line = (e.tag.empty() ? "*" : e.tag) + " BAD ";
  if (!e.code.empty()) line += "[" + e.code + "] ";
  line += e.text + "\r\n";
  Queue(line);
  if (++bad_commands_ > ctx_.cfg.max_bad_commands) {
    Queue("* BYE Too many invalid commands.\r\n");
    closing_ = true;
  }
  co_await Flush();
}

asio::awaitable<void> Session::Dispatch(const imap::Command& cmd) {
  const CommandSpec* spec = FindCommand(cmd.name);
  if (std::holds_alternative<imap::UnknownArgs>(cmd.args)) {
    ctx_.metrics.commands.Add({{"command", "unknown"}}).Increment();
    if (++bad_commands_ > ctx_.cfg.max_bad_commands) {
      Queue("* BYE Too many invalid commands.\r\n");
      closing_ = true;
    }
    co_await Done(cmd.tag, "BAD", "Unknown command.");
    co_return;
  }
  ctx_.metrics.commands.Add({{"command", spec ? std::string(spec->name) : std::string("unsupported")}}).Increment();
  if (!spec || (cmd.uid && !spec->uid_allowed)) {
    // Built first: GCC 12 miscompiles std::string temporaries inside co_await arguments.
    const std::string text = "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.";
    co_await Done(cmd.tag, "NO", text);
    co_return;
  }
  if (spec->needs_auth && !authenticated()) {
    co_await Done(cmd.tag, "BAD", "Command not allowed before authentication.");
    co_return;
  }
  if (spec->not_authenticated_only && authenticated()) {
    co_await Done(cmd.tag, "BAD", "Command not allowed after authentication.");
    co_return;
  }
  if (spec->needs_selected && !selected_) {
    co_await Done(cmd.tag, "BAD", "No mailbox selected.");
    co_return;
  }
  co_await spec->handler(*this, cmd);
}

asio::awaitable<void> Session::Run() {
  if (implicit_tls_ && !co_await UpgradeToTls()) co_return;
  Queue("* OK [CAPABILITY " + Capabilities() + "] Columba ready.\r\n");
  if (!co_await Flush()) co_return;
  while (!closing_) {
    auto ev = co_await NextEvent();
    if (!ev) {
      if (timed_out_) {
        Queue("* BYE Autologout; idle for too long.\r\n");
        co_await Flush();
      }
      break;
    }
    if (ctx_.runtime.draining()) {
      Queue("* BYE Server shutting down.\r\n");
      co_await Flush();
      break;
    }
    switch (ev->kind) {
      case imap::ParseEvent::Kind::kCommand: co_await Dispatch(ev->command); break;
      case imap::ParseEvent::Kind::kError: co_await ProtocolError(ev->error); break;
      default:
        // kIdleDone / kSaslLine only follow an Expect* call made by a handler.
        co_await ProtocolError(imap::ProtocolError{"", "", "Unexpected input.", false});
        break;
    }
  }
  idle_.cancel();
}

asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip,
                                 bool implicit_tls) {
  ctx.runtime.SessionStarted();
  ctx.metrics.sessions_total.Increment();
  ctx.metrics.sessions_active.Increment();
  {
    net::MaybeTlsStream stream(std::move(socket));
    {
      Session s(ctx, stream, peer_ip, implicit_tls);
      co_await s.Run();
    }
    stream.close();
  }
  ctx.metrics.sessions_active.Decrement();
  ctx.runtime.SessionEnded();
}

}  // namespace columba::imapd
