// session.cc - the SMTP dialogue on the MX port (session.h, docs/smtp.md).
#include "services/smtpd/session.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "lib/base/log.h"
#include "lib/net/line_reader.h"
#include "lib/smtp/command.h"
#include "lib/smtp/data_reader.h"
#include "lib/smtp/relay_policy.h"
#include "lib/smtp/reply.h"
#include "services/smtpd/lmtp_handoff.h"

namespace columba::smtpd {

using net::kNoThrow;

SmtpMetrics::SmtpMetrics(prometheus::Registry& r)
    : sessions(prometheus::BuildCounter().Name("columba_smtpd_sessions_total").Help("SMTP sessions accepted").Register(r)),
      commands(prometheus::BuildCounter().Name("columba_smtpd_commands_total").Help("SMTP commands by verb").Register(r)),
      recipients(prometheus::BuildCounter().Name("columba_smtpd_recipients_total").Help("RCPT results: the relay policy's reason (local, trusted_network, ...), refused, unknown_user, unavailable").Register(r)),
      messages(prometheus::BuildCounter().Name("columba_smtpd_messages_total").Help("Messages after DATA by result: delivered, deferred (4xx), rejected (5xx)").Register(r)),
      errors(prometheus::BuildCounter().Name("columba_smtpd_errors_total").Help("Protocol and dependency errors by kind").Register(r)),
      active(prometheus::BuildGauge().Name("columba_smtpd_sessions_active").Help("Open SMTP sessions").Register(r)),
      sessions_total(sessions.Add({})),
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

class Session {
 public:
  Session(ServerContext& ctx, asio::ip::tcp::socket& sock, std::string peer)
      : ctx_(ctx), sock_(sock), reader_(sock), peer_(std::move(peer)), idle_(sock.get_executor()),
        trusted_(ctx.trusted.Contains(peer_)) {}

  asio::awaitable<void> Run() {
    if (!co_await Reply(220, "", ctx_.cfg.hostname + " ESMTP Columba")) co_return;
    while (!quit_) {
      ArmIdleTimer();
      // RFC 5321 4.5.3.1.4: 512 octets per command line; 1000 tolerated as for text.
      net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_line - 2);
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
    idle_.cancel();
  }

 private:
  void Count(const char* kind) { ctx_.metrics.errors.Add({{"kind", kind}}).Increment(); }
  void CountRcpt(std::string_view result) {
    ctx_.metrics.recipients.Add({{"result", std::string(result)}}).Increment();
  }

  void ArmIdleTimer() {
    idle_.expires_after(ctx_.cfg.idle_timeout);
    idle_.async_wait([this](asio::error_code ec) {
      if (ec) return;
      timed_out_ = true;
      asio::error_code ignored;
      sock_.cancel(ignored);
    });
  }

  asio::awaitable<bool> Send(std::string text) {
    auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(text), kNoThrow);
    co_return !ec;
  }
  asio::awaitable<bool> Reply(int code, std::string_view enhanced, std::string_view text) {
    co_return co_await Send(smtp::FormatReply(code, enhanced, text));
  }
  asio::awaitable<bool> Error(int code, std::string_view enhanced, std::string_view text) {
    if (++errors_ > ctx_.cfg.max_errors) {
      co_await Reply(421, "4.7.0", "Too many errors, closing connection");
      co_return false;
    }
    co_return co_await Reply(code, enhanced, text);
  }

  void ResetTransaction() {
    mail_from_.reset();
    recipients_.clear();
  }

  asio::awaitable<bool> Dispatch(const smtp::Command& c) {
    switch (c.verb) {
      case smtp::Verb::kEhlo:
      case smtp::Verb::kHelo: co_return co_await Hello(c);
      case smtp::Verb::kMail: co_return co_await Mail(c);
      case smtp::Verb::kRcpt: co_return co_await Rcpt(c);
      case smtp::Verb::kData: co_return co_await Data();
      case smtp::Verb::kRset:
        ResetTransaction();
        co_return co_await Reply(250, "2.0.0", "Ok");
      case smtp::Verb::kNoop: co_return co_await Reply(250, "2.0.0", "Ok");
      case smtp::Verb::kVrfy: co_return co_await Reply(252, "2.5.0", "Cannot VRFY user, but will accept message");
      case smtp::Verb::kHelp: co_return co_await Reply(214, "2.0.0", "See RFC 5321; docs/smtp.md");
      case smtp::Verb::kQuit:
        quit_ = true;
        co_await Reply(221, "2.0.0", "Bye");
        co_return false;
      case smtp::Verb::kLhlo: co_return co_await Error(500, "5.5.1", "This is an SMTP server: use EHLO");
      default: co_return co_await Error(502, "5.5.1", "Command not implemented");
    }
  }

  asio::awaitable<bool> Hello(const smtp::Command& c) {
    if (c.arg.empty()) co_return co_await Error(501, "5.5.4", "EHLO requires a domain or address literal");
    ResetTransaction();
    helo_ = c.arg;
    if (c.verb == smtp::Verb::kHelo) co_return co_await Reply(250, "", ctx_.cfg.hostname);
    std::vector<std::string> lines = {ctx_.cfg.hostname, "PIPELINING", "SIZE " + std::to_string(ctx_.cfg.max_message_size),
                                      "8BITMIME", "ENHANCEDSTATUSCODES"};
    co_return co_await Send(smtp::FormatMultilineReply(250, "", lines));
  }

  asio::awaitable<bool> Mail(const smtp::Command& c) {
    if (helo_.empty()) co_return co_await Error(503, "5.5.1", "Send EHLO first");
    if (mail_from_) co_return co_await Error(503, "5.5.1", "Nested MAIL command");
    if (messages_ >= ctx_.cfg.max_messages) {
      Count("messages");
      co_await Reply(421, "4.7.0", "Too many messages in one session, closing connection");
      co_return false;
    }
    if (auto refused = smtp::CheckMailParams(c, ctx_.cfg.max_message_size)) {
      const auto& r = refused->reply;
      if (!refused->protocol_error) co_return co_await Reply(r.code, r.enhanced, r.text);
      co_return co_await Error(r.code, r.enhanced, r.text);
    }
    if (c.path.utf8) co_return co_await Error(553, "5.6.7", "SMTPUTF8 is not supported yet");
    mail_from_ = c.path.null ? std::string() : c.path.Address();
    commands_ = 1;
    co_return co_await Reply(250, "2.1.0", "Ok");
  }

  asio::awaitable<bool> Rcpt(const smtp::Command& c) {
    if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
    if (!c.params.empty()) co_return co_await Error(555, "5.5.4", "Unsupported RCPT parameter");
    if (recipients_.size() >= ctx_.cfg.max_recipients) co_return co_await Reply(452, "4.5.3", "Too many recipients");
    if (c.path.utf8) co_return co_await Error(553, "5.6.7", "SMTPUTF8 is not supported yet");
    // The domain's class from the directory (relay_domains from config until the directory has them).
    std::string domain = c.path.domain;
    for (char& ch : domain) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    smtp::DomainClass cls = smtp::DomainClass::kOther;
    if (domain.empty()) {
      cls = smtp::DomainClass::kLocal;  // <postmaster>
    } else if (!c.path.address_literal) {
      auto local = co_await ctx_.pool.Run([&]() { return ctx_.directory.IsLocalDomain(domain); });
      if (!local) {
        Count("directory");
        co_return co_await Reply(451, "4.3.0", "Temporary directory failure, try again later");
      }
      if (*local) cls = smtp::DomainClass::kLocal;
      else if (std::find(ctx_.cfg.relay_domains.begin(), ctx_.cfg.relay_domains.end(), domain) !=
               ctx_.cfg.relay_domains.end())
        cls = smtp::DomainClass::kRelay;
    }
    smtp::RelayClient client;
    client.trusted_network = trusted_;
    auto decision = smtp::DecideRelay(client, c.path, cls);
    if (!decision.accepted()) {
      CountRcpt("refused");
      log::Info("relay refused", {{"client", peer_}, {"domain", domain}});
      co_return co_await Error(decision.reply().code, decision.reply().enhanced, decision.reply().text);
    }
    if (decision.relayed()) {
      // The outbound queue is not built yet (issue 5): nothing may be accepted
      // for another domain, since it could not be kept; the sender retries.
      CountRcpt("unavailable");
      co_return co_await Reply(451, "4.3.2", "Relaying is not available yet, try again later");
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
    recipients_.push_back(**found);
    co_return co_await Reply(250, "2.1.5", "Ok");
  }

  // The address lmtpd should be given for a local recipient (its own, an alias,
  // or local+detail), or nullopt when no enabled account answers to it.
  asio::awaitable<Result<std::optional<std::string>>> LookupLocal(const std::string& address) {
    auto normalized = storage::NormalizeAsciiAddress(address);
    if (!normalized) co_return std::optional<std::string>();
    std::string base = *normalized;
    auto at = base.find('@');
    if (auto plus = base.find('+'); plus != std::string::npos && plus < at && plus > 0)
      base = base.substr(0, plus) + base.substr(at);
    auto found = co_await ctx_.pool.Run([&]() { return ctx_.directory.Lookup(base); });
    if (!found) co_return tl::unexpected(found.error());
    if (!found->has_value() || !(*found)->enabled) co_return std::optional<std::string>();
    co_return std::optional<std::string>(address);
  }

  asio::awaitable<bool> Data() {
    if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
    if (recipients_.empty()) co_return co_await Error(554, "5.5.1", "No valid recipients");
    if (!co_await Reply(354, "", "End data with <CR><LF>.<CR><LF>")) co_return false;
    smtp::DataReader data(ctx_.cfg.max_message_size);
    for (;;) {
      ArmIdleTimer();
      net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_line - 2);
      if (line.eof) co_return false;  // nothing acknowledged: the client retries
      auto st = line.too_long ? data.FeedTooLong(line.bare_lf) : data.Feed(line.text, line.bare_lf);
      if (st == smtp::DataReader::Status::kDone) break;
    }
    idle_.cancel();
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
    std::string message = "Received: from " + smtp::SanitizeReplyText(helo_) + " ([" + peer_ + "])\r\n\tby " +
                          ctx_.cfg.hostname + " (Columba) with ESMTP;\r\n\t" + RfcDate() + "\r\n" + data.TakeMessage();
    auto replies = co_await HandOffToLmtp(ctx_.cfg.lmtp_host, ctx_.cfg.lmtp_port, ctx_.cfg.hostname, *mail_from_,
                                          recipients_, message, ctx_.cfg.lmtp_timeout);
    ResetTransaction();
    const bool all_ok = std::all_of(replies.begin(), replies.end(), [](const auto& r) { return r.code == 250; });
    const bool all_permanent =
        std::all_of(replies.begin(), replies.end(), [](const auto& r) { return r.code >= 500; });
    if (all_ok) {
      ctx_.metrics.messages.Add({{"result", "delivered"}}).Increment();
      co_return co_await Reply(250, "2.0.0", "Ok: delivered");
    }
    if (all_permanent) {
      ctx_.metrics.messages.Add({{"result", "rejected"}}).Increment();
      const auto& r = replies.front();
      co_return co_await Reply(554, r.enhanced.empty() ? "5.0.0" : r.enhanced, "Delivery failed permanently");
    }
    // Some recipients are not (yet) delivered and there is no queue to keep the
    // message: the sender retries (a recipient already delivered may get it twice).
    ctx_.metrics.messages.Add({{"result", "deferred"}}).Increment();
    log::Warn("delivery deferred", {{"client", peer_}});
    co_return co_await Reply(451, "4.3.0", "Local delivery did not complete, try again later");
  }

  ServerContext& ctx_;
  asio::ip::tcp::socket& sock_;
  net::LineReader<asio::ip::tcp::socket> reader_;
  std::string peer_;
  asio::steady_timer idle_;
  const bool trusted_;
  std::string helo_;
  bool quit_ = false;
  bool timed_out_ = false;
  int errors_ = 0;
  size_t messages_ = 0;  // ended DATA in this session
  size_t commands_ = 0;  // in the current transaction
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::optional<std::string> mail_from_;
  std::vector<std::string> recipients_;
};

}  // namespace

asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip) {
  ctx.runtime.SessionStarted();
  ctx.metrics.sessions_total.Increment();
  ctx.metrics.sessions_active.Increment();
  // Connections per client address (trusted networks exempt): refused at once.
  std::optional<net::ConnectionSlot> slot;
  const bool limited = !ctx.trusted.Contains(peer_ip);
  if (limited) slot = ctx.conn_limits.Acquire(net::ConnectionLimits::kIp, peer_ip, ctx.cfg.max_connections_per_ip);
  if (limited && !slot) {
    ctx.metrics.errors.Add({{"kind", "ip_limit"}}).Increment();
    const std::string bye = smtp::FormatReply(421, "4.7.0", "Too many connections from your address");
    co_await asio::async_write(socket, asio::buffer(bye), kNoThrow);
  } else {
    Session s(ctx, socket, std::move(peer_ip));
    co_await s.Run();
  }
  asio::error_code ignored;
  socket.close(ignored);
  ctx.metrics.sessions_active.Decrement();
  ctx.runtime.SessionEnded();
}

}  // namespace columba::smtpd
