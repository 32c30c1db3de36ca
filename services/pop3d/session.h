// session.h - one POP3 session (RFC 1939) on a TCP stream, plaintext or TLS.
//
// NAME
//   Pop3Config, Pop3Metrics, ServerContext, Maildrop, Session, RunSession
//
// DESCRIPTION
//   One coroutine per connection on the connection's strand: greet, then read a
//   line, parse it (lib/pop3/command.h) and dispatch it through the command
//   table (commands.h) for the session's state. AUTHORIZATION ends with a
//   login, the maildrop lock (maildrop.h: Redis, leased, renewed while the
//   session lives) and a snapshot of INBOX from metad (UIDs, sizes, blob ids);
//   TRANSACTION reads that snapshot and the blob store and only marks
//   deletions; QUIT enters UPDATE, where the marked messages are expunged in
//   one metad transaction before the +OK. Nothing else is kept, so any replica
//   serves any client.
//
//   Responses are queued and written when the client has no further command
//   buffered (PIPELINING, RFC 2449) or when a long RETR has queued 64 KiB.
//
// NEVER
//   Never deletes anything unless QUIT arrived in TRANSACTION and the session
//   still holds the maildrop lock; never answers +OK to QUIT before metad
//   committed the expunge; never reads bytes that arrived before STLS's reply
//   into the TLS session; never accepts USER/PASS or AUTH PLAIN/LOGIN on an
//   unencrypted connection from outside the trusted networks unless
//   allow_plaintext_auth; never answers +OK on doubt (-ERR [SYS/TEMP]).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "lib/auth/login_guard.h"
#include "lib/net/blocking_pool.h"
#include "lib/net/cidr.h"
#include "lib/net/connection_limits.h"
#include "lib/net/line_reader.h"
#include "lib/net/service_runtime.h"
#include "lib/net/tls.h"
#include "lib/pop3/command.h"
#include "lib/rpc/metad_client.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"
#include "storage/api/ephemeral.h"

namespace columba::pop3d {

struct Pop3Config {
  std::string hostname = "localhost";
  // USER/PASS and AUTH PLAIN/LOGIN before TLS from outside trusted networks.
  bool allow_plaintext_auth = false;
  // RFC 1939 3: the autologout timer is at least 10 minutes.
  std::chrono::milliseconds idle_timeout{10 * 60 * 1000};
  std::chrono::milliseconds login_timeout{60 * 1000};  // connect -> logged in, else closed
  // SASL mechanisms offered (AUTH); CRAM-MD5 needs stored plain passwords
  // (auth.allow_plain_passwords), SCRAM-SHA-256 {SCRAM-SHA-256} secrets.
  std::vector<std::string> auth_mechanisms{"PLAIN", "LOGIN"};
  bool apop = false;                     // APOP (needs stored plain passwords); off by default
  bool allow_plain_passwords = false;    // auth.allow_plain_passwords
  size_t max_line_length = 1024;         // command lines (RFC 2449: 255 is what clients send)
  size_t max_auth_line = 16384;          // SASL response lines
  uint64_t max_commands = 100'000;       // per session
  int max_bad_commands = 20;             // -ERR for syntax/unknown before the session is closed
  uint32_t max_connections_per_ip = 50;  // per replica; trusted networks exempt; 0 = none
  std::chrono::milliseconds lock_lease{60'000};  // maildrop lock lifetime; renewed every lease/3
  std::chrono::milliseconds proxy_timeout{10'000};
  // CAPA EXPIRE (RFC 2449 6.7): "NEVER" or days; the policy, not an action of pop3d.
  std::string expire = "NEVER";
  // CAPA LOGIN-DELAY (seconds; 0 = not advertised); enforced per user through Redis.
  std::chrono::milliseconds login_delay{0};
  // POP-before-SMTP window by the user's domain (pop3.pop_before_smtp_domain_ttl);
  // others use the login guard's pop_before_smtp_ttl.
  std::map<std::string, std::chrono::milliseconds> pop_before_smtp_domain_ttl;
  uint32_t fetch_page = 1000;  // messages per metad FetchPage while loading the maildrop
  // RETR/TOP of a small message also reads the next small messages in the same
  // worker-pool call, up to this many octets (kept per session until used; 0 = off).
  uint64_t read_ahead_bytes = 256 * 1024;
};

struct Pop3Metrics {
  explicit Pop3Metrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& sessions;   // columba_pop3d_sessions_total
  prometheus::Family<prometheus::Gauge>& active;       // columba_pop3d_sessions_active
  prometheus::Family<prometheus::Counter>& commands;   // columba_pop3d_commands_total{command}
  prometheus::Family<prometheus::Counter>& logins;     // columba_pop3d_logins_total{result}
  prometheus::Family<prometheus::Counter>& errors;     // columba_pop3d_errors_total{kind}
  prometheus::Family<prometheus::Counter>& locks;      // columba_pop3d_maildrop_locks_total{result}
  prometheus::Family<prometheus::Counter>& deleted;    // columba_pop3d_messages_deleted_total
  prometheus::Family<prometheus::Counter>& retrieved;  // columba_pop3d_messages_retrieved_total{command}
  prometheus::Counter& sessions_total;
  prometheus::Gauge& sessions_active;
  prometheus::Counter& deleted_total;
  void Error(const std::string& kind) { errors.Add({{"kind", kind}}).Increment(); }
};

struct ServerContext {
  Pop3Config cfg;
  net::CidrSet trusted;
  net::CidrSet proxy_networks;  // load balancers whose PROXY header names the client
  std::shared_ptr<net::TlsContextHolder> tls;  // null when TLS is not configured
  storage::Directory& directory;
  auth::LoginGuard& guard;  // failure penalties, POP-before-SMTP (Redis)
  storage::Ephemeral& ephemeral;  // maildrop locks, LOGIN-DELAY
  net::ConnectionLimits& conn_limits;
  storage::BlobStore& blobs;
  rpc::MetadClient& metad;
  net::BlockingPool& pool;
  net::BlockingPool& hash_pool;
  Pop3Metrics& metrics;
  net::ServiceRuntime& runtime;
};

// The INBOX as this session sees it: fixed at login (RFC 1939: message numbers
// do not change during a session).
struct Maildrop {
  struct Message {
    uint32_t uid = 0;
    uint64_t size = 0;
    std::string blob_id;
    bool deleted = false;  // DELE'd in this session (nothing written until UPDATE)
  };
  uint64_t mailbox_id = 0;
  uint32_t uidvalidity = 0;
  std::vector<Message> messages;  // message number n is messages[n - 1]
  // Not deleted: count and octets (STAT).
  uint64_t Count() const;
  uint64_t Octets() const;
  // The message numbered n unless absent or deleted.
  const Message* Find(uint32_t n) const;
  // UIDL (docs/pop3.md): UID then UIDVALIDITY, 8 upper-case hex digits each,
  // Dovecot's default %08Xu%08Xv.
  std::string Uidl(const Message& m) const;
};

class MaildropLock;  // maildrop.h

class Session {
 public:
  using Stream = net::MaybeTlsStream;
  Session(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip, bool implicit_tls);
  ~Session();
  asio::awaitable<void> Run();

  ServerContext& ctx() { return ctx_; }
  const std::string& peer_ip() const { return peer_ip_; }
  bool tls() const { return stream_.tls(); }
  bool trusted() const { return trusted_; }
  bool PlaintextAuthAllowed() const { return tls() || trusted_ || ctx_.cfg.allow_plaintext_auth; }
  bool CanStartTls() const { return ctx_.tls && !tls(); }
  // Mechanisms AUTH accepts here (PLAIN/LOGIN only where plaintext is allowed).
  std::vector<std::string> Mechanisms() const;
  bool MechanismAllowed(const std::string& mech) const;
  const std::string& apop_banner() const { return apop_banner_; }

  // Output: Queue appends, Flush writes what is queued (a failed write closes).
  void Queue(std::string_view text) { out_ += text; }
  // The queued output itself, for writers that append in place (RETR's dot-stuffing).
  std::string& output() { return out_; }
  asio::awaitable<bool> Flush();
  asio::awaitable<bool> FlushIfLarge();
  void Ok(std::string_view text);
  void Err(std::string_view code, std::string_view text);

  // One SASL line (RFC 5034 4): after "+ challenge" was queued.
  asio::awaitable<net::Line> ReadAuthLine();
  asio::awaitable<bool> UpgradeToTls();

  // USER remembered for the following PASS.
  std::optional<std::string>& pending_user() { return pending_user_; }
  bool authenticated() const { return maildrop_.has_value(); }
  const std::string& user() const { return user_; }
  uint64_t account_id() const { return account_id_; }
  Maildrop& maildrop() { return *maildrop_; }
  // After a successful login: the maildrop is locked and loaded -> TRANSACTION.
  void EnterTransaction(std::string user, uint64_t account_id, Maildrop drop, std::shared_ptr<MaildropLock> lock);
  MaildropLock* lock() { return lock_.get(); }
  // Small messages read ahead by RETR/TOP (cmd/retrieve.cc): message number -> bytes.
  std::map<uint32_t, std::string>& read_ahead() { return read_ahead_; }
  // Ends the session after this command (what is queued is still written).
  void Close() { closing_ = true; }
  bool closing() const { return closing_; }

 private:
  asio::awaitable<void> Dispatch(const pop3::Command& cmd);
  asio::awaitable<void> BadCommand(std::string_view text);
  void ArmIdleTimer();
  asio::awaitable<void> ReleaseLock();

  ServerContext& ctx_;
  Stream stream_;
  net::LineReader<Stream> reader_;
  std::string peer_ip_;
  bool implicit_tls_;
  bool trusted_;
  asio::steady_timer idle_;
  std::string out_;
  bool closing_ = false;
  bool write_failed_ = false;
  bool timed_out_ = false;
  int bad_commands_ = 0;
  uint64_t commands_ = 0;
  std::chrono::steady_clock::time_point login_deadline_;
  std::string apop_banner_;
  std::optional<std::string> pending_user_;
  std::string user_;
  uint64_t account_id_ = 0;
  std::optional<Maildrop> maildrop_;
  std::shared_ptr<MaildropLock> lock_;
  std::map<uint32_t, std::string> read_ahead_;
};

// Runs a session to completion: PROXY header (from proxy_networks), the
// per-address connection limit, then the dialogue; `implicit_tls` starts with
// the TLS handshake.
asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip,
                                 bool implicit_tls);

}  // namespace columba::pop3d
