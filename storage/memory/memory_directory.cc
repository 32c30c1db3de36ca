// memory_directory.cc - MemoryDirectory: the Directory in maps, for tests.
//
// Mirrors storage/ldap/ldap_directory.cc rule for rule (normalisation, ASCII-only
// addresses, order of checks, sorted aliases). Never returns a reference into its
// maps: every result is a copy taken under the mutex.
#include "storage/memory/memory_directory.h"

#include <algorithm>
#include <cctype>

namespace columba::storage {

Account* MemoryDirectory::FindLocked(const std::string& address) {
  if (auto it = accounts_.find(address); it != accounts_.end()) return &it->second;
  if (auto it = alias_of_.find(address); it != alias_of_.end()) return &accounts_.at(it->second);
  return nullptr;
}

Result<std::optional<Account>> MemoryDirectory::Lookup(std::string_view address) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  std::lock_guard lock(mu_);
  if (Account* found = FindLocked(*a)) return std::optional<Account>(*found);
  if (auto it = alias_of_.find(CatchAllOf(DomainOf(*a))); it != alias_of_.end())
    return std::optional<Account>(accounts_.at(it->second));
  return std::optional<Account>();
}

Result<bool> MemoryDirectory::IsLocalDomain(std::string_view domain) {
  auto d = NormalizeDomain(domain);
  if (!d) return false;  // not a domain name, so not one of ours
  std::lock_guard lock(mu_);
  return domains_.count(*d) != 0;
}

Result<bool> MemoryDirectory::IsRelayDomain(std::string_view domain) {
  auto d = NormalizeDomain(domain);
  if (!d) return false;
  std::lock_guard lock(mu_);
  return relay_domains_.count(*d) != 0;
}

Result<std::vector<std::string>> MemoryDirectory::ListDomains() {
  std::lock_guard lock(mu_);
  return std::vector<std::string>(domains_.begin(), domains_.end());
}

Result<std::vector<std::string>> MemoryDirectory::ListRelayDomains() {
  std::lock_guard lock(mu_);
  return std::vector<std::string>(relay_domains_.begin(), relay_domains_.end());
}

Result<std::vector<Account>> MemoryDirectory::ListAccounts(std::string_view domain) {
  std::string suffix;
  if (!domain.empty()) {
    auto d = NormalizeDomain(domain);
    if (!d) return tl::unexpected(d.error());
    suffix = "@" + *d;
  }
  std::lock_guard lock(mu_);
  std::vector<Account> out;
  for (const auto& [address, account] : accounts_)  // std::map: already sorted
    if (suffix.empty() || address.ends_with(suffix)) out.push_back(account);
  return out;
}

Result<void> MemoryDirectory::AddDomainLocked(std::set<std::string>& kind, std::string_view domain) {
  auto d = NormalizeDomain(domain);
  if (!d) return tl::unexpected(d.error());
  if (domains_.count(*d) != 0) return Fail(ErrorKind::kAlreadyExists, "domain " + *d + ": already exists (local)");
  if (relay_domains_.count(*d) != 0)
    return Fail(ErrorKind::kAlreadyExists, "domain " + *d + ": already exists (relay)");
  kind.insert(*d);
  return {};
}

Result<void> MemoryDirectory::AddDomain(std::string_view domain) {
  std::lock_guard lock(mu_);
  return AddDomainLocked(domains_, domain);
}

Result<void> MemoryDirectory::AddRelayDomain(std::string_view domain) {
  std::lock_guard lock(mu_);
  return AddDomainLocked(relay_domains_, domain);
}

Result<void> MemoryDirectory::AddAccount(const Account& account) {
  auto address = NormalizeAsciiAddress(account.address);
  if (!address) return tl::unexpected(address.error());
  auto normalized_aliases = NormalizeAliases(*address, account.aliases);
  if (!normalized_aliases) return tl::unexpected(normalized_aliases.error());
  std::vector<std::string> aliases = std::move(*normalized_aliases);

  std::lock_guard lock(mu_);
  if (domains_.count(DomainOf(*address)) == 0)
    return Fail(ErrorKind::kNotFound, "domain " + DomainOf(*address) + " is not a local domain");
  for (const auto& alias : aliases)
    if (IsCatchAll(alias) && domains_.count(alias.substr(1)) == 0)
      return Fail(ErrorKind::kNotFound, "catch-all " + alias + ": " + alias.substr(1) + " is not a local domain");
  if (FindLocked(*address) != nullptr) return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *address);
  for (const auto& alias : aliases)
    if (FindLocked(alias) != nullptr) return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *address);

  Account stored = account;
  stored.address = *address;
  stored.aliases = aliases;
  for (const auto& alias : aliases) alias_of_[alias] = *address;
  accounts_.emplace(*address, std::move(stored));
  return {};
}

Result<void> MemoryDirectory::DeleteAccount(std::string_view address) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  std::lock_guard lock(mu_);
  auto it = accounts_.find(*a);
  if (it == accounts_.end()) return Fail(ErrorKind::kNotFound, "no account " + *a);
  for (const auto& alias : it->second.aliases) alias_of_.erase(alias);
  accounts_.erase(it);
  return {};
}

Result<void> MemoryDirectory::SetPasswordHash(std::string_view address, std::string_view hash) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  std::lock_guard lock(mu_);
  auto it = accounts_.find(*a);
  if (it == accounts_.end()) return Fail(ErrorKind::kNotFound, "no account " + *a);
  it->second.password_hash = std::string(hash);
  return {};
}

Result<void> MemoryDirectory::SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  std::lock_guard lock(mu_);
  auto it = accounts_.find(*a);
  if (it == accounts_.end()) return Fail(ErrorKind::kNotFound, "no account " + *a);
  it->second.quota_bytes = bytes;
  it->second.quota_messages = messages;
  return {};
}

Result<void> MemoryDirectory::AddAlias(std::string_view alias, std::string_view target) {
  auto al = NormalizeAlias(alias);
  if (!al) return tl::unexpected(al.error());
  auto t = NormalizeAsciiAddress(target);
  if (!t) return tl::unexpected(t.error());
  std::lock_guard lock(mu_);
  Account* owner = FindLocked(*t);
  if (owner == nullptr) return Fail(ErrorKind::kNotFound, "no account " + *t);
  if (IsCatchAll(*al) && domains_.count(al->substr(1)) == 0)
    return Fail(ErrorKind::kNotFound, "catch-all " + *al + ": " + al->substr(1) + " is not a local domain");
  if (FindLocked(*al) != nullptr) return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *al);
  owner->aliases.insert(std::lower_bound(owner->aliases.begin(), owner->aliases.end(), *al), *al);
  alias_of_[*al] = owner->address;
  return {};
}

}  // namespace columba::storage
