// memory_ephemeral.cc - MemoryEphemeral: see memory_ephemeral.h.
//
// The keys mirror RedisEphemeral's ("pbs:", "cnt:", "lock:" + caller's key, without the
// "columba:" prefix), and counters are kept as decimal strings as Redis keeps them.
#include "storage/memory/memory_ephemeral.h"

#include <charconv>
#include <limits>
#include <utility>

namespace columba::storage {
namespace {

std::string Namespaced(std::string_view space, std::string_view key) {
  std::string out;
  out.reserve(space.size() + key.size());
  out.append(space);
  out.append(key);
  return out;
}

Result<int64_t> ParseCount(const std::string& value) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || ptr != value.data() + value.size())
    return Fail(ErrorKind::kInternal, "counter holds a value that is not an integer");
  return n;
}

}  // namespace

MemoryEphemeral::MemoryEphemeral(Clock now) : now_(std::move(now)) {}

MemoryEphemeral::Entry* MemoryEphemeral::FindLocked(const std::string& key,
                                                    std::chrono::steady_clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (now >= it->second.deadline) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second;
}

void MemoryEphemeral::MaybeSweepLocked(std::chrono::steady_clock::time_point now) {
  if (++writes_since_sweep_ < kSweepEvery) return;
  writes_since_sweep_ = 0;
  std::erase_if(entries_, [now](const auto& kv) { return now >= kv.second.deadline; });
}

Result<void> MemoryEphemeral::RecordLogin(std::string_view client_ip, std::string_view user,
                                          std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("client ip", client_ip); !r) return r;
  if (auto r = CheckEphemeralArg("user", user); !r) return r;
  if (auto r = CheckEphemeralTtl(ttl); !r) return r;
  std::lock_guard lock(mu_);
  auto now = now_();
  entries_[Namespaced("pbs:", client_ip)] = Entry{std::string(user), now + ttl};
  MaybeSweepLocked(now);
  return {};
}

Result<std::optional<std::string>> MemoryEphemeral::RecentLogin(std::string_view client_ip) {
  if (auto r = CheckEphemeralArg("client ip", client_ip); !r) return tl::unexpected(r.error());
  std::lock_guard lock(mu_);
  Entry* e = FindLocked(Namespaced("pbs:", client_ip), now_());
  if (e == nullptr) return std::optional<std::string>();
  return std::optional<std::string>(e->value);
}

Result<std::vector<RecentLoginRecord>> MemoryEphemeral::ListRecentLogins(std::size_t limit) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  std::vector<RecentLoginRecord> out;
  for (const auto& [key, e] : entries_) {
    if (out.size() >= limit) break;
    if (key.rfind("pbs:", 0) != 0 || now >= e.deadline) continue;
    out.push_back(RecentLoginRecord{key.substr(4), e.value,
                                    std::chrono::ceil<std::chrono::milliseconds>(e.deadline - now)});
  }
  return out;
}

Result<int64_t> MemoryEphemeral::Increment(std::string_view key, std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralTtl(ttl); !r) return tl::unexpected(r.error());
  std::lock_guard lock(mu_);
  auto now = now_();
  std::string k = Namespaced("cnt:", key);
  Entry* e = FindLocked(k, now);
  if (e == nullptr) {
    entries_[k] = Entry{"1", now + ttl};
    MaybeSweepLocked(now);
    return int64_t{1};
  }
  auto n = ParseCount(e->value);
  if (!n) return n;
  if (*n == std::numeric_limits<int64_t>::max())
    return Fail(ErrorKind::kInternal, "counter would overflow");
  e->value = std::to_string(*n + 1);
  return *n + 1;
}

Result<int64_t> MemoryEphemeral::Get(std::string_view key) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  std::lock_guard lock(mu_);
  Entry* e = FindLocked(Namespaced("cnt:", key), now_());
  if (e == nullptr) return int64_t{0};
  return ParseCount(e->value);
}

Result<void> MemoryEphemeral::Reset(std::string_view key) {
  if (auto r = CheckEphemeralArg("key", key); !r) return r;
  std::lock_guard lock(mu_);
  entries_.erase(Namespaced("cnt:", key));
  return {};
}

Result<bool> MemoryEphemeral::TryLock(std::string_view key, std::string_view owner,
                                      std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralArg("owner", owner); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralTtl(ttl); !r) return tl::unexpected(r.error());
  std::lock_guard lock(mu_);
  auto now = now_();
  std::string k = Namespaced("lock:", key);
  if (FindLocked(k, now) != nullptr) return false;
  entries_[k] = Entry{std::string(owner), now + ttl};
  MaybeSweepLocked(now);
  return true;
}

Result<bool> MemoryEphemeral::Unlock(std::string_view key, std::string_view owner) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralArg("owner", owner); !r) return tl::unexpected(r.error());
  std::lock_guard lock(mu_);
  std::string k = Namespaced("lock:", key);
  Entry* e = FindLocked(k, now_());
  if (e == nullptr || e->value != owner) return false;
  entries_.erase(k);
  return true;
}

Result<bool> MemoryEphemeral::Refresh(std::string_view key, std::string_view owner,
                                      std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralArg("owner", owner); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralTtl(ttl); !r) return tl::unexpected(r.error());
  std::lock_guard lock(mu_);
  auto now = now_();
  Entry* e = FindLocked(Namespaced("lock:", key), now);
  if (e == nullptr || e->value != owner) return false;
  e->deadline = now + ttl;
  return true;
}

Result<void> MemoryEphemeral::Ping() { return {}; }

std::size_t MemoryEphemeral::SizeForTest() {
  std::lock_guard lock(mu_);
  auto now = now_();
  std::erase_if(entries_, [now](const auto& kv) { return now >= kv.second.deadline; });
  return entries_.size();
}

}  // namespace columba::storage
