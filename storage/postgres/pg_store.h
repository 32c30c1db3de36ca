// pg_store.h - the mailstore in PostgreSQL: what metad does for each RPC.
//
// Each method runs one transaction on a pooled connection and blocks; metad calls
// them on its worker threads, never on gRPC completion threads. Every statement
// carries account_id first and checks mailbox ids against it (account isolation).
// Changes to a mailbox lock its row first (UPDATE ... RETURNING), so UIDs and
// MODSEQs are assigned serially per mailbox even with many metad replicas, and
// each committed change sends a NOTIFY on channel `columba_changes` that every
// replica's Watch streams hear. Serialization failures and deadlocks are retried
// here; a lost connection is kUnavailable (the caller answers "try again").
// It never returns success for a change that was not committed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "columba/v1/metadata.pb.h"
#include "lib/base/result.h"

#include <pqxx/connection>

namespace columba::pg {

namespace v1 = ::columba::v1;

// A fixed-size pool of connections; Acquire blocks until one is free.
class ConnectionPool {
 public:
  ConnectionPool(std::string uri, size_t size);
  ~ConnectionPool();
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> c) : pool_(pool), conn_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)), broken_(o.broken_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    // Returns a live connection, reconnecting if the old one broke.
    Result<pqxx::connection*> Get();
    void Discard() { broken_ = true; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool broken_ = false;
  };
  Lease Acquire();
  const std::string& uri() const { return uri_; }

 private:
  friend class Lease;
  void Release(std::unique_ptr<pqxx::connection> c);
  std::string uri_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // null entries = not yet connected
};

// Payload of a NOTIFY on `columba_changes`: "account:mailbox:modseq:uidnext:listchanged".
struct ChangeNotice {
  uint64_t account_id = 0;
  uint64_t mailbox_id = 0;
  uint64_t highestmodseq = 0;
  uint32_t uidnext = 0;
  bool list_changed = false;
};
std::string FormatNotice(const ChangeNotice& n);
bool ParseNotice(std::string_view payload, ChangeNotice& out);
inline constexpr const char* kChangeChannel = "columba_changes";

class PgStore {
 public:
  explicit PgStore(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  Result<v1::AddDomainResponse> AddDomain(const v1::AddDomainRequest& r);
  Result<v1::ListDomainsResponse> ListDomains(const v1::ListDomainsRequest& r);
  Result<v1::EnsureAccountResponse> EnsureAccount(const v1::EnsureAccountRequest& r);
  Result<v1::GetAccountResponse> GetAccount(const v1::GetAccountRequest& r);
  Result<v1::DeleteAccountResponse> DeleteAccount(const v1::DeleteAccountRequest& r);
  Result<v1::GetQuotaResponse> GetQuota(const v1::GetQuotaRequest& r);

  Result<v1::CreateMailboxResponse> CreateMailbox(const v1::CreateMailboxRequest& r);
  Result<v1::RenameMailboxResponse> RenameMailbox(const v1::RenameMailboxRequest& r);
  Result<v1::DeleteMailboxResponse> DeleteMailbox(const v1::DeleteMailboxRequest& r);
  Result<v1::ListMailboxesResponse> ListMailboxes(const v1::ListMailboxesRequest& r);
  Result<v1::GetMailboxResponse> GetMailbox(const v1::GetMailboxRequest& r);
  Result<v1::SubscribeResponse> Subscribe(const v1::SubscribeRequest& r);

  Result<v1::AppendResponse> Append(const v1::AppendRequest& r);
  // One page of a Fetch: messages with uid >= after_uid+1 within the set. The
  // caller loops until a page comes back shorter than page_size.
  Result<v1::FetchResponse> FetchPage(const v1::FetchRequest& r, uint32_t after_uid);
  Result<v1::StoreFlagsResponse> StoreFlags(const v1::StoreFlagsRequest& r);
  Result<v1::CopyMessagesResponse> CopyMessages(const v1::CopyMessagesRequest& r);
  Result<v1::ExpungeResponse> Expunge(const v1::ExpungeRequest& r);
  Result<v1::ChangesResponse> Changes(const v1::ChangesRequest& r);
  Result<v1::SearchResponse> Search(const v1::SearchRequest& r);

  // Cheap liveness query for /readyz.
  Result<void> Ping();

 private:
  Result<v1::RenameMailboxResponse> RenameInbox(uint64_t account_id, const std::string& to);
  // Runs fn in a transaction with retries on serialization failure / deadlock.
  template <class T, class Fn>
  Result<T> InTransaction(const char* what, Fn fn);
  // Read-only statements in autocommit (no BEGIN/COMMIT round trips). Each
  // statement sees its own snapshot, exactly as in a READ COMMITTED
  // transaction, so readers lose nothing by it.
  template <class T, class Fn>
  Result<T> Read(const char* what, Fn fn);
  std::shared_ptr<ConnectionPool> pool_;
};

// Canonical mailbox name: "INBOX" in any case becomes "INBOX" (also as the first
// hierarchy level); other names are kept as given. kInvalidInput for empty names,
// names with NUL/CR/LF, empty levels ("a//b", trailing "/") or over 1000 octets.
Result<std::string> CanonicalMailboxName(std::string_view name);

// Renders a UID set as an SQL condition on column `uid` (numbers only, no input
// text reaches SQL). kInvalidInput when empty or over 4096 ranges.
Result<std::string> UidSetCondition(const v1::UidSet& set);

}  // namespace columba::pg
