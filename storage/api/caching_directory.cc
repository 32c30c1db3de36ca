// caching_directory.cc - CachingDirectory: TTL cache of Lookup/IsLocalDomain/IsRelayDomain.
//
// Never calls the inner Directory while holding mu_ (inner calls block on the
// network); never stores a result fetched across an invalidation.
#include "storage/api/caching_directory.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace columba::storage {

namespace {

std::string DomainKey(std::string_view domain) {
  while (!domain.empty() && std::isspace(static_cast<unsigned char>(domain.front()))) domain.remove_prefix(1);
  while (!domain.empty() && std::isspace(static_cast<unsigned char>(domain.back()))) domain.remove_suffix(1);
  std::string out(domain);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---------------------------------------------------------------- TtlMap

template <class V>
const V* CachingDirectory::TtlMap<V>::Get(const std::string& key, Clock::time_point now) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  if (it->second.expires <= now) {
    order_.erase(it->second.order);
    map_.erase(it);
    return nullptr;
  }
  return &it->second.value;
}

template <class V>
std::size_t CachingDirectory::TtlMap<V>::Put(const std::string& key, V value, Clock::time_point expires,
                                             std::size_t max_entries) {
  Erase(key);
  std::size_t evicted = 0;
  while (!map_.empty() && map_.size() >= max_entries) {
    map_.erase(order_.front());
    order_.pop_front();
    ++evicted;
  }
  if (max_entries == 0) return evicted;
  order_.push_back(key);
  map_.emplace(key, Node{std::move(value), expires, std::prev(order_.end())});
  return evicted;
}

template <class V>
void CachingDirectory::TtlMap<V>::Erase(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  order_.erase(it->second.order);
  map_.erase(it);
}

template <class V>
template <class Pred>
void CachingDirectory::TtlMap<V>::EraseIf(Pred pred) {
  for (auto it = map_.begin(); it != map_.end();) {
    if (pred(it->first, it->second.value)) {
      order_.erase(it->second.order);
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---------------------------------------------------------------- CachingDirectory

CachingDirectory::CachingDirectory(std::shared_ptr<Directory> inner, std::chrono::milliseconds ttl,
                                   std::size_t max_entries)
    : inner_(std::move(inner)), ttl_(ttl), max_entries_(max_entries) {}

CachingDirectory::Stats CachingDirectory::GetStats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = accounts_.size() + domains_.size() + relay_domains_.size();
  return s;
}

Result<std::optional<Account>> CachingDirectory::Lookup(std::string_view address) {
  auto key = NormalizeAddress(address);
  if (!key || ttl_.count() <= 0) return inner_->Lookup(address);
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    if (const auto* hit = accounts_.Get(*key, Clock::now())) {
      ++stats_.hits;
      return *hit;
    }
    ++stats_.misses;
    generation = generation_;
  }
  auto result = inner_->Lookup(*key);
  if (result) {
    std::lock_guard lock(mu_);
    if (generation == generation_)
      stats_.evictions += accounts_.Put(*key, *result, Clock::now() + ttl_, max_entries_);
  }
  return result;
}

Result<bool> CachingDirectory::DomainCheck(TtlMap<bool>& cache, std::string_view domain,
                                          Result<bool> (Directory::*check)(std::string_view)) {
  std::string key = DomainKey(domain);
  if (key.empty() || ttl_.count() <= 0) return ((*inner_).*check)(domain);
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    if (const bool* hit = cache.Get(key, Clock::now())) {
      ++stats_.hits;
      return *hit;
    }
    ++stats_.misses;
    generation = generation_;
  }
  auto result = ((*inner_).*check)(key);
  if (result) {
    std::lock_guard lock(mu_);
    if (generation == generation_) stats_.evictions += cache.Put(key, *result, Clock::now() + ttl_, max_entries_);
  }
  return result;
}

Result<bool> CachingDirectory::IsLocalDomain(std::string_view domain) {
  return DomainCheck(domains_, domain, &Directory::IsLocalDomain);
}

Result<bool> CachingDirectory::IsRelayDomain(std::string_view domain) {
  return DomainCheck(relay_domains_, domain, &Directory::IsRelayDomain);
}

Result<std::vector<std::string>> CachingDirectory::ListDomains() { return inner_->ListDomains(); }

Result<std::vector<std::string>> CachingDirectory::ListRelayDomains() { return inner_->ListRelayDomains(); }

Result<std::vector<Account>> CachingDirectory::ListAccounts(std::string_view domain) {
  return inner_->ListAccounts(domain);
}

void CachingDirectory::InvalidateAccountLocked(const std::string& address) {
  ++generation_;
  accounts_.EraseIf([&](const std::string& key, const std::optional<Account>& value) {
    if (key == address) return true;
    if (!value) return false;
    return value->address == address ||
           std::find(value->aliases.begin(), value->aliases.end(), address) != value->aliases.end();
  });
}

void CachingDirectory::InvalidateAliasLocked(std::string_view alias) {
  auto a = NormalizeAlias(alias);
  if (!a) return;
  InvalidateAccountLocked(*a);
  if (!IsCatchAll(*a)) return;
  // Lookups in the domain that found nothing (or found an account by another
  // route) may now resolve to the catch-all.
  accounts_.EraseIf([&](const std::string& key, const std::optional<Account>&) { return key.ends_with(*a); });
}

void CachingDirectory::InvalidateDomainLocked(std::string_view domain) {
  ++generation_;
  std::string key = DomainKey(domain);
  domains_.Erase(key);
  relay_domains_.Erase(key);
}

// Writes: pass through, then invalidate whatever they may have changed, success or
// not (a timed-out write may still have been applied).

Result<void> CachingDirectory::AddDomain(std::string_view domain) {
  auto r = inner_->AddDomain(domain);
  std::lock_guard lock(mu_);
  InvalidateDomainLocked(domain);
  return r;
}

Result<void> CachingDirectory::AddRelayDomain(std::string_view domain) {
  auto r = inner_->AddRelayDomain(domain);
  std::lock_guard lock(mu_);
  InvalidateDomainLocked(domain);
  return r;
}

Result<void> CachingDirectory::AddAccount(const Account& account) {
  auto r = inner_->AddAccount(account);
  std::lock_guard lock(mu_);
  if (auto a = NormalizeAddress(account.address)) InvalidateAccountLocked(*a);
  for (const auto& alias : account.aliases) InvalidateAliasLocked(alias);
  return r;
}

Result<void> CachingDirectory::DeleteAccount(std::string_view address) {
  auto r = inner_->DeleteAccount(address);
  std::lock_guard lock(mu_);
  if (auto a = NormalizeAddress(address)) InvalidateAccountLocked(*a);
  return r;
}

Result<void> CachingDirectory::SetPasswordHash(std::string_view address, std::string_view hash) {
  auto r = inner_->SetPasswordHash(address, hash);
  std::lock_guard lock(mu_);
  if (auto a = NormalizeAddress(address)) InvalidateAccountLocked(*a);
  return r;
}

Result<void> CachingDirectory::SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) {
  auto r = inner_->SetQuota(address, bytes, messages);
  std::lock_guard lock(mu_);
  if (auto a = NormalizeAddress(address)) InvalidateAccountLocked(*a);
  return r;
}

Result<void> CachingDirectory::AddAlias(std::string_view alias, std::string_view target) {
  auto r = inner_->AddAlias(alias, target);
  std::lock_guard lock(mu_);
  InvalidateAliasLocked(alias);
  if (auto t = NormalizeAddress(target)) InvalidateAccountLocked(*t);
  return r;
}

}  // namespace columba::storage
