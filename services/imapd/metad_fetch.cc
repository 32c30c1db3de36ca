// metad_fetch.cc - metad Fetch (server streaming) on the blocking pool.
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

asio::awaitable<Result<std::vector<v1::MessageMeta>>> FetchMeta(Session& s, uint64_t mailbox_id, v1::UidSet uids,
                                                                 bool with_parsed, uint64_t changed_since) {
  v1::FetchRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(mailbox_id);
  *req.mutable_uids() = std::move(uids);
  req.set_with_parsed(with_parsed);
  req.set_changed_since(changed_since);
  auto& metad = s.ctx().metad;
  co_return co_await s.ctx().pool.Run([&]() -> Result<std::vector<v1::MessageMeta>> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + metad.deadline());
    ctx.set_wait_for_ready(true);
    auto reader = metad.stub().Fetch(&ctx, req);
    std::vector<v1::MessageMeta> out;
    v1::FetchResponse page;
    while (reader->Read(&page))
      for (auto& m : *page.mutable_messages()) out.push_back(std::move(m));
    grpc::Status st = reader->Finish();
    if (!st.ok()) return tl::unexpected(rpc::FromStatus(st));
    return out;
  });
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

}  // namespace columba::imapd
