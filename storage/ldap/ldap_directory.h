// ldap_directory.h - the Directory backed by OpenLDAP: syncrepl replicas for reads,
// the provider for writes.
//
// NAME
//   LdapDirectory - virtual domains and accounts in LDAP (schema deploy/ldap/columba.schema).
// SYNOPSIS
//   LdapDirectoryConfig c;
//   c.read_uris = {"ldap://replica-near:389", "ldap://provider:389"};
//   c.write_uri = "ldap://provider:389";
//   c.base_dn = "dc=columba"; c.bind_dn = "cn=admin,dc=columba"; c.bind_password = pw;
//   auto dir = LdapDirectory::Create(c);   // Result<std::shared_ptr<LdapDirectory>>
// DESCRIPTION
//   Entries: cn=<domain>,ou=domains,<base> (columbaDomain for a local domain,
//   columbaRelayDomain for a relay domain: one DN per name, so never both) and
//   mail=<address>,ou=users,<base> (columbaAccount; aliases in columbaAlias, a
//   catch-all as the alias "@<domain>"). Lookup asks for the address, its alias and
//   the domain's catch-all in one search and prefers the exact match.
//   Reads go to the first reachable of read_uris (nearest replica first); a server that
//   fails (cannot connect, times out, is busy, or lacks the base entries) is skipped for
//   `retry_down_after` and the next one is tried within the same call. Writes, and the
//   existence checks that guard them, go to write_uri, so they never act on a stale
//   replica. A write becomes visible to reads once it has replicated (milliseconds).
//
//   Two small pools (reads, writes) of bound LDAPv3 connections, each guarded by a
//   mutex; every call blocks on the network: run it on a worker pool, never on an
//   event loop. Connections are made lazily, so a service starts while LDAP is down.
//   Absent columbaQuotaBytes/columbaQuotaMessages mean 0 (unlimited), absent
//   columbaEnabled means enabled; AddAccount/SetQuota omit/remove them at their
//   defaults. Addresses and domains are lower-cased (NormalizeAddress) and must be
//   ASCII (the attributes are IA5 strings). Same semantics as MemoryDirectory,
//   checked by storage/ldap/directory_conformance_test.cc.
// DIAGNOSTICS
//   kUnavailable when no server could serve the call (with each URI's reason);
//   kInvalidInput for malformed addresses/domains; kAlreadyExists / kNotFound as in
//   storage/api/directory.h; kInternal when the directory holds inconsistent data
//   (e.g. two accounts matching one address). A failover is logged as a warning.
// NEVER
//   Builds a filter or DN from unescaped input (EscapeFilterValue / EscapeDnValue);
//   logs the bind password or a password hash; writes to a read URI.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/api/directory.h"

namespace columba::storage {

struct LdapDirectoryConfig {
  std::vector<std::string> read_uris;  // nearest replica first; empty = use write_uri
  std::string write_uri;               // the provider
  std::string base_dn = "dc=columba";
  std::string bind_dn;                 // empty = anonymous
  std::string bind_password;           // never logged
  // Connect timeout per server: a dead nearest replica costs at most this per call.
  std::chrono::milliseconds network_timeout{2000};
  // Time limit for each operation (bind, search, add, modify, delete).
  std::chrono::milliseconds operation_timeout{5000};
  // How long a server that failed is skipped before it is tried again.
  std::chrono::milliseconds retry_down_after{10000};
  // Connections per pool (one pool for reads, one for writes).
  std::size_t max_connections = 4;
};

class LdapDirectory final : public Directory {
 public:
  // Checks the config (URIs parse, base DN set); does not connect.
  static Result<std::shared_ptr<LdapDirectory>> Create(LdapDirectoryConfig config);
  ~LdapDirectory() override;

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

  class Pool;  // private to ldap_directory.cc

 private:
  explicit LdapDirectory(LdapDirectoryConfig config);
  // Negative lookups on a replica are re-checked on the provider (replication lag
  // must never turn into a permanent "no such user").
  bool ConfirmNegativesOnProvider() const;
  // IsLocalDomain / IsRelayDomain: is there a domain entry of `object_class` named `domain`.
  Result<bool> IsDomainOfClass(std::string_view domain, const char* object_class);
  Result<std::vector<std::string>> ListDomainsOfClass(const char* object_class);
  Result<void> AddDomainOfClass(std::string_view domain, const char* object_class);

  LdapDirectoryConfig config_;
  std::string domains_dn_;  // ou=domains,<base>
  std::string users_dn_;    // ou=users,<base>
  std::unique_ptr<Pool> read_pool_;
  std::unique_ptr<Pool> write_pool_;
  // Serialises this process's check-then-write sequences (AddAccount, AddAlias). Other
  // writers are covered by the DN (address) and slapo-unique (alias) on the provider.
  std::mutex write_mu_;
};

// RFC 4515: the value of a filter assertion, with * ( ) \ NUL and non-ASCII escaped.
std::string EscapeFilterValue(std::string_view value);
// RFC 4514: an attribute value inside a DN, with , + " \ < > ; = escaped, a leading
// space or #, a trailing space, control and non-ASCII octets escaped.
std::string EscapeDnValue(std::string_view value);

}  // namespace columba::storage
