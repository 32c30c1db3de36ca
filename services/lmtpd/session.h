// session.h - one LMTP session (RFC 2033) on a TCP or UNIX stream.
//
// The dialogue reads like the protocol: greet, then commands until QUIT; one
// coroutine per connection, no thread per connection. It never sends a 250 for a
// recipient after DATA until DeliverToMailbox reported that copy committed; on
// any doubt the recipient gets 451 4.3.0 and the client retries.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "lib/net/service_runtime.h"
#include "services/lmtpd/delivery.h"

namespace columba::lmtpd {

struct LmtpConfig {
  std::string hostname = "localhost";
  uint64_t max_message_size = 50ull << 20;  // SIZE advertised and enforced
  size_t max_recipients = 1000;             // per transaction; more get 452 4.5.3
  size_t max_command_line = 2048;           // RFC 5321 says 512; be tolerant of long params
  size_t max_data_line = 1 << 20;           // longer DATA lines reject the message (554 5.6.0)
  int max_errors = 20;                      // protocol errors before 421 and close
  std::chrono::milliseconds idle_timeout{300'000};
  std::string recipient_delimiter = "+";    // "" disables +detail delivery
  size_t max_parallel_copies = 8;           // recipients delivered at once per message
};

struct LmtpMetrics {
  explicit LmtpMetrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& sessions;    // columba_lmtpd_sessions_total
  prometheus::Family<prometheus::Counter>& commands;    // columba_lmtpd_commands_total{verb}
  prometheus::Family<prometheus::Counter>& deliveries;  // columba_lmtpd_deliveries_total{result}
  prometheus::Family<prometheus::Counter>& bytes;       // columba_lmtpd_received_bytes_total
  prometheus::Family<prometheus::Counter>& errors;      // columba_lmtpd_errors_total{kind}
  prometheus::Family<prometheus::Histogram>& latency;   // columba_lmtpd_delivery_seconds
  prometheus::Family<prometheus::Gauge>& active;        // columba_lmtpd_sessions_active
  prometheus::Counter& sessions_total;
  prometheus::Counter& bytes_total;
  prometheus::Histogram& delivery_seconds;
  prometheus::Gauge& sessions_active;
};

struct ServerContext {
  LmtpConfig cfg;
  storage::Directory& directory;
  DeliveryContext delivery;
  LmtpMetrics& metrics;
  net::ServiceRuntime& runtime;
};

// Runs a session to completion on `socket` (asio::ip::tcp::socket or a local socket).
template <class Socket>
asio::awaitable<void> RunSession(ServerContext& ctx, Socket socket, std::string peer);

}  // namespace columba::lmtpd
