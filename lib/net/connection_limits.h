// connection_limits.h - connections per client address and per user, counted
// in this process (DESIGN invariant 7: connections per IP are bounded).
//
// NAME
//   ConnectionLimits, ConnectionSlot
//
// SYNOPSIS
//   ConnectionLimits limits;                       // shared by a service's sessions
//   auto ip = limits.Acquire(ConnectionLimits::kIp, peer_ip, max_per_ip);
//   if (!ip) { say "too many connections"; close; }
//   ...                                           // the slot is released when `ip` dies
//
// DESCRIPTION
//   A slot is a move-only RAII handle: the count goes down when it is
//   destroyed, whichever way the session ends. Counts are per process (per
//   replica), as Dovecot's are per server: behind a load balancer spreading
//   clients over N replicas the effective limit is up to N times larger. A
//   limit of 0 means "no limit". Thread-safe.
//
// NEVER
//   Leaks a count (slots release on destruction) or keeps an entry for a key
//   whose count fell to zero (the maps stay as small as the open connections).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace columba::net {

class ConnectionLimits;

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), kind_(o.kind_), key_(std::move(o.key_)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      Release();
      owner_ = std::exchange(o.owner_, nullptr);
      kind_ = o.kind_;
      key_ = std::move(o.key_);
    }
    return *this;
  }
  ~ConnectionSlot() { Release(); }
  void Release();

 private:
  friend class ConnectionLimits;
  ConnectionSlot(ConnectionLimits* owner, int kind, std::string key) : owner_(owner), kind_(kind), key_(std::move(key)) {}
  ConnectionLimits* owner_ = nullptr;
  int kind_ = 0;
  std::string key_;
};

class ConnectionLimits {
 public:
  enum Kind { kIp = 0, kUser = 1 };

  // A slot for `key` unless `max` (> 0) slots of this kind are already held for it.
  std::optional<ConnectionSlot> Acquire(Kind kind, std::string_view key, uint32_t max) {
    std::lock_guard lock(mu_);
    auto& map = counts_[kind];
    auto it = map.find(std::string(key));
    uint32_t n = it == map.end() ? 0 : it->second;
    if (max > 0 && n >= max) return std::nullopt;
    if (it == map.end()) map.emplace(std::string(key), 1); else ++it->second;
    return ConnectionSlot(this, kind, std::string(key));
  }

  // Open connections counted for `key` (tests, metrics).
  uint32_t Count(Kind kind, std::string_view key) const {
    std::lock_guard lock(mu_);
    auto it = counts_[kind].find(std::string(key));
    return it == counts_[kind].end() ? 0 : it->second;
  }

 private:
  friend class ConnectionSlot;
  void Release(int kind, const std::string& key) {
    std::lock_guard lock(mu_);
    auto& map = counts_[kind];
    auto it = map.find(key);
    if (it == map.end()) return;
    if (--it->second == 0) map.erase(it);
  }
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> counts_[2];
};

inline void ConnectionSlot::Release() {
  if (owner_) std::exchange(owner_, nullptr)->Release(kind_, key_);
}

}  // namespace columba::net
