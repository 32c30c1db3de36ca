// directory_service.h - the gRPC Directory service of columba-metad (directory.proto).
//
// NAME
//   DirectoryService - serves the SQL directory (directory.backend: sql) to
//   front-ends and columbactl, backed by pg::PgDirectory.
// DESCRIPTION
//   Each RPC runs on the Metadata service's bounded worker pool (shared queue
//   limit and PostgreSQL connections: a burst of directory reads cannot starve
//   mailbox writes of more than their share, and a full queue is UNAVAILABLE at
//   once). Result kinds map to gRPC codes with metad::ToStatus; Lookup of an
//   unknown address is OK with found = false. Metrics: columba_metad_rpcs_total and
//   columba_metad_rpc_seconds with method "Directory.<Rpc>".
// NEVER
//   Blocks a gRPC thread on PostgreSQL; logs a password hash (requests are never
//   logged, errors carry no hash); answers OK to a write that did not commit.
#pragma once

#include <memory>

#include "columba/v1/directory.grpc.pb.h"
#include "services/metad/service.h"
#include "storage/postgres/pg_directory.h"

namespace columba::metad {

class DirectoryService final : public columba::v1::Directory::CallbackService {
 public:
  // `runner` provides the worker pool and metrics; it must outlive this service.
  DirectoryService(std::shared_ptr<storage::Directory> directory, MetadataService& runner)
      : directory_(std::move(directory)), runner_(runner) {}

  using Ctx = grpc::CallbackServerContext;
  grpc::ServerUnaryReactor* Lookup(Ctx*, const v1::DirectoryLookupRequest*, v1::DirectoryLookupResponse*) override;
  grpc::ServerUnaryReactor* IsLocalDomain(Ctx*, const v1::DirectoryIsLocalDomainRequest*,
                                          v1::DirectoryIsLocalDomainResponse*) override;
  grpc::ServerUnaryReactor* ListDomains(Ctx*, const v1::DirectoryListDomainsRequest*,
                                        v1::DirectoryListDomainsResponse*) override;
  grpc::ServerUnaryReactor* ListAccounts(Ctx*, const v1::DirectoryListAccountsRequest*,
                                         v1::DirectoryListAccountsResponse*) override;
  grpc::ServerUnaryReactor* AddDomain(Ctx*, const v1::DirectoryAddDomainRequest*,
                                      v1::DirectoryAddDomainResponse*) override;
  grpc::ServerUnaryReactor* AddAccount(Ctx*, const v1::DirectoryAddAccountRequest*,
                                       v1::DirectoryAddAccountResponse*) override;
  grpc::ServerUnaryReactor* DeleteAccount(Ctx*, const v1::DirectoryDeleteAccountRequest*,
                                          v1::DirectoryDeleteAccountResponse*) override;
  grpc::ServerUnaryReactor* SetPasswordHash(Ctx*, const v1::DirectorySetPasswordHashRequest*,
                                            v1::DirectorySetPasswordHashResponse*) override;
  grpc::ServerUnaryReactor* SetQuota(Ctx*, const v1::DirectorySetQuotaRequest*,
                                     v1::DirectorySetQuotaResponse*) override;
  grpc::ServerUnaryReactor* AddAlias(Ctx*, const v1::DirectoryAddAliasRequest*,
                                     v1::DirectoryAddAliasResponse*) override;
  grpc::ServerUnaryReactor* IsRelayDomain(Ctx*, const v1::DirectoryIsRelayDomainRequest*,
                                          v1::DirectoryIsRelayDomainResponse*) override;
  grpc::ServerUnaryReactor* ListRelayDomains(Ctx*, const v1::DirectoryListRelayDomainsRequest*,
                                             v1::DirectoryListRelayDomainsResponse*) override;
  grpc::ServerUnaryReactor* AddRelayDomain(Ctx*, const v1::DirectoryAddRelayDomainRequest*,
                                           v1::DirectoryAddRelayDomainResponse*) override;

 private:
  template <class Req, class Resp, class Fn>
  grpc::ServerUnaryReactor* Unary(Ctx* ctx, const char* method, const Req* req, Resp* resp, Fn fn);

  std::shared_ptr<storage::Directory> directory_;
  MetadataService& runner_;
};

// storage::Account on the wire.
v1::DirectoryAccount ToProto(const storage::Account& a);

}  // namespace columba::metad
