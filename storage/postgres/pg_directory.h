// pg_directory.h - the SQL directory: storage::Directory on PostgreSQL tables.
//
// NAME
//   PgDirectory - domains, accounts and aliases in directory_domains,
//   directory_accounts, directory_aliases (migrations v9 and v10,
//   storage/postgres/migrations.cc). A relay domain is a directory_domains row of
//   kind 'relay'; a catch-all is the alias "@domain".
// SYNOPSIS
//   auto dir = std::make_shared<PgDirectory>(pool);   // pool: pg_store.h ConnectionPool
//   dir->Lookup("alice@example.com");
// DESCRIPTION
//   The backend behind metad's Directory gRPC service (services/metad/
//   directory_service.h); front-ends reach it only through metad (storage/sqldir),
//   never directly (DESIGN invariant 3). Same rules as every Directory backend
//   (storage/api/directory.h): addresses and domains normalised before they reach
//   SQL, checks in the order input, domain, clashes; results sorted by bytes.
//   Each call is one statement or one transaction on a pooled connection and blocks:
//   run it on a worker thread. Uniqueness of addresses and aliases is kept by the
//   schema (directory_addresses, filled by triggers), so it holds against
//   concurrent callers, other metad replicas and operators' plain SQL alike; a
//   clash is kAlreadyExists. PostgreSQL unreachable or the connection lost is
//   kUnavailable.
// NEVER
//   Logs or returns a password hash in an error message; reports success for a
//   write that was not committed; builds SQL from input text (parameters only).
#pragma once

#include <memory>

#include "storage/api/directory.h"
#include "storage/postgres/pg_store.h"

namespace columba::pg {

class PgDirectory final : public storage::Directory {
 public:
  explicit PgDirectory(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  Result<std::optional<storage::Account>> Lookup(std::string_view address) override;
  Result<bool> IsLocalDomain(std::string_view domain) override;
  Result<bool> IsRelayDomain(std::string_view domain) override;
  Result<std::vector<std::string>> ListDomains() override;
  Result<std::vector<std::string>> ListRelayDomains() override;
  Result<std::vector<storage::Account>> ListAccounts(std::string_view domain) override;

  Result<void> AddDomain(std::string_view domain) override;
  Result<void> AddRelayDomain(std::string_view domain) override;
  Result<void> AddAccount(const storage::Account& account) override;
  Result<void> DeleteAccount(std::string_view address) override;
  Result<void> SetPasswordHash(std::string_view address, std::string_view hash) override;
  Result<void> SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) override;
  Result<void> AddAlias(std::string_view alias, std::string_view target) override;

 private:
  // fn(pqxx::work&) -> Result<T> in one transaction, committed only on success;
  // retried on serialization failure/deadlock; exceptions mapped to ErrorKind.
  template <class T, class Fn>
  Result<T> InTransaction(const char* what, Fn fn);

  // kind: "local" or "relay" (directory_domains.kind).
  Result<bool> IsDomainOfKind(std::string_view domain, const char* kind);
  Result<std::vector<std::string>> ListDomainsOfKind(const char* kind);
  Result<void> AddDomainOfKind(std::string_view domain, const char* kind);

  std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace columba::pg
