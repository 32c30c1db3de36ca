// session.h - one SMTP session (RFC 5321) on the MX, submission (STARTTLS) or
// submissions (implicit TLS) port (docs/smtp.md lists what is built).
//
// DESCRIPTION
//   Greets, then EHLO/HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, BDAT, RSET, NOOP,
//   VRFY (252), EXPN (502), ETRN (458), HELP, QUIT. Every RCPT goes through
//   lib/smtp/relay_policy.h with the session's grants (trusted network, AUTH,
//   POP-before-SMTP record, verified client certificate); local recipients must
//   exist in the directory (550 5.1.1). After the message, with a Received:
//   header in front, local recipients go to lmtpd (lmtp_handoff.h) at once;
//   remote recipients, and local ones lmtpd could not take now (4xx, down),
//   go into the durable queue (queue.h). AUTH itself is auth.cc.
// NEVER
//   Never answers 250 after DATA unless every recipient is delivered (lmtpd's
//   250, after its commit) or durably queued (blob stored, Enqueue committed);
//   anything else is a 4xx (the sender retries; a recipient already delivered
//   may get a duplicate, never a loss) or, when every recipient failed
//   permanently, a 5xx. Never accepts a recipient the
//   relay policy refuses. Never offers or accepts AUTH in plaintext outside
//   the trusted networks (unless smtp.allow_plaintext_auth). Never lets bytes
//   read before STARTTLS count after it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "lib/auth/credential_check.h"
#include "lib/auth/login_guard.h"
#include "lib/net/blocking_pool.h"
#include "lib/net/cidr.h"
#include "lib/net/connection_limits.h"
#include "lib/net/line_reader.h"
#include "lib/net/service_runtime.h"
#include "lib/net/tls.h"
#include "lib/smtp/command.h"
#include "lib/smtp/esmtp_params.h"
#include "lib/smtp/reply.h"
#include "storage/api/directory.h"
#include "storage/api/ephemeral.h"
#include "services/smtpd/queue.h"

namespace columba::smtpd {

// Which listener a session came in on.
enum class PortKind {
  kMx,           // 25 (2525 locally): mail from anywhere to local domains
  kSubmission,   // 587 (2587): STARTTLS, AUTH required to send
  kSubmissions,  // 465 (2465): implicit TLS, AUTH required to send
};

struct SmtpConfig {
  std::string hostname = "localhost";
  uint64_t max_message_size = 50ull << 20;  // SIZE, advertised and enforced (552 5.3.4)
  size_t max_recipients = 100;              // per message; more get 452 4.5.3
  size_t max_line = 1000;                   // RFC 5321 4.5.3.1.4 text line, CRLF included
  size_t max_auth_line = 12288;             // RFC 4954 4: AUTH responses
  int max_errors = 20;                      // protocol errors before 421 and close
  size_t max_messages = 100;                // per session; the next MAIL gets 421 and close
  size_t max_commands = 1000;               // per message (MAIL to end of DATA); then 421 and close
  std::chrono::milliseconds max_session_time{1'800'000};  // then 421 at the next command
  uint32_t max_connections_per_ip = 20;     // per replica; trusted networks exempt; 0 = none
  std::chrono::milliseconds idle_timeout{300'000};
  std::chrono::milliseconds proxy_timeout{10'000};  // for the PROXY header from a load balancer
  std::vector<std::string> relay_domains;   // accepted from anyone and queued for the outbound relay
  std::vector<std::string> auth_mechanisms{"PLAIN", "LOGIN", "SCRAM-SHA-256"};
  bool allow_plaintext_auth = false;        // AUTH without TLS from outside trusted networks
  bool allow_plain_passwords = false;       // {PLAIN} directory entries count (and so CRAM-MD5 works)
  bool sender_login_match = true;           // AUTH users send only as their own addresses/aliases
  bool pop_before_smtp = true;              // a fresh POP/IMAP login record opens relaying
  bool reject_bare_line_ends = false;       // bare CR/LF in DATA: reject (550) instead of normalising
  std::string lmtp_host = "127.0.0.1";
  uint16_t lmtp_port = 2424;
  std::chrono::milliseconds lmtp_timeout{120'000};
};

struct SmtpMetrics {
  explicit SmtpMetrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& sessions;    // columba_smtpd_sessions_total{port}
  prometheus::Family<prometheus::Counter>& commands;    // columba_smtpd_commands_total{verb}
  prometheus::Family<prometheus::Counter>& recipients;  // columba_smtpd_recipients_total{result}
  prometheus::Family<prometheus::Counter>& messages;    // columba_smtpd_messages_total{result}
  prometheus::Family<prometheus::Counter>& errors;      // columba_smtpd_errors_total{kind}
  prometheus::Family<prometheus::Counter>& auths;       // columba_smtpd_auth_total{mechanism,result}
  prometheus::Family<prometheus::Gauge>& active;        // columba_smtpd_sessions_active
  prometheus::Gauge& sessions_active;
};

struct ServerContext {
  SmtpConfig cfg;
  net::CidrSet trusted;         // may relay without AUTH; exempt from the per-IP connection limit
  net::CidrSet proxy_networks;  // load balancers whose PROXY header names the real client
  std::shared_ptr<net::TlsContextHolder> tls;  // null: no STARTTLS, no submissions port
  bool client_certs = false;    // tls.client_ca_file set: verified certificates map to users
  net::ConnectionLimits& conn_limits;
  storage::Directory& directory;
  auth::LoginGuard& guard;                      // failure penalties (Redis)
  std::shared_ptr<storage::Ephemeral> ephemeral;  // POP-before-SMTP records; may be null
  net::BlockingPool& pool;       // directory and Redis calls
  net::BlockingPool& hash_pool;  // password hashing
  QueueContext& queue;           // blob store + metad's queue: remote and deferred recipients
  SmtpMetrics& metrics;
  net::ServiceRuntime& runtime;
};

asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip, PortKind kind);

// The session's dialogue state; commands are methods (session.cc, auth.cc).
class Session {
 public:
  Session(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer, PortKind kind);
  asio::awaitable<void> Run();

 private:
  struct Recipient {
    std::string address;  // as lmtpd / the queue should be given it
    bool local = true;
    smtp::RcptParams dsn;
  };

  void Count(const char* kind);
  void CountRcpt(std::string_view result);
  void Touch();
  void WatchIdle();
  asio::awaitable<bool> Send(std::string text);  // queues; Flush writes
  asio::awaitable<bool> Flush();
  asio::awaitable<bool> Reply(int code, std::string_view enhanced, std::string_view text);
  asio::awaitable<bool> Error(int code, std::string_view enhanced, std::string_view text);
  void ResetTransaction();
  bool Tls() const { return stream_.tls(); }
  bool AuthAllowedHere() const;
  bool SubmissionPort() const { return kind_ != PortKind::kMx; }
  std::string ProtocolName() const;

  asio::awaitable<bool> Dispatch(const smtp::Command& c);
  asio::awaitable<bool> Hello(const smtp::Command& c);
  asio::awaitable<bool> CmdStartTls();
  asio::awaitable<bool> UpgradeToTls();
  asio::awaitable<bool> Auth(const smtp::Command& c);            // auth.cc
  asio::awaitable<std::optional<std::string>> SaslRound(std::string challenge);  // auth.cc
  asio::awaitable<std::optional<std::string>> FirstMessage(const std::optional<std::string>& initial,
                                                           std::string challenge);  // auth.cc
  asio::awaitable<bool> Mail(const smtp::Command& c);
  asio::awaitable<bool> Rcpt(const smtp::Command& c);
  asio::awaitable<bool> Data();
  asio::awaitable<bool> Bdat(const smtp::Command& c);
  asio::awaitable<bool> Finish(std::string body, bool had_bare_lf);
  asio::awaitable<bool> Deliver(std::string body, bool had_bare_lf);
  asio::awaitable<Result<bool>> PopBeforeSmtp();
  asio::awaitable<Result<std::optional<std::string>>> LookupLocal(const std::string& address);
  asio::awaitable<Result<bool>> OwnsAddress(const std::string& address);

  ServerContext& ctx_;
  net::MaybeTlsStream stream_;
  net::LineReader<net::MaybeTlsStream> reader_;
  std::string peer_;
  PortKind kind_;
  asio::steady_timer idle_;
  const bool trusted_;
  std::string out_;  // replies not yet written (Flush)
  std::string helo_;
  bool esmtp_ = false;
  bool quit_ = false;
  bool timed_out_ = false;
  bool busy_ = false;  // delivering after the message: not idle
  std::chrono::steady_clock::time_point last_activity_;
  int errors_ = 0;
  size_t messages_ = 0;  // ended DATA in this session
  size_t commands_ = 0;  // in the current transaction
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string auth_user_;      // the account AUTH (or a client certificate) proved, "" if none
  std::string cert_user_;      // the account a verified client certificate maps to
  std::optional<bool> pop_before_smtp_;  // looked up once per session when needed
  std::optional<std::string> mail_from_;
  smtp::MailParams mail_params_;
  std::vector<Recipient> recipients_;
  // BDAT (RFC 3030): the chunks so far; over_size/failed keep consuming to LAST.
  bool in_bdat_ = false;
  std::string bdat_body_;
  bool bdat_over_size_ = false;
};

}  // namespace columba::smtpd
