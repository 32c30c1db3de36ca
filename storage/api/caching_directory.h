// caching_directory.h - a short-lived cache in front of any Directory (DESIGN: "a
// short-lived cache in each process").
//
// NAME
//   CachingDirectory - decorator caching Lookup, IsLocalDomain and IsRelayDomain.
// SYNOPSIS
//   auto dir = std::make_shared<CachingDirectory>(ldap, std::chrono::seconds(30));
// DESCRIPTION
//   Lookup (per normalized address), IsLocalDomain and IsRelayDomain (per lower-cased
//   domain) results are kept for `ttl`, found or not found alike: an SMTP flood of unknown recipients
//   must not become an LDAP flood. Errors are never cached. List* calls pass through.
//   Writes made through this object pass through and then drop every cached entry
//   they may have changed (the address, its aliases, the domain; a catch-all
//   "@domain" drops every cached lookup in that domain), so this process
//   reads its own writes - provided the inner directory does: with LDAP replicas a
//   read right after a write may still see the replica's old state, and that is then
//   cached for up to ttl like any other read. Writes made elsewhere (another process, columbactl) are seen
//   after at most `ttl`: keep it short (default 30 s, from config). Bounded: at most
//   `max_entries` entries per cache; the oldest go first (with one TTL for all,
//   oldest = soonest to expire). ttl 0 disables caching. Thread-safe; the inner
//   Directory is called without holding the cache lock, and a result fetched while a
//   write invalidated the cache is not stored (generation counter).
// NEVER
//   Caches an error (a dependency outage must not outlive the outage); serves an entry
//   older than ttl; grows beyond max_entries per cache.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/api/directory.h"

namespace columba::storage {

class CachingDirectory final : public Directory {
 public:
  static constexpr std::size_t kDefaultMaxEntries = 20000;  // per cache; ~10 MB of accounts at most

  CachingDirectory(std::shared_ptr<Directory> inner, std::chrono::milliseconds ttl,
                   std::size_t max_entries = kDefaultMaxEntries);

  Result<std::optional<Account>> Lookup(std::string_view address) override;
  Result<bool> IsLocalDomain(std::string_view domain) override;
  Result<bool> IsRelayDomain(std::string_view domain) override;
  Result<std::vector<std::string>> ListDomains() override;
  Result<std::vector<std::string>> ListRelayDomains() override;
  Result<std::vector<Account>> ListAccounts(std::string_view domain) override;

  Result<void> AddDomain(std::string_view domain) override;
  Result<void> AddRelayDomain(std::string_view domain) override;
  Result<void> AddAccount(const Account& account) override;
  Result<void> DeleteAccount(std::string_view address) override;
  Result<void> SetPasswordHash(std::string_view address, std::string_view hash) override;
  Result<void> SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) override;
  Result<void> AddAlias(std::string_view alias, std::string_view target) override;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;  // dropped to stay within max_entries
    std::size_t entries = 0;  // currently held, all caches
  };
  Stats GetStats() const;

 private:
  using Clock = std::chrono::steady_clock;

  // A map with one expiry per entry and insertion order for eviction.
  template <class V>
  class TtlMap {
   public:
    const V* Get(const std::string& key, Clock::time_point now);
    // Returns how many entries were evicted to make room.
    std::size_t Put(const std::string& key, V value, Clock::time_point expires, std::size_t max_entries);
    void Erase(const std::string& key);
    template <class Pred>
    void EraseIf(Pred pred);
    std::size_t size() const { return map_.size(); }

   private:
    struct Node {
      V value;
      Clock::time_point expires;
      std::list<std::string>::iterator order;
    };
    std::unordered_map<std::string, Node> map_;
    std::list<std::string> order_;  // oldest first
  };

  // Drops every cached lookup that is `address` or that resolved to an account having
  // `address` as its address or an alias. Caller holds mu_.
  void InvalidateAccountLocked(const std::string& address);
  // The same for an alias as written by a caller: for a catch-all "@domain", also
  // every cached lookup of an address in that domain (found or not). Caller holds mu_.
  void InvalidateAliasLocked(std::string_view alias);
  // A cached domain check (one of domains_ / relay_domains_).
  Result<bool> DomainCheck(TtlMap<bool>& cache, std::string_view domain,
                           Result<bool> (Directory::*check)(std::string_view));
  // Drops both domain caches' entries for `domain` after a write. Caller holds mu_.
  void InvalidateDomainLocked(std::string_view domain);

  const std::shared_ptr<Directory> inner_;
  const std::chrono::milliseconds ttl_;
  const std::size_t max_entries_;

  mutable std::mutex mu_;
  uint64_t generation_ = 0;  // bumped by every invalidation
  TtlMap<std::optional<Account>> accounts_;
  TtlMap<bool> domains_;        // IsLocalDomain
  TtlMap<bool> relay_domains_;  // IsRelayDomain
  Stats stats_;
};

}  // namespace columba::storage
