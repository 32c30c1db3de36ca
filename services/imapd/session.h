// session.h - one IMAP session (RFC 3501) on a TCP stream, plaintext or TLS.
//
// NAME
//   ImapConfig, ImapMetrics, ServerContext, Session, RunSession
//
// DESCRIPTION
//   One coroutine per connection on the connection's strand: greet, then read
//   bytes, feed lib/imap's incremental parser and dispatch each complete
//   command through the command table (commands.h). Session state is the
//   login (account id) and, when a mailbox is selected, its ids and the list
//   of UIDs (sequence number i is uids[i-1]); everything else lives in metad
//   and the blob store, so any replica can serve any client.
//
// NEVER
//   Never reads bytes that arrived before a STARTTLS reply into the TLS
//   session (the parser and its buffer are replaced at the upgrade), never
//   accepts a plaintext password on an unencrypted connection from outside
//   the trusted networks unless allow_plaintext_auth is set, never answers
//   OK on doubt (a metad or blob store failure is NO [UNAVAILABLE]).
#pragma once

#include <algorithm>
#include <array>
#include <iterator>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "lib/auth/login_guard.h"
#include "lib/imap/parser.h"
#include "lib/imap/uid_list.h"
#include "lib/net/blocking_pool.h"
#include "lib/net/cidr.h"
#include "lib/net/connection_limits.h"
#include "lib/net/deflate.h"
#include "lib/net/service_runtime.h"
#include "lib/net/tls.h"
#include "lib/rpc/metad_client.h"
#include "services/imapd/watch_probe.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"

namespace columba::imapd {

class WatchHub;      // watch.h
class MessageCache;  // message_cache.h

struct ImapConfig {
  std::string hostname = "localhost";
  // Plaintext LOGIN / AUTHENTICATE PLAIN before TLS from outside trusted networks.
  bool allow_plaintext_auth = false;
  std::chrono::milliseconds idle_timeout{30 * 60 * 1000};  // RFC 3501 5.4: at least 30 minutes
  std::chrono::milliseconds login_timeout{60 * 1000};      // connect -> authenticated, else BYE
  // SASL mechanisms offered (AUTHENTICATE); SCRAM-SHA-256 needs {SCRAM-SHA-256} secrets.
  std::vector<std::string> auth_mechanisms{"PLAIN", "LOGIN"};
  uint32_t max_connections_per_ip = 50;    // per replica; trusted networks exempt; 0 = none
  uint32_t max_connections_per_user = 20;  // per replica; 0 = none
  int max_bad_commands = 20;                               // protocol errors before BYE
  uint32_t fetch_batch = 500;                              // UIDs per metad Fetch call in FETCH
  uint64_t fetch_stream_threshold = 256 * 1024;            // BODY[]/RFC822 of larger messages is streamed
  // NOOP/CHECK answer "nothing changed" from the Watch stream (no metad call)
  // only within this time of the session's last metad read; 0 = always ask.
  std::chrono::milliseconds poll_max_staleness{1000};
  // Per-process copies of selected mailboxes' flags (mailbox_index.h) for
  // FETCH (FLAGS UID MODSEQ): none above this many messages (0 = off), and no
  // new one while all of them take more than index_max_bytes.
  // A mailbox's Watch stream and index stay this long after its last session
  // left it (a client logging in again finds them ready).
  std::chrono::milliseconds watch_linger{60'000};
  uint32_t index_max_messages = 50'000;
  uint64_t index_max_bytes = 256ull << 20;
  // Unchanging message metadata (ENVELOPE, BODYSTRUCTURE, blob id, size) kept
  // for FETCH (message_cache.h); 0 = none.
  uint64_t message_cache_bytes = 32ull << 20;
  imap::ParserLimits limits;
};

struct ImapMetrics {
  explicit ImapMetrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& sessions;  // columba_imapd_sessions_total
  prometheus::Family<prometheus::Counter>& commands;  // columba_imapd_commands_total{command}
  prometheus::Family<prometheus::Counter>& logins;    // columba_imapd_logins_total{result}
  prometheus::Family<prometheus::Counter>& errors;    // columba_imapd_errors_total{kind}
  prometheus::Family<prometheus::Gauge>& active;      // columba_imapd_sessions_active
  prometheus::Family<prometheus::Counter>& fetch_bodies;  // columba_imapd_fetch_bodies_total{mode}
  prometheus::Family<prometheus::Counter>& syncs;         // columba_imapd_mailbox_syncs_total{source}
  prometheus::Counter& sessions_total;
  prometheus::Gauge& sessions_active;
  prometheus::Counter& fetch_bodies_streamed;
  prometheus::Counter& syncs_metad;  // asked metad Changes
  prometheus::Counter& syncs_watch;  // the Watch stream vouched that nothing changed
  prometheus::Family<prometheus::Counter>& index;  // columba_imapd_index_reads_total{result}
  prometheus::Counter& index_hits;         // current snapshot, no metad call
  prometheus::Counter& index_refreshes;    // one Changes call
  prometheus::Counter& index_builds;       // built from metad
  prometheus::Counter& index_unavailable;  // none to be had: the caller asked metad
  prometheus::Family<prometheus::Counter>& message_cache;  // columba_imapd_message_cache_reads_total{result}
  prometheus::Counter& message_cache_hits;    // a FETCH batch answered without metad
  prometheus::Counter& message_cache_misses;  // a batch that needed metad's Fetch
};

struct ServerContext {
  ImapConfig cfg;
  net::CidrSet trusted;
  std::shared_ptr<net::TlsContextHolder> tls;  // null when TLS is not configured
  storage::Directory& directory;
  auth::LoginGuard& guard;            // failure penalties, POP-before-SMTP (Redis)
  net::ConnectionLimits& conn_limits;
  WatchHub& watches;                  // metad Watch streams shared by IDLE sessions
  storage::BlobStore& blobs;
  rpc::MetadClient& metad;
  net::BlockingPool& pool;
  // Password hashing only (Argon2id costs ~100 ms of CPU): a small pool of its
  // own, so a burst of logins cannot take every core from the other sessions.
  net::BlockingPool& hash_pool;
  ImapMetrics& metrics;
  net::ServiceRuntime& runtime;
  MessageCache& messages;  // unchanging message metadata (message_cache.h)
};

struct SelectedMailbox {
  uint64_t id = 0;
  std::string name;  // UTF-8, as metad names it
  uint32_t uidvalidity = 0;
  bool read_only = false;
  imap::UidList uids;  // ascending; sequence number n is uids[n - 1] (runs: lib/imap/uid_list.h)
  uint64_t modseq = 0;         // changes up to here are reflected in `uids` (SyncMailbox)
  std::vector<uint32_t> pending_expunged;  // seen, not yet reported (still in `uids`)
  std::vector<uint32_t> saved;             // SEARCHRES "$" (RFC 5182): UIDs, ascending
  // The shared Watch stream of this mailbox (a WatchHub subscription) and what
  // it said just before the session's last metad read, made at `synced_at`:
  // SyncMailbox skips metad while the stream vouches that nothing changed
  // since (watch_probe.h).
  std::shared_ptr<void> watch;
  WatchProbe synced_probe;
  std::chrono::steady_clock::time_point synced_at;
  // The saved result restricted to the messages still in the view.
  std::vector<uint32_t> SavedInView() const {
    std::vector<uint32_t> out;
    std::set_intersection(saved.begin(), saved.end(), uids.begin(), uids.end(), std::back_inserter(out));
    return out;
  }
};

// Wakes a session waiting in IDLE: the socket read and the metad Watch stream
// set their flag and cancel `timer` (always on the session's strand).
struct IdleSignal {
  explicit IdleSignal(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  bool change = false;  // Watch reported a change (or became ready)
  void Wake() { timer.cancel(); }
};

class Session {
 public:
  Session(ServerContext& ctx, net::MaybeTlsStream& stream, std::string peer_ip, bool implicit_tls);
  asio::awaitable<void> Run();

  ServerContext& ctx() { return ctx_; }
  // After every metad write (whatever its outcome) for this account: the other
  // sessions of this process then ask metad at their next sync. Returns the
  // account's new epoch (WatchHub::TouchAccount).
  uint64_t Wrote();
  const std::string& peer_ip() const { return peer_ip_; }

  // Output: Queue appends a response, Flush writes what is queued. A failed
  // write closes the session.
  void Queue(std::string_view text) { out_ += text; }
  asio::awaitable<bool> Flush();
  // Flushes once more than 64 KiB are queued (long FETCH responses).
  asio::awaitable<bool> FlushIfLarge() {
    if (out_.size() < 64 * 1024) co_return !closing_;
    co_return co_await Flush();
  }
  // Tagged completion: "<tag> <status> <text>\r\n", queued and flushed.
  // Arguments are taken by value: they are copied into this coroutine's frame at
  // the call, so no caller temporary has to survive the suspension (GCC 12
  // miscompiles some temporaries inside co_await expressions).
  asio::awaitable<void> Done(std::string tag, std::string status, std::string text);

  // The next parser event, reading from the socket as needed ("+ OK" for
  // synchronising literals is sent here). nullopt: connection closed or timed out.
  asio::awaitable<std::optional<imap::ParseEvent>> NextEvent();
  imap::Parser& parser() { return *parser_; }

  bool tls() const { return stream_.tls(); }
  bool trusted() const { return trusted_; }
  bool PlaintextAuthAllowed() const { return tls() || trusted_ || ctx_.cfg.allow_plaintext_auth; }
  // Whether AUTHENTICATE `mechanism` (upper case) is offered by configuration.
  bool MechanismOffered(std::string_view mechanism) const;
  bool CanStartTls() const { return ctx_.tls && !tls(); }
  // The capability list for the current state, without "* CAPABILITY ".
  std::string Capabilities() const;

  // STARTTLS after its OK was flushed: fresh parser (buffered input dropped), handshake.
  asio::awaitable<bool> UpgradeToTls();

  // COMPRESS=DEFLATE (RFC 4978), after its OK was flushed: from now on every
  // write is deflated and every read inflated (in bounded pieces).
  bool compressed() const { return deflater_ != nullptr; }
  Result<void> StartCompression();

  bool authenticated() const { return account_id_ != 0; }
  uint64_t account_id() const { return account_id_; }
  const std::string& user() const { return user_; }
  // `slot`: the user's connection-limit slot, held until the session ends.
  void SetAuthenticated(std::string user, uint64_t account_id, net::ConnectionSlot slot);

  std::optional<SelectedMailbox>& selected() { return selected_; }

  // RFC 7162: CONDSTORE is enabled by ENABLE CONDSTORE/QRESYNC or any
  // CONDSTORE-enabling command (SELECT (CONDSTORE), FETCH MODSEQ/CHANGEDSINCE,
  // STORE UNCHANGEDSINCE); from then on untagged FETCH responses carry MODSEQ.
  // QRESYNC only by ENABLE; it turns EXPUNGE responses into VANISHED and adds
  // UID to every untagged FETCH.
  bool condstore() const { return condstore_; }
  bool qresync() const { return qresync_; }
  void EnableCondstore() { condstore_ = true; }
  void EnableQresync() { qresync_ = condstore_ = true; }
  // RFC 6855 UTF8=ACCEPT (ENABLE): mailbox names in UTF-8 both ways, UTF-8 in quoted strings.
  bool utf8() const { return utf8_ || rev2_; }
  // RFC 9051 (ENABLE IMAP4rev2): UTF-8 names, no \Recent, ESEARCH answers.
  bool rev2() const { return rev2_; }
  void EnableRev2() {
    rev2_ = true;
    EnableUtf8();
  }
  void EnableUtf8() {
    utf8_ = true;
    parser_->SetUtf8Accept(true);
  }

  // IDLE (cmd/idle.cc): StartIdleRead reads once from the socket in the
  // background (unless a read is pending); its completion feeds the parser (or
  // marks the input closed) and wakes `sig`. A session never ends with a read
  // pending: CancelIdleRead then wait until idle_read_pending() is false.
  void StartIdleRead(std::shared_ptr<IdleSignal> sig);
  bool idle_read_pending() const { return idle_read_pending_; }
  bool input_closed() const { return input_closed_; }
  void CancelIdleRead() { stream_.cancel(); }
  void Close() { closing_ = true; }
  bool closing() const { return closing_; }

 private:
  asio::awaitable<void> Dispatch(const imap::Command& cmd);
  asio::awaitable<void> ProtocolError(const imap::ProtocolError& e);
  // After a BAD has been flushed: past imap.max_bad_commands, BYE and close.
  asio::awaitable<void> CountBadCommand();
  void ArmIdleTimer();
  std::unique_ptr<imap::Parser> NewParser() const;

  ServerContext& ctx_;
  net::MaybeTlsStream& stream_;
  std::string peer_ip_;
  bool implicit_tls_;
  bool trusted_;
  std::unique_ptr<imap::Parser> parser_;
  asio::steady_timer idle_;
  std::string out_;
  bool closing_ = false;
  bool timed_out_ = false;
  int bad_commands_ = 0;
  bool idle_read_pending_ = false;
  bool input_closed_ = false;
  static constexpr size_t kIdleReadSize = 1024;
  static constexpr size_t kInflatePiece = 64 * 1024;  // decompressed bytes fed to the parser at a time
  // Feeds `raw` (inflated when COMPRESS is active) or, with raw empty, the
  // next inflated piece. false: the compressed stream is corrupt.
  bool FeedInput(std::string_view raw);
  std::unique_ptr<net::Deflater> deflater_;
  std::unique_ptr<net::Inflater> inflater_;
  bool last_read_full_ = false;
  std::unique_ptr<char[]> idle_buf_;  // allocated at the first IDLE
  size_t idle_buf_size_ = 0;
  std::chrono::steady_clock::time_point login_deadline_;
  bool login_timed_out_ = false;
  net::ConnectionSlot user_slot_;
  std::string user_;
  uint64_t account_id_ = 0;
  std::optional<SelectedMailbox> selected_;
  bool condstore_ = false;
  bool qresync_ = false;
  bool utf8_ = false;
  bool rev2_ = false;
};

// Runs a session to completion; `implicit_tls` starts with the TLS handshake.
asio::awaitable<void> RunSession(ServerContext& ctx, asio::ip::tcp::socket socket, std::string peer_ip,
                                 bool implicit_tls);

}  // namespace columba::imapd
