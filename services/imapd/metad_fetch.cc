// metad_fetch.cc - metad FetchPage (unary) for small reads, then the Fetch stream on the blocking pool.
#include "services/imapd/metad_fetch.h"

#include "lib/imap/format.h"
#include "lib/imap/utf7.h"

namespace columba::imapd {

namespace {

// Up to one page of messages comes from one unary FetchPage on the gRPC callback
// path (most FETCHes name a few UIDs); only when that page is full does the rest
// come from a Fetch stream after its last UID, read on the blocking pool. `each`
// sees every message (it may move from it) while the caller waits.
// Pages with body text and headers (up to hundreds of KiB each) are kept short.
constexpr uint32_t kUnaryPage = 200, kUnaryPageWithText = 16;

asio::awaitable<Result<void>> ReadFetch(Session& s, v1::FetchRequest req,
                                        const std::function<void(v1::MessageMeta&)>& each) {
  auto& metad = s.ctx().metad;
  v1::FetchRequest first = req;
  first.set_page_size(req.with_parsed() && !req.without_text() ? kUnaryPageWithText : kUnaryPage);
  auto page = co_await metad.Call(&v1::Metadata::Stub::async::FetchPage, std::move(first));
  if (!page) co_return tl::unexpected(page.error());
  if (page->messages_size() == 0) co_return Result<void>{};
  req.set_after_uid(page->messages(page->messages_size() - 1).uid());  // before `each` moves from it
  for (auto& m : *page->mutable_messages()) each(m);
  if (!page->more()) co_return Result<void>{};
  co_return co_await s.ctx().pool.Run([&]() -> Result<void> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + metad.deadline());
    ctx.set_wait_for_ready(true);
    auto reader = metad.stub().Fetch(&ctx, req);
    v1::FetchResponse rest;
    while (reader->Read(&rest))
      for (auto& m : *rest.mutable_messages()) each(m);
    grpc::Status st = reader->Finish();
    if (!st.ok()) return tl::unexpected(rpc::FromStatus(st));
    return {};
  });
}

v1::FetchRequest MakeFetch(Session& s, uint64_t mailbox_id, v1::UidSet uids, bool with_parsed) {
  v1::FetchRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(mailbox_id);
  *req.mutable_uids() = std::move(uids);
  req.set_with_parsed(with_parsed);
  return req;
}

}  // namespace

asio::awaitable<Result<std::vector<v1::MessageMeta>>> FetchMeta(Session& s, uint64_t mailbox_id, v1::UidSet uids,
                                                                 bool with_parsed, uint64_t changed_since,
                                                                 bool without_text) {
  v1::FetchRequest req = MakeFetch(s, mailbox_id, std::move(uids), with_parsed);
  req.set_changed_since(changed_since);
  req.set_without_text(without_text);
  std::vector<v1::MessageMeta> out;
  auto r = co_await ReadFetch(s, std::move(req), [&out](v1::MessageMeta& m) { out.push_back(std::move(m)); });
  if (!r) co_return tl::unexpected(r.error());
  co_return out;
}

asio::awaitable<Result<void>> FetchMetaEach(Session& s, uint64_t mailbox_id, v1::UidSet uids, bool with_parsed,
                                            std::function<void(const v1::MessageMeta&)> each) {
  co_return co_await ReadFetch(s, MakeFetch(s, mailbox_id, std::move(uids), with_parsed),
                               [&each](v1::MessageMeta& m) { each(m); });
}

v1::UidSet ToUidSet(const imap::UidList& uids) {
  v1::UidSet set;
  for (const auto& run : uids.runs()) {
    auto* r = set.add_ranges();
    r->set_first(run.first);
    r->set_last(run.last());
  }
  return set;
}

v1::UidSet ToUidSet(std::span<const uint32_t> uids) {
  v1::UidSet set;
  size_t i = 0;
  while (i < uids.size()) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    auto* r = set.add_ranges();
    r->set_first(uids[i]);
    r->set_last(uids[j]);
    i = j + 1;
  }
  return set;
}

asio::awaitable<Result<MailboxChanges>> ChangesSince(Session& s, uint64_t mailbox_id, uint64_t since) {
  v1::ChangesRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(mailbox_id);
  req.set_since_modseq(since);
  req.set_page_size(1000);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::Changes, std::move(req));
  if (!r) co_return tl::unexpected(r.error());
  MailboxChanges out;
  out.expunged.assign(r->expunged_uids().begin(), r->expunged_uids().end());
  out.highestmodseq = r->highestmodseq();
  if (!r->truncated()) {
    out.changed.assign(std::make_move_iterator(r->mutable_changed()->begin()),
                       std::make_move_iterator(r->mutable_changed()->end()));
    co_return out;
  }
  v1::UidSet all;
  auto* range = all.add_ranges();
  range->set_first(1);
  range->set_last(0);  // to the highest UID
  auto metas = co_await FetchMeta(s, mailbox_id, std::move(all), false, since);
  if (!metas) co_return tl::unexpected(metas.error());
  out.changed = std::move(*metas);
  co_return out;
}

std::optional<std::string> MailboxFromWire(const Session& s, std::string_view wire) {
  if (s.utf8()) {
    if (!imap::IsValidUtf8(wire)) return std::nullopt;
    return CanonicalInbox(std::string(wire));
  }
  auto name = imap::Utf7ToUtf8(wire);
  if (!name) return std::nullopt;
  return CanonicalInbox(std::move(*name));
}

std::string MailboxToWire(const Session& s, std::string_view name) {
  return s.utf8() ? std::string(name) : imap::Utf8ToUtf7(name);
}

std::string CanonicalInbox(std::string name) {
  if (name.size() >= 5 && (name.size() == 5 || name[5] == '/')) {
    std::string head = name.substr(0, 5);
    for (char& c : head) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (head == "INBOX") name.replace(0, 5, "INBOX");
  }
  return name;
}

}  // namespace columba::imapd
