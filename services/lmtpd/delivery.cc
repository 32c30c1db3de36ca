// delivery.cc - blob first, then metadata; see delivery.h for why the order matters.
#include "services/lmtpd/delivery.h"

#include "lib/imap/section.h"
#include "lib/rpc/parsed_fields.h"

namespace columba::lmtpd {

Result<std::shared_ptr<const PreparedMessage>> PrepareMessage(std::string data) {
  auto pm = std::make_shared<PreparedMessage>();
  pm->data = std::move(data);
  auto fields = rpc::ComputeMessageFields(pm->data);
  if (!fields) return tl::unexpected(fields.error());
  pm->parsed = std::move(fields->parsed);
  pm->part_map = std::move(fields->part_map);
  return std::shared_ptr<const PreparedMessage>(std::move(pm));
}

std::optional<AccountCache::Known> AccountCache::Get(const std::string& address, uint64_t sl, uint64_t ml) {
  std::lock_guard lk(mu_);
  auto it = map_.find(address);
  if (it == map_.end()) return std::nullopt;
  if (it->second.expires < std::chrono::steady_clock::now() || it->second.storage_limit != sl ||
      it->second.message_limit != ml) {
    map_.erase(it);
    return std::nullopt;
  }
  return Known{it->second.id, it->second.quota};
}

void AccountCache::Put(const std::string& address, uint64_t sl, uint64_t ml, uint64_t id, const v1::Quota& quota) {
  std::lock_guard lk(mu_);
  if (map_.size() > 100'000) map_.clear();  // bounded; a refill costs one RPC per account
  map_[address] = Entry{id, sl, ml, quota, std::chrono::steady_clock::now() + ttl_};
}

void AccountCache::UpdateQuota(const std::string& address, const v1::Quota& quota) {
  std::lock_guard lk(mu_);
  auto it = map_.find(address);
  if (it != map_.end()) it->second.quota = quota;
}

namespace {
DeliveryResult FromError(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kQuotaExceeded: return {Outcome::kQuotaExceeded, e.message};
    case ErrorKind::kInvalidInput:
    case ErrorKind::kLimitExceeded: return {Outcome::kRejected, e.message};
    default: return {Outcome::kTemporary, e.message};
  }
}
}  // namespace

asio::awaitable<DeliveryResult> DeliverToMailbox(DeliveryContext& ctx, const PreparedMessage& msg,
                                                 const std::string& return_path, const Recipient& rcpt) {
  const auto& acct = rcpt.account;
  // 1. The account in the mailstore (created with its default mailboxes on first delivery).
  auto known = ctx.accounts.Get(acct.address, acct.quota_bytes, acct.quota_messages);
  if (!known) {
    v1::EnsureAccountRequest req;
    req.set_address(acct.address);
    req.set_storage_limit(acct.quota_bytes);
    req.set_message_limit(acct.quota_messages);
    auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::EnsureAccount, std::move(req));
    if (!r) co_return FromError(r.error());
    known = AccountCache::Known{r->account().account_id(), r->account().quota()};
    ctx.accounts.Put(acct.address, acct.quota_bytes, acct.quota_messages, known->id, known->quota);
  }
  const uint64_t account_id = known->id;
  std::string prefix = "Return-Path: <" + return_path + ">\r\nDelivered-To: " + rcpt.address + "\r\n";
  const uint64_t size = prefix.size() + msg.data.size();

  // 2. Over quota by the last known usage? Ask metad for the current usage, and
  //    refuse before writing anything when it confirms (metad still checks at commit).
  auto over = [size](const v1::Quota& q) {
    return (q.storage_limit() > 0 && q.storage_used() + size > q.storage_limit()) ||
           (q.message_limit() > 0 && q.message_used() + 1 > q.message_limit());
  };
  if (over(known->quota)) {
    v1::GetQuotaRequest req;
    req.set_account_id(account_id);
    auto q = co_await ctx.metad.Call(&v1::Metadata::Stub::async::GetQuota, std::move(req));
    if (!q) co_return FromError(q.error());
    ctx.accounts.UpdateQuota(acct.address, q->quota());
    if (over(q->quota())) co_return DeliveryResult{Outcome::kQuotaExceeded, "mailbox quota exceeded"};
  }

  // 3. The bytes, durably. The trace headers come first (RFC 5321 4.4, RFC 9228).
  auto blob = co_await ctx.pool.Run([&]() -> Result<std::string> {
    auto sink = ctx.blobs.Create();
    if (!sink) return tl::unexpected(sink.error());
    if (auto w = (*sink)->Write(prefix); !w) return tl::unexpected(w.error());
    if (auto w = (*sink)->Write(msg.data); !w) return tl::unexpected(w.error());
    return (*sink)->Commit();
  });
  if (!blob) co_return DeliveryResult{Outcome::kTemporary, "blob store: " + blob.error().message};

  // 4. The metadata, committed by metad. Only its OK makes this copy delivered.
  v1::AppendRequest req;
  req.set_account_id(account_id);
  req.set_mailbox_name(rcpt.mailbox);
  req.set_fallback_to_inbox(true);
  req.set_blob_id(*blob);
  req.set_size(size);
  *req.mutable_parsed() = msg.parsed;
  auto* p = req.mutable_parsed();
  p->set_header_size(static_cast<uint32_t>(p->header_size() + prefix.size()));
  p->set_headers(prefix + p->headers());
  // Part offsets for IMAP FETCH sections, relative to the stored bytes (prefix included).
  imap::PartMap map = msg.part_map;
  imap::PrependHeaderLines(map, prefix.size());
  p->set_part_offsets(imap::SerializePartMap(map));
  auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::Append, std::move(req));
  if (!r) co_return FromError(r.error());
  ctx.accounts.UpdateQuota(acct.address, r->quota());
  co_return DeliveryResult{Outcome::kDelivered, r->mailbox_name(), r->uid()};
}

}  // namespace columba::lmtpd
