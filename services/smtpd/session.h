// session.h - one SMTP session (RFC 5321) on the MX port: the first slice of
// issue 5 (local delivery; see docs/smtp.md for what is not built yet).
//
// DESCRIPTION
//   Greets, then EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY (252), HELP,
//   QUIT. Every RCPT goes through lib/smtp/relay_policy.h; local recipients
//   must exist in the directory (550 5.1.1). After DATA the message goes to
//   lmtpd (lmtp_handoff.h) with a Received: header in front.
// NEVER
//   Never answers 250 after DATA unless lmtpd answered 250 (after its commit)
//   for every recipient: with no outbound queue yet, anything else is a 4xx
//   (the sender retries; a recipient already delivered may get a duplicate,
//   never a loss) or, when every recipient failed permanently, a 5xx. Never
//   accepts a recipient the relay policy refuses.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "lib/net/blocking_pool.h"
#include "lib/net/cidr.h"
#include "lib/net/connection_limits.h"
#include "lib/net/service_runtime.h"
#include "storage/api/directory.h"

namespace columba::smtpd {

struct SmtpConfig {
  std::string hostname = "localhost";
  uint64_t max_message_size = 50ull << 20;  // SIZE, advertised and enforced (552 5.3.4)
  size_t max_recipients = 100;              // per message; more get 452 4.5.3
  size_t max_line = 1000;                   // RFC 5321 4.5.3.1.4 text line, CRLF included
  int max_errors = 20;                      // protocol errors before 421 and close
  size_t max_messages = 100;                // per session; the next MAIL gets 421 and close
  size_t max_commands = 1000;               // per message (MAIL to end of DATA); then 421 and close
  std::chrono::milliseconds max_session_time{1'800'000};  // then 421 at the next command
  uint32_t max_connections_per_ip = 20;     // per replica; trusted networks exempt; 0 = none
  std::chrono::milliseconds idle_timeout{300'000};
  std::vector<std::string> relay_domains;   // accepted from anyone and passed on (not yet: 451)
  std::string lmtp_host = "127.0.0.1";
  uint16_t lmtp_port = 2424;
  std::chrono::milliseconds lmtp_timeout{120'000};
};

struct SmtpMetrics {
  explicit SmtpMetrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& sessions;    // columba_smtpd_sessions_total
  prometheus::Family<prometheus::Counter>& commands;    // columba_smtpd_commands_total{verb}
  prometheus::Family<prometheus::Counter>& recipients;  // columba_smtpd_recipients_total{result}
  prometheus::Family<prometheus::Counter>& messages;    // columba_smtpd_messages_total{result}
  prometheus::Family<prometheus::Counter>& errors;      // columba_smtpd_errors_total{kind}
  prometheus::Family<prometheus::Gauge>& active;        // columba_smtpd_sessions_active
  prometheus::Counter& sessions_total;
  prometheus::Gauge& sessions_active;
};

struct ServerContext {
  SmtpConfig cfg;
  net::CidrSet trusted;  // may relay without AUTH; exempt from the per-IP connection limit
  net::ConnectionLimits& conn_limits;
  storage::Directory& directory;
  net::BlockingPool& pool;  // directory lookups
  SmtpMetrics& metrics;
  net::ServiceRuntime& runtime;
};

asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip);

}  // namespace columba::smtpd
