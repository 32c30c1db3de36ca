// session.cc - the per-connection loop: greeting, read -> parse -> dispatch,
// protocol errors, idle timeout, STARTTLS upgrade.
#include "services/imapd/session.h"

#include "lib/base/log.h"
#include "services/imapd/commands.h"
#include "services/imapd/watch.h"

namespace columba::imapd {

using net::kNoThrow;

ImapMetrics::ImapMetrics(prometheus::Registry& r)
    : sessions(prometheus::BuildCounter().Name("columba_imapd_sessions_total").Help("IMAP sessions accepted").Register(r)),
      commands(prometheus::BuildCounter().Name("columba_imapd_commands_total").Help("IMAP commands by name").Register(r)),
      logins(prometheus::BuildCounter().Name("columba_imapd_logins_total").Help("Login attempts by result: ok, failed, refused, error").Register(r)),
      errors(prometheus::BuildCounter().Name("columba_imapd_errors_total").Help("Protocol and dependency errors by kind").Register(r)),
      active(prometheus::BuildGauge().Name("columba_imapd_sessions_active").Help("Open IMAP sessions").Register(r)),
      fetch_bodies(prometheus::BuildCounter().Name("columba_imapd_fetch_bodies_total").Help("Whole-message FETCH bodies streamed from the blob store in chunks").Register(r)),
      syncs(prometheus::BuildCounter().Name("columba_imapd_mailbox_syncs_total").Help("NOOP/CHECK/IDLE syncs of the selected mailbox by source: metad (a Changes call) or watch (the Watch stream showed nothing changed)").Register(r)),
      sessions_total(sessions.Add({})),
      sessions_active(active.Add({})),
      fetch_bodies_streamed(fetch_bodies.Add({{"mode", "streamed"}})),
      syncs_metad(syncs.Add({{"source", "metad"}})),
      syncs_watch(syncs.Add({{"source", "watch"}})),
      index(prometheus::BuildCounter().Name("columba_imapd_index_reads_total").Help("Reads of the per-process mailbox index (FETCH FLAGS) by result: hit, refreshed (one Changes call), built, unavailable (metad asked instead)").Register(r)),
      index_hits(index.Add({{"result", "hit"}})),
      index_refreshes(index.Add({{"result", "refreshed"}})),
      index_builds(index.Add({{"result", "built"}})),
      index_unavailable(index.Add({{"result", "unavailable"}})),
      message_cache(prometheus::BuildCounter().Name("columba_imapd_message_cache_reads_total").Help("FETCH batches of ENVELOPE/BODYSTRUCTURE/body items by result: hit (the message cache and the mailbox index answered), miss (metad Fetch)").Register(r)),
      message_cache_hits(message_cache.Add({{"result", "hit"}})),
      message_cache_misses(message_cache.Add({{"result", "miss"}})) {}

Session::Session(ServerContext& ctx, net::MaybeTlsStream& stream, std::string peer_ip, bool implicit_tls)
    : ctx_(ctx),
      stream_(stream),
      peer_ip_(std::move(peer_ip)),
      implicit_tls_(implicit_tls),
      trusted_(ctx.trusted.Contains(peer_ip_)),
      idle_(stream.get_executor()) {
  // Not in the initializer list: NewParser reads account_id_ and utf8_, which are
  // declared (and so initialised) after parser_. Built there, the parser could
  // start with the after-login limits.
  parser_ = NewParser();
}

uint64_t Session::Wrote() { return ctx_.watches.TouchAccount(account_id_); }

std::unique_ptr<imap::Parser> Session::NewParser() const {
  auto p = std::make_unique<imap::Parser>(ctx_.cfg.limits, imap::ParserOptions{});
  p->SetAuthenticated(authenticated());
  p->SetUtf8Accept(utf8_);
  return p;
}

std::string Session::Capabilities() const {
  std::string caps = "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID UNSELECT";
  if (authenticated())
    return caps +
           " IDLE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE NAMESPACE UIDPLUS MOVE MULTIAPPEND ESEARCH SEARCHRES"
           " STATUS=SIZE ENABLE CONDSTORE QRESYNC SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY"
           " QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE APPENDLIMIT=" +
           std::to_string(ctx_.cfg.limits.max_literal_size) + " UTF8=ACCEPT" + (compressed() ? "" : " COMPRESS=DEFLATE");
  if (CanStartTls()) caps += " STARTTLS";
  if (!PlaintextAuthAllowed()) return caps + " LOGINDISABLED";
  for (const auto& m : ctx_.cfg.auth_mechanisms) caps += " AUTH=" + m;
  return caps;
}

bool Session::MechanismOffered(std::string_view mechanism) const {
  for (const auto& m : ctx_.cfg.auth_mechanisms)
    if (m == mechanism) return true;
  return false;
}

void Session::SetAuthenticated(std::string user, uint64_t account_id, net::ConnectionSlot slot) {
  user_ = std::move(user);
  account_id_ = account_id;
  user_slot_ = std::move(slot);
  parser_->SetAuthenticated(true);
}

Result<void> Session::StartCompression() {
  auto d = net::Deflater::Create();
  if (!d) return tl::unexpected(d.error());
  auto i = net::Inflater::Create();
  if (!i) return tl::unexpected(i.error());
  deflater_ = std::move(*d);
  inflater_ = std::move(*i);
  return {};
}

bool Session::FeedInput(std::string_view raw) {
  if (!inflater_) {
    parser_->Feed(raw);
    return true;
  }
  if (!raw.empty()) inflater_->Input(raw);
  auto piece = inflater_->Next(kInflatePiece);
  if (!piece) return false;
  parser_->Feed(*piece);
  return true;
}

asio::awaitable<bool> Session::Flush() {
  if (out_.empty() || closing_) co_return !closing_;
  if (deflater_) {
    auto z = deflater_->Compress(out_);
    if (!z) {
      closing_ = true;
      co_return false;
    }
    out_ = std::move(*z);
  }
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kNoThrow);
  // A large response (FETCH of many messages) must not pin its buffer while idle.
  if (out_.capacity() > 16 * 1024)
    std::string().swap(out_);
  else
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
  auto expiry = std::chrono::steady_clock::now() + ctx_.cfg.idle_timeout;
  const bool before_login = !authenticated() && login_deadline_ < expiry;
  idle_.expires_at(before_login ? login_deadline_ : expiry);
  idle_.async_wait([this, before_login](asio::error_code ec) {
    if (ec) return;
    timed_out_ = true;
    login_timed_out_ = before_login;
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
    if (inflater_ && inflater_->Pending()) {  // more of what was already read
      if (!FeedInput({})) co_return std::nullopt;
      continue;
    }
    if (!co_await Flush()) co_return std::nullopt;
    ArmIdleTimer();
    // The buffer lives only for this read, and is small unless the last read
    // filled its buffer (a large command or literal is arriving): a session
    // waiting for its next command holds 2 KiB, not 16.
    const size_t size = last_read_full_ ? 16384 : 2048;
    auto buf = std::make_unique_for_overwrite<char[]>(size);
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buf.get(), size), kNoThrow);
    idle_.cancel();
    if (ec || n == 0) co_return std::nullopt;
    last_read_full_ = n == size;
    if (!FeedInput(std::string_view(buf.get(), n))) {
      ctx_.metrics.errors.Add({{"kind", "compression"}}).Increment();
      co_return std::nullopt;  // a corrupt DEFLATE stream: nothing more can be read
    }
  }
}

void Session::StartIdleRead(std::shared_ptr<IdleSignal> sig) {
  if (idle_read_pending_ || input_closed_) return;
  idle_read_pending_ = true;
  if (inflater_ && inflater_->Pending()) {
    // Input already read is waiting to be inflated: hand it over as a read would.
    asio::post(stream_.get_executor(), [this, sig] {
      idle_read_pending_ = false;
      if (!FeedInput({})) input_closed_ = true;
      sig->Wake();
    });
    return;
  }
  // IDLE waits for "DONE": a small buffer (more comes with the next read).
  if (!idle_buf_) idle_buf_ = std::make_unique_for_overwrite<char[]>(kIdleReadSize);
  stream_.async_read_some(asio::buffer(idle_buf_.get(), kIdleReadSize), [this, sig](asio::error_code ec, size_t n) {
    idle_read_pending_ = false;
    if (ec || n == 0 || !FeedInput(std::string_view(idle_buf_.get(), n))) input_closed_ = true;
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
  co_await Flush();
  co_await CountBadCommand();
}

asio::awaitable<void> Session::CountBadCommand() {
  if (++bad_commands_ <= ctx_.cfg.max_bad_commands) co_return;
  Queue("* BYE Too many invalid commands.\r\n");
  co_await Flush();  // before closing: Flush writes nothing once closing
  closing_ = true;
}

asio::awaitable<void> Session::Dispatch(const imap::Command& cmd) {
  const CommandSpec* spec = FindCommand(cmd.name);
  if (std::holds_alternative<imap::UnknownArgs>(cmd.args)) {
    ctx_.metrics.commands.Add({{"command", "unknown"}}).Increment();
    co_await Done(cmd.tag, "BAD", "Unknown command.");
    co_await CountBadCommand();
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
  login_deadline_ = std::chrono::steady_clock::now() + ctx_.cfg.login_timeout;
  if (implicit_tls_ && !co_await UpgradeToTls()) co_return;
  Queue("* OK [CAPABILITY " + Capabilities() + "] Columba ready.\r\n");
  if (!co_await Flush()) co_return;
  while (!closing_) {
    auto ev = co_await NextEvent();
    if (!ev) {
      if (login_timed_out_) {
        Queue("* BYE Authentication timed out.\r\n");
        co_await Flush();
      } else if (timed_out_) {
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
  // Connections per client address (trusted networks, e.g. a webmail or a
  // load balancer without PROXY protocol, are exempt): refused before TLS.
  std::optional<net::ConnectionSlot> ip_slot;
  const bool limited = !ctx.trusted.Contains(peer_ip);
  if (limited) ip_slot = ctx.conn_limits.Acquire(net::ConnectionLimits::kIp, peer_ip, ctx.cfg.max_connections_per_ip);
  if (limited && !ip_slot) {
    ctx.metrics.errors.Add({{"kind", "ip_limit"}}).Increment();
    log::Info("too many connections from address", {{"peer", peer_ip}});
    if (!implicit_tls) {
      static constexpr std::string_view kBye = "* BYE [UNAVAILABLE] Too many connections from your address.\r\n";
      co_await asio::async_write(socket, asio::buffer(kBye), kNoThrow);
    }
    asio::error_code ignored;
    socket.close(ignored);
  } else {
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
