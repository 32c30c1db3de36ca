// memory_ephemeral.h - the in-memory twin of Ephemeral (STYLE habit 7).
//
// NAME
//   MemoryEphemeral - login records, counters and locks in one map, with expiry by an
//   injectable steady clock.
// SYNOPSIS
//   MemoryEphemeral e;                                   // real steady_clock
//   MemoryEphemeral f([&] { return fake_now; });         // tests advance fake_now
// DESCRIPTION
//   Same contract as storage/redis (RedisEphemeral), checked by the same conformance
//   suite (storage/redis/ephemeral_conformance_test.cc): the same three name spaces,
//   fixed-window counters, non-re-entrant owner-token locks, kInvalidInput for the same
//   bad arguments. An entry is expired when now >= its deadline; expired entries are
//   dropped when touched and swept now and then, so the map does not grow without
//   bound. Thread-safe: one mutex guards the map; the clock is called under it. Never
//   fails with kUnavailable (nothing to lose a connection to).
// NEVER
//   Is shared between processes or replicas: never wire it into a running service;
//   diverges from RedisEphemeral's semantics (change both, and the suite, together).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/api/ephemeral.h"

namespace columba::storage {

class MemoryEphemeral final : public Ephemeral {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit MemoryEphemeral(Clock now = [] { return std::chrono::steady_clock::now(); });

  Result<void> RecordLogin(std::string_view client_ip, std::string_view user,
                           std::chrono::milliseconds ttl) override;
  Result<std::optional<std::string>> RecentLogin(std::string_view client_ip) override;
  Result<std::vector<RecentLoginRecord>> ListRecentLogins(std::size_t limit) override;

  Result<int64_t> Increment(std::string_view key, std::chrono::milliseconds ttl) override;
  Result<int64_t> Get(std::string_view key) override;
  Result<void> Reset(std::string_view key) override;

  Result<bool> TryLock(std::string_view key, std::string_view owner,
                       std::chrono::milliseconds ttl) override;
  Result<bool> Unlock(std::string_view key, std::string_view owner) override;
  Result<bool> Refresh(std::string_view key, std::string_view owner,
                       std::chrono::milliseconds ttl) override;

  Result<void> Ping() override;

  // Live (unexpired) entries, for tests of the sweep.
  std::size_t SizeForTest();

 private:
  struct Entry {
    std::string value;  // user (pbs), decimal count (cnt) or owner token (lock)
    std::chrono::steady_clock::time_point deadline;
  };

  // The live entry for `key`, or nullptr (an expired one is erased). Caller holds mu_.
  Entry* FindLocked(const std::string& key, std::chrono::steady_clock::time_point now);
  // Drops every expired entry once every kSweepEvery writes. Caller holds mu_.
  void MaybeSweepLocked(std::chrono::steady_clock::time_point now);

  static constexpr std::size_t kSweepEvery = 1024;

  Clock now_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // namespaced key -> entry
  std::size_t writes_since_sweep_ = 0;
};

}  // namespace columba::storage
