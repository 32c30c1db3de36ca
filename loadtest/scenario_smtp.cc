// scenario_smtp.cc - NAME
//   the `smtp` scenario: sessions that send messages to local recipients over
//   SMTP (RFC 5321), the way an MTA hands mail to an MX.
//
// SYNOPSIS
//   columba-load smtp --target 127.0.0.1:2525 --sessions 10 --message-size 10k
//                     --user-pattern 'load%d@example.test' --user-count 20
//                     [--messages-per-session 10] [--no-pipelining]
//
// DESCRIPTION
//   Each session connects, reads the 220 greeting, sends EHLO once, then per
//   message MAIL FROM (with SIZE= when offered), one RCPT TO per recipient and
//   DATA - in one write when the server offers PIPELINING (RFC 2920; the default,
//   --no-pipelining waits for each reply) - then the dot-stuffed message and its
//   one final reply. After --messages-per-session messages (default 10; 0 = never)
//   it sends QUIT and opens a new connection, so connection set-up is part of the
//   load as it is for real MTAs.
//
//   Reported: the Run's accepted messages (a 250 for the message; every recipient
//   had a 2xx) and transaction latency (writing MAIL to the final reply), plus a
//   table with three rows: `transaction` (the same, with failures by code),
//   `data-to-250` (from the final "." being written to the final reply: the
//   server's own work on the message) and `connect-ehlo` (TCP connect, greeting
//   and EHLO; only connections opened after the warmup).
//
//   It never sends content before a 354, never counts a message accepted on
//   doubt, and connects only to the endpoint in Options (loopback unless
//   allowed). What an accepted message means depends on the server: Columba's
//   smtpd answers 250 after lmtpd committed it; a queueing MTA after queueing it.
//
// DIAGNOSTICS
//   Replies other than 2xx count under their code; I/O failures as io, timeout,
//   protocol; a 421 or an I/O error makes the session reconnect; a session that
//   cannot connect (or get a 220 and a 250 to EHLO) 5 times in a row gives up.
#include <random>

#include "lib/smtp/data_reader.h"
#include "loadtest/connection.h"
#include "loadtest/message.h"
#include "loadtest/op_stats.h"
#include "loadtest/scenario.h"
#include "loadtest/smtp_client.h"

namespace columba::loadtest {

namespace {

using namespace std::chrono_literals;

// Consecutive failed connects (or greetings/EHLOs) after which a session gives up.
constexpr int kMaxFailedConnects = 5;

std::chrono::microseconds Micros(Clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d); }

class SmtpScenario : public Scenario {
 public:
  std::string ExtraText(double elapsed_s) const override { return table_.FormatText(elapsed_s); }
  std::string ExtraJsonMembers(double elapsed_s) const override { return table_.FormatJsonMembers(elapsed_s); }

  asio::awaitable<void> RunSession(Run& run, int session_id) override {
    const Options& o = run.options();
    auto ex = co_await asio::this_coro::executor;
    Connection conn(ex, o.timeout);
    std::mt19937_64 rng(o.seed * 1'000'003 + static_cast<uint64_t>(session_id));
    SizeChooser sizes(o.sizes);
    Capabilities caps;
    int failed_connects = 0;
    int on_this_connection = 0;
    auto backoff = std::chrono::milliseconds(100);

    while (!run.stopping()) {
      if (!conn.open()) {
        bool measured = run.measuring();
        auto t0 = Clock::now();
        std::string error;
        if (auto ec = co_await conn.Connect(o); ec) {
          error = "connect";
        } else {
          run.Connected();
          auto opened = co_await OpenSession(conn, o.helo, /*lmtp=*/false);
          error = opened.error;
          caps = opened.caps;
        }
        if (!error.empty()) {
          if (measured) table_.Failed("connect-ehlo", error);
          run.SessionError(error);
          conn.Close();
          if (++failed_connects >= kMaxFailedConnects) {
            run.SessionGaveUp();
            co_return;
          }
          asio::steady_timer wait(ex);
          wait.expires_after(backoff);
          co_await wait.async_wait(net::kNoThrow);
          backoff *= 2;
          continue;
        }
        if (measured) table_.Ok("connect-ehlo", Micros(Clock::now() - t0));
        failed_connects = 0;
        backoff = 100ms;
        on_this_connection = 0;
      }

      auto ticket = co_await run.NextMessage();
      if (!ticket) break;

      MessageSpec spec;
      spec.seq = ticket->seq;
      spec.session = session_id;
      spec.run_id = run.run_id();
      spec.from = o.from;
      spec.to = run.NextRecipients(o.rcpts_per_msg);
      spec.date = Rfc5322Now();
      spec.size = sizes.Pick(rng);
      std::string message = BuildMessage(spec, rng);
      std::string stuffed = smtp::DotStuff(message);
      Envelope env{o.from, spec.to};

      auto t0 = Clock::now();
      auto out = co_await SendTransaction(conn, env, stuffed, message.size(), /*lmtp=*/false,
                                          o.pipelining && caps.pipelining, caps.size);
      auto latency = Clock::now() - t0;
      if (out.delivered) {
        run.Delivered(*ticket, latency, message.size(), out.recipients_ok);
        if (ticket->measured) {
          table_.Ok("transaction", Micros(latency));
          if (out.end_of_data_to_reply) table_.Ok("data-to-250", Micros(*out.end_of_data_to_reply));
        }
      } else {
        run.Failed(*ticket, out.errors);
        if (ticket->measured) table_.Failed("transaction", out.errors.empty() ? "unknown" : out.errors.front());
      }
      ++on_this_connection;
      if (out.must_reconnect) {
        conn.Close();
      } else if (o.messages_per_session > 0 && on_this_connection >= o.messages_per_session) {
        co_await Quit(conn);  // the next loop opens a new connection
      }
    }
    co_await Quit(conn);
  }

 private:
  OpTable table_;  // one per run: every session runs on the one event-loop thread
};

}  // namespace

std::unique_ptr<Scenario> MakeSmtpScenario(const Options& options) { return std::make_unique<SmtpScenario>(); }

}  // namespace columba::loadtest
