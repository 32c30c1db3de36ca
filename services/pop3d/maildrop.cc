// maildrop.cc - the maildrop lock with its lease renewal, and the INBOX
// snapshot from metad (maildrop.h).
#include "services/pop3d/maildrop.h"

#include <openssl/rand.h>

#include <cstdio>

#include "lib/base/log.h"

namespace columba::pop3d {

using net::kNoThrow;

uint64_t Maildrop::Count() const {
  uint64_t n = 0;
  for (const auto& m : messages) n += m.deleted ? 0 : 1;
  return n;
}

uint64_t Maildrop::Octets() const {
  uint64_t n = 0;
  for (const auto& m : messages) n += m.deleted ? 0 : m.size;
  return n;
}

const Maildrop::Message* Maildrop::Find(uint32_t n) const {
  if (n == 0 || n > messages.size()) return nullptr;
  const Message& m = messages[n - 1];
  return m.deleted ? nullptr : &m;
}

std::string Maildrop::Uidl(const Message& m) const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08X%08X", m.uid, uidvalidity);
  return buf;
}

namespace {
std::string RandomToken() {
  unsigned char raw[16];
  RAND_bytes(raw, sizeof raw);
  return storage::HexEncode(raw, sizeof raw);
}
}  // namespace

MaildropLock::MaildropLock(ServerContext& ctx, std::string address, asio::any_io_executor ex)
    : ctx_(ctx), key_("pop3:" + address), token_(RandomToken()), timer_(std::move(ex)) {}

asio::awaitable<MaildropLock::Outcome> MaildropLock::Take() {
  auto lease = ctx_.cfg.lock_lease;
  Result<bool> r = co_await ctx_.pool.Run([this, lease] { return ctx_.ephemeral.TryLock(key_, token_, lease); });
  Outcome out = Outcome::kUnavailable;
  if (!r) {
    log::Warn("maildrop lock unavailable", {{"error", r.error().message}});
  } else if (*r) {
    held_ = true;
    out = Outcome::kTaken;
  } else {
    out = Outcome::kInUse;
  }
  co_return out;
}

void MaildropLock::StartRenewal() {
  auto self = shared_from_this();
  asio::co_spawn(timer_.get_executor(), [self]() -> asio::awaitable<void> { co_await self->RenewLoop(); },
                 asio::detached);
}

asio::awaitable<void> MaildropLock::RenewLoop() {
  const auto period = std::max(ctx_.cfg.lock_lease / 3, std::chrono::milliseconds(1));
  while (!stopped_ && !lost_) {
    timer_.expires_after(period);
    co_await timer_.async_wait(kNoThrow);
    if (stopped_) break;
    bool still = co_await Confirm();
    if (!still && lost_) {
      ctx_.metrics.locks.Add({{"result", "lost"}}).Increment();
      log::Warn("maildrop lock lost", {{"key", "pop3"}});
    }
  }
}

asio::awaitable<bool> MaildropLock::Confirm() {
  bool ours = false;
  if (held_ && !lost_) {
    auto lease = ctx_.cfg.lock_lease;
    Result<bool> r = co_await ctx_.pool.Run([this, lease] { return ctx_.ephemeral.Refresh(key_, token_, lease); });
    if (!r) {
      ctx_.metrics.Error("redis");  // may be brief: the next renewal tries again
    } else if (!*r) {
      lost_ = true;
    } else {
      ours = true;
    }
  }
  co_return ours;
}

asio::awaitable<void> MaildropLock::Release() {
  const bool was_held = held_;  // a local at the top on purpose (GCC 12, see Session::ReleaseLock)
  stopped_ = true;
  held_ = false;
  timer_.cancel();
  if (was_held) {
    Result<bool> r = co_await ctx_.pool.Run([this] { return ctx_.ephemeral.Unlock(key_, token_); });
    if (!r) ctx_.metrics.Error("redis");  // the lease ends it
  }
}

asio::awaitable<Result<Maildrop>> LoadMaildrop(ServerContext& ctx, uint64_t account_id) {
  v1::GetMailboxRequest greq;
  greq.set_account_id(account_id);
  greq.set_name("INBOX");
  auto mb = co_await ctx.metad.Call(&v1::Metadata::Stub::async::GetMailbox, std::move(greq));
  if (!mb) co_return tl::unexpected(mb.error());
  Maildrop drop;
  drop.mailbox_id = mb->mailbox().mailbox_id();
  drop.uidvalidity = mb->mailbox().uidvalidity();
  drop.messages.reserve(mb->mailbox().messages());
  uint32_t after = 0;
  for (;;) {
    v1::FetchRequest req;
    req.set_account_id(account_id);
    req.set_mailbox_id(drop.mailbox_id);
    auto* range = req.mutable_uids()->add_ranges();
    range->set_first(1);
    range->set_last(UINT32_MAX);
    req.set_page_size(ctx.cfg.fetch_page);
    req.set_after_uid(after);
    auto page = co_await ctx.metad.Call(&v1::Metadata::Stub::async::FetchPage, std::move(req));
    if (!page) co_return tl::unexpected(page.error());
    for (const auto& m : page->messages()) {
      drop.messages.push_back(Maildrop::Message{m.uid(), m.size(), m.blob_id(), false});
      after = m.uid();
    }
    if (!page->more() || page->messages().empty()) break;
  }
  co_return drop;
}

}  // namespace columba::pop3d
