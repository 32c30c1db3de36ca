// session.cc - the SMTP dialogue (session.h, docs/smtp.md). AUTH is auth.cc.
#include "services/smtpd/session.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "lib/base/log.h"
#include "lib/net/admission.h"
#include "lib/smtp/data_reader.h"
#include "lib/smtp/relay_policy.h"
#include "services/smtpd/lmtp_handoff.h"

namespace columba::smtpd {

using net::kNoThrow;

SmtpMetrics::SmtpMetrics(prometheus::Registry& r)
    : sessions(prometheus::BuildCounter().Name("columba_smtpd_sessions_total").Help("SMTP sessions accepted, by port (mx, submission, submissions)").Register(r)),
      commands(prometheus::BuildCounter().Name("columba_smtpd_commands_total").Help("SMTP commands by verb").Register(r)),
      recipients(prometheus::BuildCounter().Name("columba_smtpd_recipients_total").Help("RCPT results: the relay policy's reason (local, trusted_network, authenticated, pop_before_smtp, client_certificate), refused, unknown_user, unavailable").Register(r)),
      messages(prometheus::BuildCounter().Name("columba_smtpd_messages_total").Help("Messages after DATA by result: delivered, deferred (4xx), rejected (5xx)").Register(r)),
      errors(prometheus::BuildCounter().Name("columba_smtpd_errors_total").Help("Protocol and dependency errors by kind").Register(r)),
      auths(prometheus::BuildCounter().Name("columba_smtpd_auth_total").Help("AUTH attempts by mechanism and result (ok, failed, error, refused)").Register(r)),
      active(prometheus::BuildGauge().Name("columba_smtpd_sessions_active").Help("Open SMTP sessions").Register(r)),
      sessions_active(active.Add({})) {}

namespace {

std::string RfcDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Bare CR or LF in a message body (CRLF pairs excluded).
bool HasBareLineEnds(std::string_view m) {
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r' && (i + 1 == m.size() || m[i + 1] != '\n')) return true;
    if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) return true;
  }
  return false;
}

// Every bare CR and bare LF becomes CRLF (Postfix's "normalize").
std::string NormalizeLineEnds(std::string_view m) {
  std::string out;
  out.reserve(m.size() + 16);
  for (size_t i = 0; i < m.size(); ++i) {
    char c = m[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < m.size() && m[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

// The directory key of an address: normalised, "+detail" dropped (RFC 5233
// sub-addressing, as lmtpd's recipient_delimiter). nullopt when malformed.
std::optional<std::string> BaseAddress(const std::string& address) {
  auto normalized = storage::NormalizeAsciiAddress(address);
  if (!normalized) return std::nullopt;
  std::string base = *normalized;
  auto at = base.find('@');
  if (auto plus = base.find('+'); plus != std::string::npos && plus < at && plus > 0)
    base = base.substr(0, plus) + base.substr(at);
  return base;
}

const char* PortName(PortKind k) {
  switch (k) {
    case PortKind::kMx: return "mx";
    case PortKind::kSubmission: return "submission";
    case PortKind::kSubmissions: return "submissions";
  }
  return "mx";
}

}  // namespace

Session::Session(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer, PortKind kind)
    : ctx_(ctx), stream_(std::move(socket)), reader_(stream_), peer_(std::move(peer)), kind_(kind),
      idle_(stream_.get_executor()), trusted_(ctx.trusted.Contains(peer_)) {}

void Session::Count(const char* kind) { ctx_.metrics.errors.Add({{"kind", kind}}).Increment(); }
void Session::CountRcpt(std::string_view result) {
  ctx_.metrics.recipients.Add({{"result", std::string(result)}}).Increment();
}

// One timer per session, not one per line: reads only note the time
// (Touch); the timer re-arms itself until the client has really been silent
// for idle_timeout while the session waited for it (not while smtpd worked).
void Session::Touch() { last_activity_ = std::chrono::steady_clock::now(); }

void Session::WatchIdle() {
  idle_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    auto due = last_activity_ + ctx_.cfg.idle_timeout;
    if (busy_ || std::chrono::steady_clock::now() < due) {
      idle_.expires_at(busy_ ? std::chrono::steady_clock::now() + ctx_.cfg.idle_timeout : due);
      WatchIdle();
      return;
    }
    timed_out_ = true;
    stream_.cancel();
  });
}

// Replies are queued and written in one go when the session is about to wait
// for the client (RFC 2920: the replies of a pipelined group leave together).
// Every read that the client must be answered before is preceded by Flush:
// the command loop when nothing more is buffered, DATA after 354, SASL rounds
// after 334, STARTTLS before the handshake, and the end of the session.
asio::awaitable<bool> Session::Send(std::string text) {
  out_ += text;
  co_return true;
}
asio::awaitable<bool> Session::Flush() {
  if (out_.empty()) co_return true;
  std::string buf;
  buf.swap(out_);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(buf), kNoThrow);
  co_return !ec;
}
asio::awaitable<bool> Session::Reply(int code, std::string_view enhanced, std::string_view text) {
  co_return co_await Send(smtp::FormatReply(code, enhanced, text));
}
asio::awaitable<bool> Session::Error(int code, std::string_view enhanced, std::string_view text) {
  if (++errors_ > ctx_.cfg.max_errors) {
    co_await Reply(421, "4.7.0", "Too many errors, closing connection");
    quit_ = true;
    co_return false;
  }
  co_return co_await Reply(code, enhanced, text);
}

void Session::ResetTransaction() {
  mail_from_.reset();
  mail_params_ = smtp::MailParams{};
  recipients_.clear();
  in_bdat_ = false;
  bdat_body_.clear();
  bdat_over_size_ = false;
}

bool Session::AuthAllowedHere() const {
  if (ctx_.cfg.auth_mechanisms.empty()) return false;
  return Tls() || trusted_ || ctx_.cfg.allow_plaintext_auth;
}

// RFC 3848 / RFC 6531 3.7.7 "with" protocol names.
std::string Session::ProtocolName() const {
  std::string p = mail_params_.smtputf8 ? "UTF8SMTP" : (esmtp_ ? "ESMTP" : "SMTP");
  if (!esmtp_) return p;
  if (Tls()) p += "S";
  if (!auth_user_.empty()) p += "A";
  return p;
}

asio::awaitable<bool> Session::UpgradeToTls() {
  // Whatever the client pipelined after STARTTLS was sent in plaintext: it is
  // dropped, never read as a command under TLS (RFC 3207 5).
  reader_.DiscardBuffered();
  auto r = co_await stream_.StartTls(ctx_.tls->Current());
  if (!r) {
    Count("tls_handshake");
    log::Info("TLS handshake failed", {{"client", peer_}, {"error", r.error().message}});
    co_return false;
  }
  if (ctx_.client_certs) {
    if (auto name = stream_.VerifiedClientName()) {
      std::string address = storage::NormalizeAsciiAddress(*name).value_or(std::string());
      auto found = co_await ctx_.pool.Run([this, &address] { return auth::LookupEnabled(ctx_.directory, address); });
      if (found && found->has_value()) {
        cert_user_ = (**found).address;
        log::Info("client certificate", {{"client", peer_}, {"user", cert_user_}});
      } else {
        Count(found ? "client_certificate_unknown_user" : "directory");
      }
    }
  }
  co_return true;
}

asio::awaitable<void> Session::Run() {
  Touch();
  idle_.expires_after(ctx_.cfg.idle_timeout);
  WatchIdle();
  if (kind_ == PortKind::kSubmissions && !co_await UpgradeToTls()) co_return;
  co_await Reply(220, "", ctx_.cfg.hostname + " ESMTP Columba");
  while (!quit_) {
    if (!reader_.HasBufferedLine()) {  // about to wait for the client: answer first
      bool written = co_await Flush();
      if (!written) break;
    }
    // RFC 5321 4.5.3.1.4: 512 octets per command line; 1000 tolerated as for text.
    net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_line - 2);
    Touch();
    if (line.eof) {
      if (timed_out_) co_await Reply(421, "4.4.2", ctx_.cfg.hostname + " idle timeout, closing connection");
      break;
    }
    if (line.too_long) {
      Count("line_too_long");
      if (!co_await Error(500, "5.5.2", "Line too long")) break;
      continue;
    }
    auto cmd = smtp::ParseCommand(line.text);
    if (ctx_.runtime.draining() && !mail_from_ && !(cmd && cmd->verb == smtp::Verb::kQuit)) {
      co_await Reply(421, "4.3.2", ctx_.cfg.hostname + " shutting down, try again later");
      break;
    }
    if (!cmd) {
      Count("syntax");
      auto r = smtp::ReplyForSyntaxError(cmd.error());
      if (!co_await Error(r.code, r.enhanced, r.text)) break;
      continue;
    }
    ctx_.metrics.commands.Add({{"verb", smtp::VerbName(cmd->verb)}}).Increment();
    if (std::chrono::steady_clock::now() - started_ > ctx_.cfg.max_session_time) {
      Count("session_time");
      co_await Reply(421, "4.4.2", ctx_.cfg.hostname + " session too long, closing connection");
      break;
    }
    if (mail_from_ && ++commands_ > ctx_.cfg.max_commands) {
      Count("commands");
      co_await Reply(421, "4.7.0", "Too many commands for one message, closing connection");
      break;
    }
    if (!co_await Dispatch(*cmd)) break;
  }
  co_await Flush();
  idle_.cancel();
}

// Not a coroutine: it hands back the verb's awaitable (one frame less).
asio::awaitable<bool> Session::Dispatch(const smtp::Command& c) {
  // RFC 3030 2: once BDAT started, only BDAT, RSET and QUIT (and NOOP) fit.
  if (in_bdat_ && c.verb != smtp::Verb::kBdat && c.verb != smtp::Verb::kRset && c.verb != smtp::Verb::kQuit &&
      c.verb != smtp::Verb::kNoop)
    return Error(503, "5.5.1", "BDAT in progress: send BDAT, RSET or QUIT");
  switch (c.verb) {
    case smtp::Verb::kEhlo:
    case smtp::Verb::kHelo: return Hello(c);
    case smtp::Verb::kStarttls: return CmdStartTls();
    case smtp::Verb::kAuth: return Auth(c);
    case smtp::Verb::kMail: return Mail(c);
    case smtp::Verb::kRcpt: return Rcpt(c);
    case smtp::Verb::kData: return Data();
    case smtp::Verb::kBdat: return Bdat(c);
    case smtp::Verb::kRset:
      ResetTransaction();
      return Reply(250, "2.0.0", "Ok");
    case smtp::Verb::kNoop: return Reply(250, "2.0.0", "Ok");
    case smtp::Verb::kVrfy: return Reply(252, "2.5.0", "Cannot VRFY user, but will accept message");
    case smtp::Verb::kExpn: return Error(502, "5.5.1", "EXPN is not available");
    case smtp::Verb::kEtrn:
      // RFC 1985: the outbound queue runner does not take ETRN yet.
      return Reply(458, "4.3.0", "Unable to queue messages for node: ETRN is not available yet");
    case smtp::Verb::kHelp: return Reply(214, "2.0.0", "See RFC 5321; docs/smtp.md");
    case smtp::Verb::kQuit:
      quit_ = true;
      return Reply(221, "2.0.0", "Bye");
    case smtp::Verb::kLhlo: return Error(500, "5.5.1", "This is an SMTP server: use EHLO");
    default: return Error(502, "5.5.1", "Command not implemented");
  }
}

asio::awaitable<bool> Session::Hello(const smtp::Command& c) {
  if (c.arg.empty()) co_return co_await Error(501, "5.5.4", "EHLO requires a domain or address literal");
  ResetTransaction();
  helo_ = c.arg;
  esmtp_ = c.verb == smtp::Verb::kEhlo;
  if (!esmtp_) co_return co_await Reply(250, "", ctx_.cfg.hostname);
  std::vector<std::string> lines = {ctx_.cfg.hostname, "PIPELINING", "SIZE " + std::to_string(ctx_.cfg.max_message_size),
                                    "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"};
  if (ctx_.tls && !Tls()) lines.push_back("STARTTLS");
  if (AuthAllowedHere() && auth_user_.empty()) {
    std::string mechs = "AUTH";
    for (const auto& m : ctx_.cfg.auth_mechanisms) mechs += " " + m;
    lines.push_back(mechs);
  }
  co_return co_await Send(smtp::FormatMultilineReply(250, "", lines));
}

// One result variable and one co_return: GCC 12 built a frame whose actor read
// `this` from an unwritten slot for the earlier shape of this coroutine (no
// parameters, no locals, `co_return co_await` in ifs).
asio::awaitable<bool> Session::CmdStartTls() {
  bool ok = false;
  if (Tls()) {
    ok = co_await Error(503, "5.5.1", "TLS already active");
  } else if (!ctx_.tls) {
    ok = co_await Error(502, "5.5.1", "STARTTLS not available");
  } else {
    ok = co_await Reply(220, "2.0.0", "Ready to start TLS");
    if (ok) ok = co_await Flush();
    if (ok) ok = co_await UpgradeToTls();
    // RFC 3207 4.2: forget everything learnt before TLS; the client starts over with EHLO.
    ResetTransaction();
    helo_.clear();
    esmtp_ = false;
  }
  co_return ok;
}

asio::awaitable<bool> Session::Mail(const smtp::Command& c) {
  if (helo_.empty()) co_return co_await Error(503, "5.5.1", "Send EHLO first");
  if (mail_from_) co_return co_await Error(503, "5.5.1", "Nested MAIL command");
  if (messages_ >= ctx_.cfg.max_messages) {
    Count("messages");
    co_await Reply(421, "4.7.0", "Too many messages in one session, closing connection");
    co_return false;
  }
  if (SubmissionPort() && auth_user_.empty()) {
    Count("auth_required");
    co_return co_await Error(530, "5.7.0", "Authentication required");
  }
  smtp::MailParamOptions opts;
  opts.max_size = ctx_.cfg.max_message_size;
  opts.smtputf8 = opts.dsn = opts.auth = esmtp_;
  auto params = smtp::ParseMailParams(c, opts);
  if (!params) {
    const auto& r = params.error().reply;
    if (!params.error().protocol_error) co_return co_await Reply(r.code, r.enhanced, r.text);
    co_return co_await Error(r.code, r.enhanced, r.text);
  }
  std::string sender = c.path.null ? std::string() : c.path.Address();
  if (!auth_user_.empty() && ctx_.cfg.sender_login_match && !sender.empty()) {
    auto owns = co_await OwnsAddress(sender);
    if (!owns) {
      Count("directory");
      co_return co_await Reply(451, "4.3.0", "Temporary directory failure, try again later");
    }
    if (!*owns) {
      Count("sender_mismatch");
      log::Info("sender not owned by user", {{"client", peer_}, {"user", auth_user_}});
      co_return co_await Error(553, "5.7.1", "Sender address rejected: not owned by the authenticated user");
    }
  }
  mail_from_ = std::move(sender);
  mail_params_ = std::move(*params);
  commands_ = 1;
  co_return co_await Reply(250, "2.1.0", "Ok");
}

asio::awaitable<Result<bool>> Session::OwnsAddress(const std::string& address) {
  auto base = BaseAddress(address);
  if (!base) co_return false;
  auto found = co_await ctx_.pool.Run([&]() { return ctx_.directory.Lookup(*base); });
  if (!found) co_return tl::unexpected(found.error());
  // Its own address or a real alias, not any address its catch-all would take.
  co_return found->has_value() && (*found)->address == auth_user_ && storage::IsOwnAddress(**found, *base);
}

asio::awaitable<Result<bool>> Session::PopBeforeSmtp() {
  if (pop_before_smtp_) co_return *pop_before_smtp_;
  if (!ctx_.cfg.pop_before_smtp || !ctx_.ephemeral || trusted_) co_return false;
  std::string ip = peer_;
  auto who = co_await ctx_.pool.Run([this, &ip]() { return ctx_.ephemeral->RecentLogin(ip); });
  // Fails closed (ephemeral.h): an error is "no record", counted, never relaying.
  if (!who) {
    Count("redis");
    co_return tl::unexpected(who.error());
  }
  pop_before_smtp_ = who->has_value();
  co_return *pop_before_smtp_;
}

asio::awaitable<bool> Session::Rcpt(const smtp::Command& c) {
  if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
  if (in_bdat_) co_return co_await Error(503, "5.5.1", "BDAT in progress");
  auto dsn = smtp::ParseRcptParams(c, esmtp_);
  if (!dsn) co_return co_await Error(dsn.error().reply.code, dsn.error().reply.enhanced, dsn.error().reply.text);
  if (recipients_.size() >= ctx_.cfg.max_recipients) co_return co_await Reply(452, "4.5.3", "Too many recipients");
  if (c.path.utf8 && !mail_params_.smtputf8)
    co_return co_await Error(553, "5.6.7", "Non-ASCII address needs SMTPUTF8 in MAIL FROM");
  std::string domain = Lower(c.path.domain);
  smtp::DomainClass cls = smtp::DomainClass::kOther;
  if (domain.empty()) {
    cls = smtp::DomainClass::kLocal;  // <postmaster>
  } else if (!c.path.address_literal) {
    auto local = co_await ctx_.pool.Run([&]() { return ctx_.directory.IsLocalDomain(domain); });
    if (!local) {
      Count("directory");
      co_return co_await Reply(451, "4.3.0", "Temporary directory failure, try again later");
    }
    if (*local) {
      cls = smtp::DomainClass::kLocal;
    } else if (std::find(ctx_.cfg.relay_domains.begin(), ctx_.cfg.relay_domains.end(), domain) !=
               ctx_.cfg.relay_domains.end()) {
      cls = smtp::DomainClass::kRelay;  // smtp.relay_domains: an addition to the directory's
    } else {
      auto relay = co_await ctx_.pool.Run([&]() { return ctx_.directory.IsRelayDomain(domain); });
      if (!relay) {
        Count("directory");
        co_return co_await Reply(451, "4.3.0", "Temporary directory failure, try again later");
      }
      if (*relay) cls = smtp::DomainClass::kRelay;
    }
  }
  smtp::RelayClient client;
  client.trusted_network = trusted_;
  client.authenticated = !auth_user_.empty();
  client.trusted_client_cert = !cert_user_.empty();
  auto decision = smtp::DecideRelay(client, c.path, cls);
  if (!decision.accepted() && !client.trusted_network && !client.authenticated && !client.trusted_client_cert) {
    // Only now, when nothing else grants relaying, ask Redis (fails closed).
    auto pbs = co_await PopBeforeSmtp();
    if (pbs && *pbs) {
      client.pop_before_smtp = true;
      decision = smtp::DecideRelay(client, c.path, cls);
    }
  }
  if (!decision.accepted()) {
    CountRcpt("refused");
    log::Info("relay refused", {{"client", peer_}, {"domain", domain}});
    co_return co_await Error(decision.reply().code, decision.reply().enhanced, decision.reply().text);
  }
  if (decision.relayed()) {
    // Another domain: queued after DATA for the outbound relay.
    CountRcpt(decision.reason());
    recipients_.push_back(Recipient{c.path.Address(), false, std::move(*dsn)});
    co_return co_await Reply(250, "2.1.5", "Ok");
  }
  std::string address = domain.empty() ? "postmaster" : c.path.Address();
  auto found = co_await LookupLocal(address);
  if (!found) {
    Count("directory");
    co_return co_await Reply(451, "4.3.0", "Temporary directory failure, try again later");
  }
  if (!*found) {
    CountRcpt("unknown_user");
    co_return co_await Error(550, "5.1.1", "No such user here");
  }
  CountRcpt(decision.reason());
  recipients_.push_back(Recipient{**found, true, std::move(*dsn)});
  co_return co_await Reply(250, "2.1.5", "Ok");
}

// The address lmtpd should be given for a local recipient (its own, an alias,
// or local+detail), or nullopt when no enabled account answers to it.
asio::awaitable<Result<std::optional<std::string>>> Session::LookupLocal(const std::string& address) {
  auto base = BaseAddress(address);
  if (!base) co_return std::optional<std::string>();
  auto found = co_await ctx_.pool.Run([&]() { return ctx_.directory.Lookup(*base); });
  if (!found) co_return tl::unexpected(found.error());
  if (!found->has_value() || !(*found)->enabled) co_return std::optional<std::string>();
  co_return std::optional<std::string>(address);
}

asio::awaitable<bool> Session::Data() {
  if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
  if (recipients_.empty()) co_return co_await Error(554, "5.5.1", "No valid recipients");
  co_await Reply(354, "", "End data with <CR><LF>.<CR><LF>");
  if (!co_await Flush()) co_return false;
  smtp::DataReader data(ctx_.cfg.max_message_size);
  for (;;) {
    net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_line - 2);
    Touch();
    if (line.eof) co_return false;  // nothing acknowledged: the client retries
    auto st = line.too_long ? data.FeedTooLong(line.bare_lf) : data.Feed(line.text, line.bare_lf);
    if (st == smtp::DataReader::Status::kDone) break;
  }
  ++messages_;  // every message that reached the end of DATA counts, whatever became of it
  if (data.over_size()) {
    ResetTransaction();
    ctx_.metrics.messages.Add({{"result", "rejected"}}).Increment();
    co_return co_await Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  if (data.had_overlong_line()) {
    ResetTransaction();
    ctx_.metrics.messages.Add({{"result", "rejected"}}).Increment();
    co_return co_await Reply(500, "5.5.2", "Line too long (RFC 5321: 1000 octets)");
  }
  const bool bare_lf = data.bare_lf_count() > 0;  // already stored as CRLF by the reader
  std::string body = data.TakeMessage();
  co_return co_await Finish(std::move(body), bare_lf);
}

asio::awaitable<bool> Session::Bdat(const smtp::Command& c) {
  // The chunk is read whatever happens, so the session stays in step (RFC 3030 2).
  uint64_t size = c.chunk_size;
  const bool keep = mail_from_ && !recipients_.empty() && !bdat_over_size_;
  bool ok = co_await reader_.ReadExact(size, [&](std::string_view piece) {
    Touch();
    if (!keep || bdat_over_size_) return;
    if (bdat_body_.size() + piece.size() > ctx_.cfg.max_message_size) {
      bdat_over_size_ = true;
      bdat_body_.clear();
      bdat_body_.shrink_to_fit();
      return;
    }
    bdat_body_.append(piece);
  });
  if (!ok) co_return false;  // nothing acknowledged
  if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
  if (recipients_.empty()) {
    ResetTransaction();
    co_return co_await Error(554, "5.5.1", "No valid recipients");
  }
  in_bdat_ = true;
  if (!c.last) {
    co_return co_await Reply(250, "2.0.0", std::to_string(size) + " octets received");
  }
  ++messages_;
  if (bdat_over_size_) {
    ResetTransaction();
    ctx_.metrics.messages.Add({{"result", "rejected"}}).Increment();
    co_return co_await Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  std::string body = std::move(bdat_body_);
  co_return co_await Finish(std::move(body), false);
}

// The end of a message (DATA or BDAT LAST): line ends, Received:, delivery.
asio::awaitable<bool> Session::Finish(std::string body, bool had_bare_lf) {
  busy_ = true;  // delivering: the client waits for us, it is not idle
  bool ok = co_await Deliver(std::move(body), had_bare_lf);
  busy_ = false;
  Touch();
  co_return ok;
}

asio::awaitable<bool> Session::Deliver(std::string body, bool had_bare_lf) {
  // SMTP smuggling defence: the message already ended only at <CRLF>.<CRLF>
  // (DATA) or at its declared length (BDAT); bare CR/LF left inside are
  // normalised to CRLF or, when configured, the message is refused.
  if (had_bare_lf || HasBareLineEnds(body)) {
    Count("bare_line_end");
    if (ctx_.cfg.reject_bare_line_ends) {
      ResetTransaction();
      ctx_.metrics.messages.Add({{"result", "rejected"}}).Increment();
      co_return co_await Reply(550, "5.5.2", "Message contains bare CR or LF (RFC 5321 2.3.8)");
    }
    body = NormalizeLineEnds(body);
  }
  if (!body.empty() && (body.size() < 2 || body.compare(body.size() - 2, 2, "\r\n") != 0)) body += "\r\n";
  std::string received = "Received: from " + smtp::SanitizeReplyText(helo_) + " ([" + peer_ + "])\r\n\tby " +
                         ctx_.cfg.hostname + " (Columba) with " + ProtocolName();
  if (Tls()) received += " (" + stream_.TlsDescription() + ")";
  if (!auth_user_.empty()) received += "\r\n\t(authenticated as " + smtp::SanitizeReplyText(auth_user_) + ")";
  received += ";\r\n\t" + RfcDate() + "\r\n";
  std::string message = received + body;
  // Local recipients: to lmtpd now. Remote ones, and local ones lmtpd cannot
  // take now, into the durable queue; 250 only when each is one or the other.
  std::vector<std::string> local_addresses;
  std::vector<const Recipient*> locals, queued;
  for (const auto& r : recipients_) {
    if (r.local) {
      locals.push_back(&r);
      local_addresses.push_back(r.address);
    } else {
      queued.push_back(&r);
    }
  }
  std::string sender = *mail_from_;
  const bool utf8 = mail_params_.smtputf8;
  std::vector<smtp::Reply> replies;
  if (!locals.empty())
    replies = co_await HandOffToLmtp(ctx_.cfg.lmtp_host, ctx_.cfg.lmtp_port, ctx_.cfg.hostname, sender,
                                     local_addresses, message, ctx_.cfg.lmtp_timeout, utf8);
  size_t delivered = 0, failed = 0;
  std::string first_failure = "5.0.0";
  std::vector<smtp::FailedRecipient> notify;  // failed after the message; the sender wants to know
  for (size_t i = 0; i < locals.size(); ++i) {
    const smtp::Reply& r = replies[i];
    if (r.code == 250) {
      ++delivered;
    } else if (r.code >= 500) {
      if (failed++ == 0 && !r.enhanced.empty()) first_failure = r.enhanced;
      if (smtp::WantsFailureNotice(sender, locals[i]->dsn.notify))
        notify.push_back({locals[i]->address, locals[i]->dsn.orcpt, r.enhanced.empty() ? "5.0.0" : r.enhanced,
                          std::to_string(r.code) + " " + r.enhanced + " " + r.text});
    } else {
      queued.push_back(locals[i]);  // lmtpd busy or down: the runner retries
    }
  }
  if (queued.empty() && failed == recipients_.size()) {
    ResetTransaction();
    ctx_.metrics.messages.Add({{"result", "rejected"}}).Increment();
    co_return co_await Reply(554, first_failure, "Delivery failed permanently");
  }
  if (failed > 0) {
    // Accepted for the others: the sender learns of these from a failure notice
    // (RFC 3464), queued before the 250 like the message itself.
    ctx_.metrics.recipients.Add({{"result", "failed_after_data"}}).Increment(static_cast<double>(failed));
    auto noticed = co_await EnqueueFailureNotice(ctx_.queue, sender, mail_params_.envid, mail_params_.ret,
                                                 std::time(nullptr), std::move(notify), message, peer_);
    if (!noticed) {
      ResetTransaction();
      Count("queue");
      ctx_.metrics.messages.Add({{"result", "deferred"}}).Increment();
      log::Warn("failure notice not queued", {{"client", peer_}, {"error", noticed.error().message}});
      co_return co_await Reply(451, "4.3.0", "Queue unavailable, try again later");
    }
  }
  std::string queue_id;
  if (!queued.empty()) {
    v1::EnqueueRequest req;
    req.set_sender(sender);
    req.set_envid(mail_params_.envid);
    req.set_ret(mail_params_.ret);
    req.set_smtputf8(utf8);
    req.set_body(mail_params_.body);
    req.set_client_ip(peer_);
    req.set_helo(smtp::SanitizeReplyText(helo_));
    req.set_auth_user(auth_user_);
    for (const Recipient* r : queued) {
      auto* q = req.add_recipients();
      q->set_address(r->address);
      q->set_route(r->local ? v1::ROUTE_LOCAL : v1::ROUTE_REMOTE);
      q->set_notify(r->dsn.notify);
      q->set_orcpt(r->dsn.orcpt);
    }
    auto id = co_await EnqueueMessage(ctx_.queue, std::move(req), message);
    if (!id) {
      ResetTransaction();
      Count("queue");
      ctx_.metrics.messages.Add({{"result", "deferred"}}).Increment();
      log::Warn("enqueue failed", {{"client", peer_}, {"error", id.error().message}});
      co_return co_await Reply(451, "4.3.0", "Queue unavailable, try again later");
    }
    queue_id = *id;
  }
  ResetTransaction();
  if (queue_id.empty()) {
    ctx_.metrics.messages.Add({{"result", "delivered"}}).Increment();
    co_return co_await Reply(250, "2.0.0", "Ok: delivered");
  }
  ctx_.metrics.messages.Add({{"result", delivered > 0 ? "delivered_and_queued" : "queued"}}).Increment();
  log::Info("queued", {{"client", peer_}, {"queue_id", queue_id}});
  co_return co_await Reply(250, "2.0.0", "Ok: queued as " + queue_id);
}

asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip, PortKind kind) {
  ctx.runtime.SessionStarted();
  ctx.metrics.sessions.Add({{"port", PortName(kind)}}).Increment();
  ctx.metrics.sessions_active.Increment();
  // The real client behind a trusted load balancer (PROXY) and the connection
  // limit per address; every decision after this (trust, relaying) uses a.client_ip.
  net::AdmissionRules rules{ctx.proxy_networks, ctx.cfg.proxy_timeout, ctx.trusted, ctx.conn_limits,
                            ctx.cfg.max_connections_per_ip};
  net::Admission a = co_await net::AdmitConnection(socket, std::move(peer_ip), rules);
  if (a.admitted) {
    Session s(ctx, std::move(socket), std::move(a.client_ip), kind);
    co_await s.Run();
  } else {
    ctx.metrics.errors.Add({{"kind", a.refusal}}).Increment();
    log::Info("connection refused", {{"client", a.client_ip}, {"reason", a.refusal}, {"error", a.detail}});
    if (std::string_view(a.refusal) == "ip_limit" && kind != PortKind::kSubmissions) {
      const std::string bye = smtp::FormatReply(421, "4.7.0", "Too many connections from your address");
      co_await asio::async_write(socket, asio::buffer(bye), kNoThrow);
    }
    asio::error_code ignored;
    socket.close(ignored);
  }
  ctx.metrics.sessions_active.Decrement();
  ctx.runtime.SessionEnded();
}

}  // namespace columba::smtpd
