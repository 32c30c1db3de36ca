// sql_directory.cc - SqlDirectory: one unary gRPC call per Directory method; see
// sql_directory.h. Holds no state beyond the channel: nothing is cached here.
#include "storage/sqldir/sql_directory.h"

#include <grpcpp/grpcpp.h>

#include "columba/v1/directory.grpc.pb.h"
#include "lib/rpc/metad_client.h"

namespace columba::storage {

namespace v1 = ::columba::v1;

struct SqlDirectory::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Directory::Stub> stub;
  std::chrono::milliseconds deadline;

  template <class Req, class Resp>
  Result<Resp> Call(grpc::Status (v1::Directory::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    // Within the deadline, wait for metad to come (back) instead of failing fast
    // while the channel reconnects after a metad restart.
    ctx.set_wait_for_ready(true);
    Resp resp;
    grpc::Status s = ((*stub).*method)(&ctx, req, &resp);
    if (!s.ok()) return tl::unexpected(rpc::FromStatus(s));
    return resp;
  }
};

namespace {

Account FromProto(const v1::DirectoryAccount& p) {
  Account a;
  a.address = p.address();
  a.aliases.assign(p.aliases().begin(), p.aliases().end());
  a.password_hash = p.password_hash();
  a.quota_bytes = p.quota_bytes();
  a.quota_messages = p.quota_messages();
  a.enabled = p.enabled();
  return a;
}

template <class T>
Result<void> Done(const Result<T>& r) {
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace

Result<std::shared_ptr<SqlDirectory>> SqlDirectory::Create(SqlDirectoryConfig config) {
  if (config.metad_address.empty())
    return Fail(ErrorKind::kInvalidInput, "metad.address is required for directory.backend sql");
  if (config.deadline.count() <= 0) return Fail(ErrorKind::kInvalidInput, "the directory deadline must be positive");
  auto impl = std::make_unique<Impl>();
  grpc::ChannelArguments args;
  // Reconnect quickly after a metad restart (the values lib/rpc/metad_client.cc uses).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  impl->channel = grpc::CreateCustomChannel(config.metad_address, grpc::InsecureChannelCredentials(), args);
  impl->stub = v1::Directory::NewStub(impl->channel);
  impl->deadline = config.deadline;
  return std::shared_ptr<SqlDirectory>(new SqlDirectory(std::move(impl)));
}

SqlDirectory::SqlDirectory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqlDirectory::~SqlDirectory() = default;

Result<std::optional<Account>> SqlDirectory::Lookup(std::string_view address) {
  v1::DirectoryLookupRequest req;
  req.set_address(std::string(address));
  auto r = impl_->Call(&v1::Directory::Stub::Lookup, req);
  if (!r) return tl::unexpected(r.error());
  if (!r->found()) return std::optional<Account>();
  return std::optional<Account>(FromProto(r->account()));
}

Result<bool> SqlDirectory::IsLocalDomain(std::string_view domain) {
  v1::DirectoryIsLocalDomainRequest req;
  req.set_domain(std::string(domain));
  auto r = impl_->Call(&v1::Directory::Stub::IsLocalDomain, req);
  if (!r) return tl::unexpected(r.error());
  return r->local();
}

Result<bool> SqlDirectory::IsRelayDomain(std::string_view domain) {
  v1::DirectoryIsRelayDomainRequest req;
  req.set_domain(std::string(domain));
  auto r = impl_->Call(&v1::Directory::Stub::IsRelayDomain, req);
  if (!r) return tl::unexpected(r.error());
  return r->relay();
}

Result<std::vector<std::string>> SqlDirectory::ListRelayDomains() {
  auto r = impl_->Call(&v1::Directory::Stub::ListRelayDomains, v1::DirectoryListRelayDomainsRequest{});
  if (!r) return tl::unexpected(r.error());
  return std::vector<std::string>(r->domains().begin(), r->domains().end());
}

Result<void> SqlDirectory::AddRelayDomain(std::string_view domain) {
  v1::DirectoryAddRelayDomainRequest req;
  req.set_domain(std::string(domain));
  return Done(impl_->Call(&v1::Directory::Stub::AddRelayDomain, req));
}

Result<std::vector<std::string>> SqlDirectory::ListDomains() {
  auto r = impl_->Call(&v1::Directory::Stub::ListDomains, v1::DirectoryListDomainsRequest{});
  if (!r) return tl::unexpected(r.error());
  return std::vector<std::string>(r->domains().begin(), r->domains().end());
}

Result<std::vector<Account>> SqlDirectory::ListAccounts(std::string_view domain) {
  v1::DirectoryListAccountsRequest req;
  req.set_domain(std::string(domain));
  auto r = impl_->Call(&v1::Directory::Stub::ListAccounts, req);
  if (!r) return tl::unexpected(r.error());
  std::vector<Account> out;
  out.reserve(static_cast<size_t>(r->accounts_size()));
  for (const auto& a : r->accounts()) out.push_back(FromProto(a));
  return out;
}

Result<void> SqlDirectory::AddDomain(std::string_view domain) {
  v1::DirectoryAddDomainRequest req;
  req.set_domain(std::string(domain));
  return Done(impl_->Call(&v1::Directory::Stub::AddDomain, req));
}

Result<void> SqlDirectory::AddAccount(const Account& account) {
  v1::DirectoryAddAccountRequest req;
  auto* p = req.mutable_account();
  p->set_address(account.address);
  for (const auto& alias : account.aliases) p->add_aliases(alias);
  p->set_password_hash(account.password_hash);
  p->set_quota_bytes(account.quota_bytes);
  p->set_quota_messages(account.quota_messages);
  p->set_enabled(account.enabled);
  return Done(impl_->Call(&v1::Directory::Stub::AddAccount, req));
}

Result<void> SqlDirectory::DeleteAccount(std::string_view address) {
  v1::DirectoryDeleteAccountRequest req;
  req.set_address(std::string(address));
  return Done(impl_->Call(&v1::Directory::Stub::DeleteAccount, req));
}

Result<void> SqlDirectory::SetPasswordHash(std::string_view address, std::string_view hash) {
  v1::DirectorySetPasswordHashRequest req;
  req.set_address(std::string(address));
  req.set_password_hash(std::string(hash));
  return Done(impl_->Call(&v1::Directory::Stub::SetPasswordHash, req));
}

Result<void> SqlDirectory::SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) {
  v1::DirectorySetQuotaRequest req;
  req.set_address(std::string(address));
  req.set_quota_bytes(bytes);
  req.set_quota_messages(messages);
  return Done(impl_->Call(&v1::Directory::Stub::SetQuota, req));
}

Result<void> SqlDirectory::AddAlias(std::string_view alias, std::string_view target) {
  v1::DirectoryAddAliasRequest req;
  req.set_alias(std::string(alias));
  req.set_target(std::string(target));
  return Done(impl_->Call(&v1::Directory::Stub::AddAlias, req));
}

}  // namespace columba::storage
