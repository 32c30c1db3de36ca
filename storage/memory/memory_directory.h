// memory_directory.h - the in-memory twin of the Directory (STYLE habit 7).
//
// NAME
//   MemoryDirectory - domains and accounts in maps, for unit tests and local tools.
// DESCRIPTION
//   Same contract as storage/ldap (LdapDirectory), checked by the same conformance
//   suite (storage/ldap/directory_conformance_test.cc): addresses and domains are
//   lower-cased and must be ASCII; aliases are unique across addresses and aliases;
//   accounts come back with aliases sorted; the same order of checks (input, domain,
//   clashes), so the same error wins when several apply. A catch-all is an alias
//   "@domain" like any other (unique, so one per domain); only Lookup falls back
//   to it, never the clash checks or the naming of a target. Thread-safe: one mutex
//   guards all maps; no call blocks on anything else.
// NEVER
//   Is durable or shared between processes: never wire it alone into a running
//   service (storage/filedir keeps one as the parsed form of its file);
//   diverges from LdapDirectory's semantics (change both, and the suite, together).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "storage/api/directory.h"

namespace columba::storage {

class MemoryDirectory final : public Directory {
 public:
  MemoryDirectory() = default;

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

 private:
  // The account an address or alias belongs to (exactly: never by catch-all), or
  // nullptr. Caller holds mu_.
  Account* FindLocked(const std::string& address);
  // Adds `domain` to `kind` unless it is already a domain of either kind. Caller holds mu_.
  Result<void> AddDomainLocked(std::set<std::string>& kind, std::string_view domain);

  std::mutex mu_;
  std::set<std::string> domains_;        // local domains
  std::set<std::string> relay_domains_;  // never also in domains_
  std::map<std::string, Account> accounts_;      // canonical address -> account
  std::map<std::string, std::string> alias_of_;  // alias -> canonical address
};

}  // namespace columba::storage
