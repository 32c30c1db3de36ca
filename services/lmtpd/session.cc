// session.cc - the LMTP dialogue: LHLO, MAIL, RCPT, DATA (one reply per
// recipient), RSET, NOOP, VRFY, QUIT. See docs/lmtp.md for codes and limits.
#include "services/lmtpd/session.h"

#include <asio/local/stream_protocol.hpp>

#include <vector>

#include "lib/base/log.h"
#include "lib/net/line_reader.h"
#include "lib/smtp/command.h"
#include "lib/smtp/esmtp_params.h"
#include "lib/smtp/data_reader.h"
#include "lib/smtp/reply.h"

namespace columba::lmtpd {

using net::kNoThrow;

LmtpMetrics::LmtpMetrics(prometheus::Registry& r)
    : sessions(prometheus::BuildCounter().Name("columba_lmtpd_sessions_total").Help("LMTP sessions accepted").Register(r)),
      commands(prometheus::BuildCounter().Name("columba_lmtpd_commands_total").Help("LMTP commands by verb").Register(r)),
      deliveries(prometheus::BuildCounter().Name("columba_lmtpd_deliveries_total").Help("Per-recipient delivery results: delivered, quota, temporary, rejected, unknown_user").Register(r)),
      bytes(prometheus::BuildCounter().Name("columba_lmtpd_received_bytes_total").Help("Message octets received in DATA").Register(r)),
      errors(prometheus::BuildCounter().Name("columba_lmtpd_errors_total").Help("Protocol and dependency errors by kind").Register(r)),
      latency(prometheus::BuildHistogram().Name("columba_lmtpd_delivery_seconds").Help("Time from end of DATA to the last recipient reply").Register(r)),
      active(prometheus::BuildGauge().Name("columba_lmtpd_sessions_active").Help("Open LMTP sessions").Register(r)),
      sessions_total(sessions.Add({})),
      bytes_total(bytes.Add({})),
      delivery_seconds(latency.Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
      sessions_active(active.Add({})) {}

namespace {

template <class Socket>
class Session {
 public:
  Session(ServerContext& ctx, Socket& sock, std::string peer)
      : ctx_(ctx), sock_(sock), reader_(sock), peer_(std::move(peer)), idle_(sock.get_executor()) {}

  asio::awaitable<void> Run() {
    if (!co_await Send(smtp::FormatReply(220, "", ctx_.cfg.hostname + " LMTP Columba ready"))) co_return;
    Touch();
    idle_.expires_after(ctx_.cfg.idle_timeout);
    WatchIdle();
    while (!quit_) {
      net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_command_line);
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
      // Draining: a transaction in progress may finish; anything else but QUIT gets 421.
      if (ctx_.runtime.draining() && !in_transaction() && !(cmd && cmd->verb == smtp::Verb::kQuit)) {
        co_await Send(smtp::FormatReply(421, "4.3.2", ctx_.cfg.hostname + " shutting down, try again later"));
        break;
      }
      if (!cmd) {
        Count("syntax");
        auto r = smtp::ReplyForSyntaxError(cmd.error());
        if (!co_await Error(r.code, r.enhanced, r.text)) break;
        continue;
      }
      ctx_.metrics.commands.Add({{"verb", smtp::VerbName(cmd->verb)}}).Increment();
      bool ok = co_await Dispatch(*cmd);
      if (!ok) break;
    }
    idle_.cancel();
  }

 private:
  bool in_transaction() const { return mail_from_.has_value(); }

  void Count(const char* kind) { ctx_.metrics.errors.Add({{"kind", kind}}).Increment(); }

  // One timer per session, not one per line (a 10 KB message is ~150 lines):
  // reads only note the time (Touch); the timer re-arms itself until the client
  // has really been silent for idle_timeout while the session waited for it.
  void Touch() { last_activity_ = std::chrono::steady_clock::now(); }
  void WatchIdle() {
    idle_.async_wait([this](asio::error_code ec) {
      if (ec) return;
      auto due = last_activity_ + ctx_.cfg.idle_timeout;
      if (busy_ || std::chrono::steady_clock::now() < due) {
        idle_.expires_at(busy_ ? std::chrono::steady_clock::now() + ctx_.cfg.idle_timeout : due);
        WatchIdle();
        return;
      }
      // Abort the pending read; the dialogue then answers 421 and closes.
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

  // A protocol error: reply, and close with 421 when the client keeps erring.
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
      case smtp::Verb::kLhlo: co_return co_await Lhlo(c);
      case smtp::Verb::kMail: co_return co_await Mail(c);
      case smtp::Verb::kRcpt: co_return co_await Rcpt(c);
      case smtp::Verb::kData: co_return co_await Data();
      case smtp::Verb::kRset:
        ResetTransaction();
        co_return co_await Reply(250, "2.0.0", "Ok");
      case smtp::Verb::kNoop: co_return co_await Reply(250, "2.0.0", "Ok");
      case smtp::Verb::kVrfy: co_return co_await Reply(252, "2.5.0", "Cannot VRFY user, but will accept message");
      case smtp::Verb::kQuit:
        quit_ = true;
        co_await Reply(221, "2.0.0", "Bye");
        co_return false;
      case smtp::Verb::kHelo:
      case smtp::Verb::kEhlo:
        co_return co_await Error(500, "5.5.1", "This is an LMTP server: use LHLO");
      default: co_return co_await Error(502, "5.5.1", "Command not implemented");
    }
  }

  asio::awaitable<bool> Lhlo(const smtp::Command& c) {
    if (c.arg.empty()) co_return co_await Error(501, "5.5.4", "LHLO requires a domain");
    ResetTransaction();
    greeted_ = true;
    std::vector<std::string> lines = {ctx_.cfg.hostname, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME",
                                      "SMTPUTF8", "SIZE " + std::to_string(ctx_.cfg.max_message_size)};
    co_return co_await Send(smtp::FormatMultilineReply(250, "", lines));
  }

  asio::awaitable<bool> Mail(const smtp::Command& c) {
    if (!greeted_) co_return co_await Error(503, "5.5.1", "Send LHLO first");
    if (mail_from_) co_return co_await Error(503, "5.5.1", "Nested MAIL command");
    // RFC 6531: a UTF-8 sender (e.g. relayed by smtpd) with SMTPUTF8; the
    // mailbox owner's address itself stays ASCII (the directory's rule).
    smtp::MailParamOptions options;
    options.max_size = ctx_.cfg.max_message_size;
    options.smtputf8 = true;
    auto params = smtp::ParseMailParams(c, options);
    if (!params) {
      const auto& r = params.error().reply;
      if (!params.error().protocol_error) co_return co_await Reply(r.code, r.enhanced, r.text);
      co_return co_await Error(r.code, r.enhanced, r.text);
    }
    mail_from_ = c.path.null ? std::string() : c.path.Address();
    co_return co_await Reply(250, "2.1.0", "Ok");
  }

  asio::awaitable<bool> Rcpt(const smtp::Command& c) {
    if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
    if (!c.params.empty()) co_return co_await Error(555, "5.5.4", "Unsupported RCPT parameter " + c.params[0].key);
    if (recipients_.size() >= ctx_.cfg.max_recipients)
      co_return co_await Reply(452, "4.5.3", "Too many recipients");
    // Mailboxes have ASCII addresses (the directory's rule): a UTF-8 recipient is refused permanently.
    if (c.path.utf8) co_return co_await Error(553, "5.6.7", "No mailbox has a non-ASCII address here");
    auto addr = storage::NormalizeAddress(c.path.Address());
    if (!addr) co_return co_await Error(501, "5.1.3", "Bad recipient address syntax");
    // +detail: deliver to the folder named by the detail when it exists.
    std::string lookup = *addr, mailbox = "INBOX";
    const auto& delim = ctx_.cfg.recipient_delimiter;
    if (!delim.empty()) {
      auto at = lookup.find('@');
      auto d = lookup.substr(0, at).find(delim);
      if (d != std::string::npos && d > 0) {
        mailbox = c.path.Address().substr(d + delim.size(), at - d - delim.size());  // keep the sender's case
        lookup = lookup.substr(0, d) + lookup.substr(at);
        if (mailbox.empty()) mailbox = "INBOX";
      }
    }
    auto found = co_await ctx_.delivery.pool.Run([&]() { return ctx_.directory.Lookup(lookup); });
    if (!found && found.error().kind == ErrorKind::kInvalidInput)
      co_return co_await Error(550, "5.1.3", "Recipient address is not valid here");
    if (!found) {
      Count("directory");
      log::Warn("directory lookup failed", {{"error", found.error().message}});
      co_return co_await Reply(451, "4.3.0", "Temporary directory failure, try again later");
    }
    if (!found->has_value()) {
      ctx_.metrics.deliveries.Add({{"result", "unknown_user"}}).Increment();
      co_return co_await Error(550, "5.1.1", "No such user here");
    }
    if (!(*found)->enabled) co_return co_await Reply(550, "5.2.1", "Mailbox disabled");
    recipients_.push_back(Recipient{*addr, mailbox, std::move(**found)});
    co_return co_await Reply(250, "2.1.5", "Ok");
  }

  asio::awaitable<bool> Data() {
    if (!mail_from_) co_return co_await Error(503, "5.5.1", "Need MAIL command first");
    if (recipients_.empty()) co_return co_await Error(503, "5.5.1", "No valid recipients");
    if (!co_await Reply(354, "", "Start mail input; end with <CRLF>.<CRLF>")) co_return false;
    smtp::DataReader data(ctx_.cfg.max_message_size);
    for (;;) {
      net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_data_line);
      Touch();
      if (line.eof) co_return false;  // nothing acknowledged: the client retries
      auto st = line.too_long ? data.FeedTooLong(line.bare_lf) : data.Feed(line.text, line.bare_lf);
      if (st == smtp::DataReader::Status::kDone) break;
    }
    // Storing the copies is bounded by metad.deadline per copy, not by the idle timeout.
    busy_ = true;
    auto started = std::chrono::steady_clock::now();
    ctx_.metrics.bytes_total.Increment(static_cast<double>(data.size()));
    std::string reply;
    auto all = [&](int code, std::string_view enh, std::string_view text) {
      for (size_t i = 0; i < recipients_.size(); ++i) reply += smtp::FormatReply(code, enh, text);
    };
    if (data.over_size()) {
      Count("over_size");
      all(552, "5.3.4", "Message size exceeds fixed maximum message size");
    } else if (data.had_overlong_line()) {
      Count("line_too_long");
      all(554, "5.6.0", "Message has a line longer than " + std::to_string(ctx_.cfg.max_data_line) + " octets");
    } else {
      auto prepared = PrepareMessage(data.TakeMessage());
      if (!prepared) {
        Count("malformed");
        all(554, "5.6.0", "Message rejected: " + prepared.error().message);
      } else {
        reply = co_await DeliverAll(**prepared);
      }
    }
    ctx_.metrics.delivery_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    ResetTransaction();
    busy_ = false;
    Touch();
    co_return co_await Send(std::move(reply));
  }

  // Delivers every recipient's copy, up to max_parallel_copies at once, and
  // returns their replies in RCPT order (RFC 2033 4.2).
  asio::awaitable<std::string> DeliverAll(const PreparedMessage& msg) {
    std::vector<DeliveryResult> results(recipients_.size(), DeliveryResult{Outcome::kTemporary, "not attempted"});
    auto ex = co_await asio::this_coro::executor;
    size_t next = 0;
    while (next < recipients_.size()) {
      size_t batch_end = std::min(recipients_.size(), next + ctx_.cfg.max_parallel_copies);
      size_t remaining = batch_end - next;
      asio::steady_timer done(ex, std::chrono::steady_clock::time_point::max());
      for (size_t i = next; i < batch_end; ++i) {
        asio::co_spawn(
            ex,
            [&, i]() -> asio::awaitable<void> {
              results[i] = co_await DeliverToMailbox(ctx_.delivery, msg, *mail_from_, recipients_[i]);
              if (--remaining == 0) done.cancel();
            },
            asio::detached);
      }
      // Copies that finished without suspending have already counted down (the
      // strand serialises all of this, so the check and the wait cannot race).
      if (remaining > 0) co_await done.async_wait(kNoThrow);
      next = batch_end;
    }
    std::string out;
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      switch (r.outcome) {
        case Outcome::kDelivered:
          ctx_.metrics.deliveries.Add({{"result", "delivered"}}).Increment();
          out += smtp::FormatReply(250, "2.0.0", "<" + recipients_[i].address + "> delivered to " + r.detail);
          break;
        case Outcome::kQuotaExceeded:
          ctx_.metrics.deliveries.Add({{"result", "quota"}}).Increment();
          out += smtp::FormatReply(552, "5.2.2", "<" + recipients_[i].address + "> Mailbox full: quota exceeded");
          break;
        case Outcome::kRejected:
          ctx_.metrics.deliveries.Add({{"result", "rejected"}}).Increment();
          out += smtp::FormatReply(554, "5.6.0", "<" + recipients_[i].address + "> Message rejected");
          break;
        case Outcome::kTemporary:
          ctx_.metrics.deliveries.Add({{"result", "temporary"}}).Increment();
          log::Warn("delivery failed temporarily", {{"rcpt", recipients_[i].address}, {"error", r.detail}});
          out += smtp::FormatReply(451, "4.3.0", "<" + recipients_[i].address + "> Temporary failure, try again later");
          break;
      }
    }
    co_return out;
  }

  ServerContext& ctx_;
  Socket& sock_;
  net::LineReader<Socket> reader_;
  std::string peer_;
  asio::steady_timer idle_;
  bool greeted_ = false;
  bool quit_ = false;
  bool timed_out_ = false;
  bool busy_ = false;  // storing a message: the client waits for us, it is not idle
  std::chrono::steady_clock::time_point last_activity_;
  int errors_ = 0;
  std::optional<std::string> mail_from_;
  std::vector<Recipient> recipients_;
};

}  // namespace

template <class Socket>
asio::awaitable<void> RunSession(ServerContext& ctx, Socket socket, std::string peer) {
  ctx.runtime.SessionStarted();
  ctx.metrics.sessions_total.Increment();
  ctx.metrics.sessions_active.Increment();
  {
    Session<Socket> s(ctx, socket, peer);
    co_await s.Run();
  }
  asio::error_code ignored;
  socket.close(ignored);
  ctx.metrics.sessions_active.Decrement();
  ctx.runtime.SessionEnded();
}

template asio::awaitable<void> RunSession(ServerContext&, asio::ip::tcp::socket, std::string);
template asio::awaitable<void> RunSession(ServerContext&, asio::local::stream_protocol::socket, std::string);

}  // namespace columba::lmtpd
