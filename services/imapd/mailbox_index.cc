// mailbox_index.cc - building, refreshing and sharing index snapshots (mailbox_index.h).
#include "services/imapd/mailbox_index.h"

#include <algorithm>
#include <map>

#include "lib/base/log.h"
#include "services/imapd/metad_fetch.h"
#include "services/imapd/watch.h"

namespace columba::imapd {

namespace {

// Keyword lists are few and shared by many messages: each distinct list is kept once.
class KeywordSets {
 public:
  explicit KeywordSets(std::vector<std::vector<std::string>>& sets) : sets_(sets) {
    if (sets_.empty()) sets_.emplace_back();
    for (uint32_t i = 0; i < sets_.size(); ++i) index_.emplace(sets_[i], i);
  }
  uint32_t Of(const v1::MessageMeta& m) {
    if (m.keywords_size() == 0) return 0;
    std::vector<std::string> k(m.keywords().begin(), m.keywords().end());
    auto [it, added] = index_.emplace(k, static_cast<uint32_t>(sets_.size()));
    if (added) sets_.push_back(std::move(k));
    return it->second;
  }

 private:
  std::vector<std::vector<std::string>>& sets_;
  std::map<std::vector<std::string>, uint32_t> index_;
};

IndexRec Rec(const v1::MessageMeta& m, KeywordSets& kw) {
  return IndexRec{m.uid(), m.flags(), m.modseq(), kw.Of(m)};
}

bool Evaluable(const v1::SearchKey& k, int depth) {
  if (depth > 64) return false;
  switch (k.key_case()) {
    case v1::SearchKey::kUids:
    case v1::SearchKey::kFlagsSet:
    case v1::SearchKey::kFlagsUnset:
    case v1::SearchKey::kKeyword:
    case v1::SearchKey::kUnkeyword:
    case v1::SearchKey::kModseqAtLeast: return true;
    case v1::SearchKey::kAnyOf:
      return std::all_of(k.any_of().keys().begin(), k.any_of().keys().end(),
                         [depth](const auto& c) { return Evaluable(c, depth + 1); });
    case v1::SearchKey::kNoneOf:
      return std::all_of(k.none_of().keys().begin(), k.none_of().keys().end(),
                         [depth](const auto& c) { return Evaluable(c, depth + 1); });
    default: return false;
  }
}

bool HasKeyword(const IndexSnapshot& s, const IndexRec& r, const std::string& k) {
  const auto& set = s.keyword_sets[r.keywords];
  return std::find(set.begin(), set.end(), k) != set.end();
}

// As metad's SQL (storage/postgres/pg_store.cc KeyToSql, UidSetCondition).
bool Matches(const IndexSnapshot& s, const IndexRec& r, const v1::SearchKey& k) {
  switch (k.key_case()) {
    case v1::SearchKey::kUids:
      for (const auto& range : k.uids().ranges()) {
        uint32_t a = range.first(), b = range.last();
        if (b == 0) {  // N:* includes the highest UID even when N is above it
          if (r.uid >= a || (!s.recs.empty() && r.uid == s.recs.back().uid)) return true;
          continue;
        }
        if (b < a) std::swap(a, b);
        if (r.uid >= a && r.uid <= b) return true;
      }
      return false;
    case v1::SearchKey::kFlagsSet: return (r.flags & (k.flags_set() & 31)) == (k.flags_set() & 31);
    case v1::SearchKey::kFlagsUnset: return (r.flags & (k.flags_unset() & 31)) == 0;
    case v1::SearchKey::kKeyword: return HasKeyword(s, r, k.keyword());
    case v1::SearchKey::kUnkeyword: return !HasKeyword(s, r, k.unkeyword());
    case v1::SearchKey::kModseqAtLeast: return r.modseq >= k.modseq_at_least();
    case v1::SearchKey::kAnyOf:
      return std::any_of(k.any_of().keys().begin(), k.any_of().keys().end(),
                         [&](const auto& c) { return Matches(s, r, c); });
    case v1::SearchKey::kNoneOf:
      return std::none_of(k.none_of().keys().begin(), k.none_of().keys().end(),
                          [&](const auto& c) { return Matches(s, r, c); });
    default: return false;  // not Evaluable
  }
}

}  // namespace

bool IndexCanSearch(const std::vector<v1::SearchKey>& keys) {
  return std::all_of(keys.begin(), keys.end(), [](const v1::SearchKey& k) { return Evaluable(k, 0); });
}

std::optional<std::vector<uint32_t>> SearchIndex(const IndexSnapshot& s, const std::vector<v1::SearchKey>& keys) {
  if (!IndexCanSearch(keys)) return std::nullopt;
  std::vector<uint32_t> out;
  for (const auto& r : s.recs)
    if (std::all_of(keys.begin(), keys.end(), [&](const v1::SearchKey& k) { return Matches(s, r, k); }))
      out.push_back(r.uid);
  return out;
}

const IndexRec* IndexSnapshot::Find(uint32_t uid) const {
  auto it = std::lower_bound(recs.begin(), recs.end(), uid, [](const IndexRec& r, uint32_t u) { return r.uid < u; });
  return it != recs.end() && it->uid == uid ? &*it : nullptr;
}

size_t IndexSnapshot::Bytes() const {
  size_t n = sizeof(*this) + recs.capacity() * sizeof(IndexRec);
  for (const auto& k : keyword_sets) {
    n += sizeof(k);
    for (const auto& w : k) n += sizeof(w) + w.capacity();
  }
  return n;
}

v1::MessageMeta IndexSnapshot::Meta(const IndexRec& r) const {
  v1::MessageMeta m;
  m.set_uid(r.uid);
  m.set_flags(r.flags);
  m.set_modseq(r.modseq);
  for (const auto& k : keyword_sets[r.keywords]) m.add_keywords(k);
  return m;
}

std::shared_ptr<IndexSnapshot> BuildSnapshot(std::vector<v1::MessageMeta> messages, uint64_t modseq) {
  auto s = std::make_shared<IndexSnapshot>();
  s->modseq = modseq;
  KeywordSets kw(s->keyword_sets);
  s->recs.reserve(messages.size());
  for (const auto& m : messages) s->recs.push_back(Rec(m, kw));
  std::sort(s->recs.begin(), s->recs.end(), [](const IndexRec& a, const IndexRec& b) { return a.uid < b.uid; });
  s->recs.erase(std::unique(s->recs.begin(), s->recs.end(),
                            [](const IndexRec& a, const IndexRec& b) { return a.uid == b.uid; }),
                s->recs.end());
  return s;
}

std::shared_ptr<IndexSnapshot> ApplyChanges(const IndexSnapshot& base, const std::vector<v1::MessageMeta>& changed,
                                            const std::vector<uint32_t>& expunged, uint64_t modseq) {
  auto s = std::make_shared<IndexSnapshot>();
  s->modseq = std::max(base.modseq, modseq);
  s->keyword_sets = base.keyword_sets;
  KeywordSets kw(s->keyword_sets);
  std::vector<uint32_t> gone(expunged);
  std::sort(gone.begin(), gone.end());
  std::vector<IndexRec> upd;
  upd.reserve(changed.size());
  for (const auto& m : changed) upd.push_back(Rec(m, kw));
  // Ascending UID; of two states of one UID the later (higher MODSEQ) wins.
  std::sort(upd.begin(), upd.end(), [](const IndexRec& a, const IndexRec& b) {
    return a.uid != b.uid ? a.uid < b.uid : a.modseq < b.modseq;
  });
  auto keep = [&](const IndexRec& r) {
    if (!std::binary_search(gone.begin(), gone.end(), r.uid)) s->recs.push_back(r);
  };
  s->recs.reserve(base.recs.size() + upd.size());
  size_t i = 0, j = 0;
  while (i < base.recs.size() || j < upd.size()) {
    if (j < upd.size() && j + 1 < upd.size() && upd[j + 1].uid == upd[j].uid) {
      ++j;  // an older state of the same UID
      continue;
    }
    if (j == upd.size() || (i < base.recs.size() && base.recs[i].uid < upd[j].uid)) {
      keep(base.recs[i++]);
    } else {
      if (i < base.recs.size() && base.recs[i].uid == upd[j].uid) ++i;  // replaced
      keep(upd[j++]);
    }
  }
  return s;
}

asio::awaitable<std::shared_ptr<const IndexSnapshot>> CurrentIndex(Session& s, uint64_t mailbox) {
  auto& ctx = s.ctx();
  if (ctx.cfg.index_max_messages == 0) co_return nullptr;
  if (s.selected() && s.selected()->id == mailbox && s.selected()->uids.size() > ctx.cfg.index_max_messages)
    co_return nullptr;
  auto& hub = ctx.watches;
  const auto now = std::chrono::steady_clock::now();
  const auto probe = hub.Look(s.account_id(), mailbox);
  if (!probe.ready) {
    ctx.metrics.index_unavailable.Increment();
    co_return nullptr;
  }
  std::shared_ptr<const IndexSnapshot> snap = hub.Index(mailbox);
  if (snap && Vouches(snap->probe, snap->modseq, snap->read_at, probe, now, ctx.cfg.poll_max_staleness)) {
    ctx.metrics.index_hits.Increment();
    co_return snap;
  }
  std::shared_ptr<IndexSnapshot> next;
  if (snap) {
    auto ch = co_await ChangesSince(s, mailbox, snap->modseq);
    if (!ch) co_return nullptr;
    next = ApplyChanges(*snap, ch->changed, ch->expunged, ch->highestmodseq);
    ctx.metrics.index_refreshes.Increment();
  } else {
    if (hub.index_bytes() >= ctx.cfg.index_max_bytes) {
      ctx.metrics.index_unavailable.Increment();
      co_return nullptr;
    }
    // The MODSEQ first (a Changes that cannot match anything), then every
    // message (pages may show later states), then what changed since: exact
    // from that MODSEQ on.
    auto head = co_await ChangesSince(s, mailbox, uint64_t{1} << 62);
    if (!head) co_return nullptr;
    v1::UidSet all;
    auto* range = all.add_ranges();
    range->set_first(1);
    range->set_last(0);
    auto metas = co_await FetchMeta(s, mailbox, std::move(all), false);
    if (!metas) co_return nullptr;
    if (metas->size() > ctx.cfg.index_max_messages) co_return nullptr;
    auto base = BuildSnapshot(std::move(*metas), head->highestmodseq);
    auto ch = co_await ChangesSince(s, mailbox, base->modseq);
    if (!ch) co_return nullptr;
    next = ApplyChanges(*base, ch->changed, ch->expunged, ch->highestmodseq);
    ctx.metrics.index_builds.Increment();
  }
  next->probe = probe;
  next->read_at = now;
  if (!hub.PutIndex(mailbox, next, ctx.cfg.index_max_bytes)) ctx.metrics.index_unavailable.Increment();
  co_return next;  // current for this command even when not kept
}

}  // namespace columba::imapd
