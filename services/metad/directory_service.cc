// directory_service.cc - Directory RPC handlers: unpack, call the directory on a
// worker, pack, map the error. No rule of the directory lives here (PgDirectory
// and storage/api normalise and check); never logs a request.
#include "services/metad/directory_service.h"

#include <chrono>

#include "lib/base/log.h"

namespace columba::metad {

namespace v1 = ::columba::v1;

v1::DirectoryAccount ToProto(const storage::Account& a) {
  v1::DirectoryAccount p;
  p.set_address(a.address);
  for (const auto& alias : a.aliases) p.add_aliases(alias);
  p.set_password_hash(a.password_hash);
  p.set_quota_bytes(a.quota_bytes);
  p.set_quota_messages(a.quota_messages);
  p.set_enabled(a.enabled);
  return p;
}

namespace {

storage::Account FromProto(const v1::DirectoryAccount& p) {
  storage::Account a;
  a.address = p.address();
  a.aliases.assign(p.aliases().begin(), p.aliases().end());
  a.password_hash = p.password_hash();
  a.quota_bytes = p.quota_bytes();
  a.quota_messages = p.quota_messages();
  a.enabled = p.enabled();
  return a;
}

// Result<void> -> Result<Resp> with an empty response.
template <class Resp>
Result<Resp> Empty(Result<void> r) {
  if (!r) return tl::unexpected(r.error());
  return Resp{};
}

}  // namespace

template <class Req, class Resp, class Fn>
grpc::ServerUnaryReactor* DirectoryService::Unary(Ctx* ctx, const char* method, const Req* req, Resp* resp, Fn fn) {
  auto* reactor = ctx->DefaultReactor();
  auto start = std::chrono::steady_clock::now();
  Metrics& metrics = runner_.metrics();
  bool ok = runner_.Submit([reactor, method, req, resp, fn, start, &metrics] {
    Result<Resp> r = fn(*req);
    grpc::Status st = grpc::Status::OK;
    if (r) {
      *resp = std::move(*r);
    } else {
      st = ToStatus(r.error());
      if (r.error().Temporary()) log::Warn("rpc failed", {{"method", method}, {"error", r.error().message}});
    }
    metrics.rpcs.Add({{"method", method}, {"code", CodeName(st.error_code())}}).Increment();
    metrics.latency.Add({{"method", method}}, LatencyBuckets())
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reactor->Finish(st);
  });
  if (!ok) {
    metrics.rpcs.Add({{"method", method}, {"code", "UNAVAILABLE"}}).Increment();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "metad overloaded"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* DirectoryService::Lookup(Ctx* ctx, const v1::DirectoryLookupRequest* req,
                                                   v1::DirectoryLookupResponse* resp) {
  return Unary(ctx, "Directory.Lookup", req, resp,
               [this](const v1::DirectoryLookupRequest& r) -> Result<v1::DirectoryLookupResponse> {
                 auto found = directory_->Lookup(r.address());
                 if (!found) return tl::unexpected(found.error());
                 v1::DirectoryLookupResponse out;
                 out.set_found(found->has_value());
                 if (*found) *out.mutable_account() = ToProto(**found);
                 return out;
               });
}

grpc::ServerUnaryReactor* DirectoryService::IsLocalDomain(Ctx* ctx, const v1::DirectoryIsLocalDomainRequest* req,
                                                          v1::DirectoryIsLocalDomainResponse* resp) {
  return Unary(ctx, "Directory.IsLocalDomain", req, resp,
               [this](const v1::DirectoryIsLocalDomainRequest& r) -> Result<v1::DirectoryIsLocalDomainResponse> {
                 auto local = directory_->IsLocalDomain(r.domain());
                 if (!local) return tl::unexpected(local.error());
                 v1::DirectoryIsLocalDomainResponse out;
                 out.set_local(*local);
                 return out;
               });
}

grpc::ServerUnaryReactor* DirectoryService::ListDomains(Ctx* ctx, const v1::DirectoryListDomainsRequest* req,
                                                        v1::DirectoryListDomainsResponse* resp) {
  return Unary(ctx, "Directory.ListDomains", req, resp,
               [this](const v1::DirectoryListDomainsRequest&) -> Result<v1::DirectoryListDomainsResponse> {
                 auto domains = directory_->ListDomains();
                 if (!domains) return tl::unexpected(domains.error());
                 v1::DirectoryListDomainsResponse out;
                 for (auto& d : *domains) out.add_domains(std::move(d));
                 return out;
               });
}

grpc::ServerUnaryReactor* DirectoryService::ListAccounts(Ctx* ctx, const v1::DirectoryListAccountsRequest* req,
                                                         v1::DirectoryListAccountsResponse* resp) {
  return Unary(ctx, "Directory.ListAccounts", req, resp,
               [this](const v1::DirectoryListAccountsRequest& r) -> Result<v1::DirectoryListAccountsResponse> {
                 auto accounts = directory_->ListAccounts(r.domain());
                 if (!accounts) return tl::unexpected(accounts.error());
                 v1::DirectoryListAccountsResponse out;
                 for (const auto& a : *accounts) *out.add_accounts() = ToProto(a);
                 return out;
               });
}

grpc::ServerUnaryReactor* DirectoryService::AddDomain(Ctx* ctx, const v1::DirectoryAddDomainRequest* req,
                                                      v1::DirectoryAddDomainResponse* resp) {
  return Unary(ctx, "Directory.AddDomain", req, resp, [this](const v1::DirectoryAddDomainRequest& r) {
    return Empty<v1::DirectoryAddDomainResponse>(directory_->AddDomain(r.domain()));
  });
}

grpc::ServerUnaryReactor* DirectoryService::AddAccount(Ctx* ctx, const v1::DirectoryAddAccountRequest* req,
                                                       v1::DirectoryAddAccountResponse* resp) {
  return Unary(ctx, "Directory.AddAccount", req, resp, [this](const v1::DirectoryAddAccountRequest& r) {
    return Empty<v1::DirectoryAddAccountResponse>(directory_->AddAccount(FromProto(r.account())));
  });
}

grpc::ServerUnaryReactor* DirectoryService::DeleteAccount(Ctx* ctx, const v1::DirectoryDeleteAccountRequest* req,
                                                          v1::DirectoryDeleteAccountResponse* resp) {
  return Unary(ctx, "Directory.DeleteAccount", req, resp, [this](const v1::DirectoryDeleteAccountRequest& r) {
    return Empty<v1::DirectoryDeleteAccountResponse>(directory_->DeleteAccount(r.address()));
  });
}

grpc::ServerUnaryReactor* DirectoryService::SetPasswordHash(Ctx* ctx, const v1::DirectorySetPasswordHashRequest* req,
                                                            v1::DirectorySetPasswordHashResponse* resp) {
  return Unary(ctx, "Directory.SetPasswordHash", req, resp, [this](const v1::DirectorySetPasswordHashRequest& r) {
    return Empty<v1::DirectorySetPasswordHashResponse>(directory_->SetPasswordHash(r.address(), r.password_hash()));
  });
}

grpc::ServerUnaryReactor* DirectoryService::SetQuota(Ctx* ctx, const v1::DirectorySetQuotaRequest* req,
                                                     v1::DirectorySetQuotaResponse* resp) {
  return Unary(ctx, "Directory.SetQuota", req, resp, [this](const v1::DirectorySetQuotaRequest& r) {
    return Empty<v1::DirectorySetQuotaResponse>(
        directory_->SetQuota(r.address(), r.quota_bytes(), r.quota_messages()));
  });
}

grpc::ServerUnaryReactor* DirectoryService::AddAlias(Ctx* ctx, const v1::DirectoryAddAliasRequest* req,
                                                     v1::DirectoryAddAliasResponse* resp) {
  return Unary(ctx, "Directory.AddAlias", req, resp, [this](const v1::DirectoryAddAliasRequest& r) {
    return Empty<v1::DirectoryAddAliasResponse>(directory_->AddAlias(r.alias(), r.target()));
  });
}

grpc::ServerUnaryReactor* DirectoryService::IsRelayDomain(Ctx* ctx, const v1::DirectoryIsRelayDomainRequest* req,
                                                          v1::DirectoryIsRelayDomainResponse* resp) {
  return Unary(ctx, "Directory.IsRelayDomain", req, resp,
               [this](const v1::DirectoryIsRelayDomainRequest& r) -> Result<v1::DirectoryIsRelayDomainResponse> {
                 auto relay = directory_->IsRelayDomain(r.domain());
                 if (!relay) return tl::unexpected(relay.error());
                 v1::DirectoryIsRelayDomainResponse out;
                 out.set_relay(*relay);
                 return out;
               });
}

grpc::ServerUnaryReactor* DirectoryService::ListRelayDomains(Ctx* ctx, const v1::DirectoryListRelayDomainsRequest* req,
                                                             v1::DirectoryListRelayDomainsResponse* resp) {
  return Unary(ctx, "Directory.ListRelayDomains", req, resp,
               [this](const v1::DirectoryListRelayDomainsRequest&) -> Result<v1::DirectoryListRelayDomainsResponse> {
                 auto domains = directory_->ListRelayDomains();
                 if (!domains) return tl::unexpected(domains.error());
                 v1::DirectoryListRelayDomainsResponse out;
                 for (auto& d : *domains) out.add_domains(std::move(d));
                 return out;
               });
}

grpc::ServerUnaryReactor* DirectoryService::AddRelayDomain(Ctx* ctx, const v1::DirectoryAddRelayDomainRequest* req,
                                                           v1::DirectoryAddRelayDomainResponse* resp) {
  return Unary(ctx, "Directory.AddRelayDomain", req, resp, [this](const v1::DirectoryAddRelayDomainRequest& r) {
    return Empty<v1::DirectoryAddRelayDomainResponse>(directory_->AddRelayDomain(r.domain()));
  });
}

}  // namespace columba::metad
