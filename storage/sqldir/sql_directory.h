// sql_directory.h - the SQL directory as a client of metad (directory.backend: sql).
//
// NAME
//   SqlDirectory - storage::Directory over metad's Directory gRPC service
//   (proto/columba/v1/directory.proto).
// SYNOPSIS
//   auto dir = SqlDirectory::Create({.metad_address = "127.0.0.1:27100",
//                                    .deadline = std::chrono::seconds(5)});
// DESCRIPTION
//   The directory tables live in PostgreSQL, and only metad speaks SQL (DESIGN
//   invariant 3), so every call here is one blocking unary RPC to metad (run it on
//   a worker pool, never on an event loop; services wrap it in CachingDirectory).
//   Each call has a deadline and waits for metad to be reachable within it, as
//   lib/rpc's MetadClient does; gRPC status codes map back to ErrorKind with
//   rpc::FromStatus (UNAVAILABLE, DEADLINE_EXCEEDED -> kUnavailable; NOT_FOUND ->
//   kNotFound; ALREADY_EXISTS -> kAlreadyExists; INVALID_ARGUMENT -> kInvalidInput).
//   Input is normalised by metad; nothing is checked twice here.
// NEVER
//   Logs a password hash; turns an RPC failure into "no such user" (an outage is
//   kUnavailable, so callers answer "try again later", never "unknown user").
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "storage/api/directory.h"

namespace columba::storage {

struct SqlDirectoryConfig {
  std::string metad_address;                   // host:port of metad (or its load balancer)
  std::chrono::milliseconds deadline{5'000};   // per call
};

class SqlDirectory final : public Directory {
 public:
  // Checks the config; does not connect (metad down shows as kUnavailable per call).
  static Result<std::shared_ptr<SqlDirectory>> Create(SqlDirectoryConfig config);
  ~SqlDirectory() override;

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
  struct Impl;
  explicit SqlDirectory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace columba::storage
