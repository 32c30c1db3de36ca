// scenario_lmtp.cc - the `lmtp` scenario: sessions that deliver messages over LMTP.
//
// Each session connects, sends LHLO, then per message MAIL FROM, RCPT TO for
// each recipient, DATA, the dot-stuffed message, and reads one reply per accepted
// recipient (RFC 2033 4.2); it reuses the connection for the next message (or
// QUITs and reconnects every --messages-per-session messages) and sends QUIT at
// the end. Latency is from writing MAIL to the last per-recipient
// reply. It never counts a message as delivered unless every recipient got 2xx,
// and it connects only to the endpoint in Options (loopback unless allowed).
#include <random>

#include "lib/smtp/data_reader.h"
#include "loadtest/connection.h"
#include "loadtest/message.h"
#include "loadtest/scenario.h"
#include "loadtest/smtp_client.h"

namespace columba::loadtest {

namespace {

using namespace std::chrono_literals;

// Consecutive failed connects (or greetings/LHLOs) after which a session gives up.
constexpr int kMaxFailedConnects = 5;

class LmtpScenario : public Scenario {
 public:
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
        std::string error;
        if (auto ec = co_await conn.Connect(o); ec) {
          error = "connect";
        } else {
          run.Connected();
          auto opened = co_await OpenSession(conn, o.helo, /*lmtp=*/true);
          error = opened.error;
          caps = opened.caps;
        }
        if (!error.empty()) {
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
      auto out = co_await SendTransaction(conn, env, stuffed, message.size(), /*lmtp=*/true,
                                          o.pipelining && caps.pipelining, caps.size);
      auto latency = Clock::now() - t0;
      if (out.delivered) {
        run.Delivered(*ticket, latency, message.size(), out.recipients_ok);
      } else {
        run.Failed(*ticket, out.errors);
      }
      ++on_this_connection;
      if (out.must_reconnect) {
        conn.Close();
      } else if (o.messages_per_session > 0 && on_this_connection >= o.messages_per_session) {
        co_await Quit(conn);  // --messages-per-session: the next loop reconnects
      }
    }
    co_await Quit(conn);
  }
};

}  // namespace

std::unique_ptr<Scenario> MakeLmtpScenario(const Options& options) { return std::make_unique<LmtpScenario>(); }

}  // namespace columba::loadtest
