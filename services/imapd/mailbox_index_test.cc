// mailbox_index_test.cc - the pure parts of the per-process mailbox index:
// building a snapshot and applying metad Changes to it (mailbox_index.h). Their
// use by FETCH, with the Watch stream's vouching, is tested end to end in
// tests/e2e/test_imap_idle.py (test_fetch_flags_from_the_index).
#include "services/imapd/mailbox_index.h"

#include <gtest/gtest.h>

namespace columba::imapd {
namespace {

v1::MessageMeta M(uint32_t uid, uint32_t flags, uint64_t modseq, std::vector<std::string> kw = {}) {
  v1::MessageMeta m;
  m.set_uid(uid);
  m.set_flags(flags);
  m.set_modseq(modseq);
  for (auto& k : kw) m.add_keywords(k);
  return m;
}

std::vector<std::tuple<uint32_t, uint32_t, uint64_t, std::vector<std::string>>> Dump(const IndexSnapshot& s) {
  std::vector<std::tuple<uint32_t, uint32_t, uint64_t, std::vector<std::string>>> out;
  for (const auto& r : s.recs) {
    auto m = s.Meta(r);
    out.emplace_back(m.uid(), m.flags(), m.modseq(), std::vector<std::string>(m.keywords().begin(), m.keywords().end()));
  }
  return out;
}

using Row = std::tuple<uint32_t, uint32_t, uint64_t, std::vector<std::string>>;

TEST(MailboxIndex, BuildSortsAndSharesKeywordLists) {
  auto s = BuildSnapshot({M(3, 1, 7, {"$Junk"}), M(1, 0, 2), M(2, 8, 5, {"$Junk"})}, 9);
  EXPECT_EQ(s->modseq, 9u);
  EXPECT_EQ(Dump(*s), (std::vector<Row>{{1, 0, 2, {}}, {2, 8, 5, {"$Junk"}}, {3, 1, 7, {"$Junk"}}}));
  EXPECT_EQ(s->keyword_sets.size(), 2u) << "the empty list and one shared $Junk list";
  ASSERT_NE(s->Find(2), nullptr);
  EXPECT_EQ(s->Find(2)->flags, 8u);
  EXPECT_EQ(s->Find(4), nullptr);
  EXPECT_GT(s->Bytes(), 3 * sizeof(IndexRec));
}

TEST(MailboxIndex, ChangesUpdateAddAndRemoveInUidOrder) {
  auto base = BuildSnapshot({M(1, 0, 1), M(2, 0, 2), M(4, 0, 4), M(5, 0, 5)}, 5);
  // 2 flagged, 4 expunged, 6 and 7 appended (7 then flagged: two states, the later wins),
  // 3 expunged long ago (not in the base: nothing to do).
  auto next = ApplyChanges(*base, {M(7, 4, 9), M(2, 4, 6), M(6, 0, 7), M(7, 0, 8)}, {4, 3}, 9);
  EXPECT_EQ(next->modseq, 9u);
  EXPECT_EQ(Dump(*next), (std::vector<Row>{{1, 0, 1, {}}, {2, 4, 6, {}}, {5, 0, 5, {}}, {6, 0, 7, {}}, {7, 4, 9, {}}}));
  EXPECT_EQ(Dump(*base).size(), 4u) << "the base snapshot is left as it was";
}

TEST(MailboxIndex, ExpungeWinsOverAChangeReadJustBeforeIt) {
  // Changes reads messages, then tombstones: a message expunged in between is in both.
  auto base = BuildSnapshot({M(1, 0, 1), M(2, 0, 2)}, 2);
  auto next = ApplyChanges(*base, {M(2, 8, 3), M(3, 0, 4)}, {2, 3}, 3);
  EXPECT_EQ(Dump(*next), (std::vector<Row>{{1, 0, 1, {}}}));
  EXPECT_EQ(next->modseq, 3u);
}

TEST(MailboxIndex, KeywordsChangeAndNoChangesKeepTheView) {
  auto base = BuildSnapshot({M(1, 0, 1, {"a"}), M(2, 0, 2)}, 2);
  auto next = ApplyChanges(*base, {M(1, 0, 3, {"a", "b"}), M(2, 0, 4, {"a"})}, {}, 4);
  EXPECT_EQ(Dump(*next), (std::vector<Row>{{1, 0, 3, {"a", "b"}}, {2, 0, 4, {"a"}}}));
  auto same = ApplyChanges(*next, {}, {}, 4);
  EXPECT_EQ(Dump(*same), Dump(*next));
  // A stale Changes answer never moves the snapshot's MODSEQ back.
  EXPECT_EQ(ApplyChanges(*next, {}, {}, 3)->modseq, 4u);
}

v1::SearchKey Set(uint32_t f) {
  v1::SearchKey k;
  k.set_flags_set(f);
  return k;
}
v1::SearchKey Unset(uint32_t f) {
  v1::SearchKey k;
  k.set_flags_unset(f);
  return k;
}
v1::SearchKey Uids(std::vector<std::pair<uint32_t, uint32_t>> ranges) {
  v1::SearchKey k;
  for (auto [a, b] : ranges) {
    auto* r = k.mutable_uids()->add_ranges();
    r->set_first(a);
    r->set_last(b);
  }
  return k;
}

TEST(MailboxIndex, SearchAnswersFlagKeysAsMetadDoes) {
  // \Seen = 1, \Flagged = 4 (lib/imap flag bits, as metad stores them).
  auto s = BuildSnapshot({M(1, 1, 3), M(2, 0, 4, {"$Work"}), M(3, 5, 9), M(7, 4, 12, {"$Work", "x"})}, 12);
  auto run = [&](std::vector<v1::SearchKey> keys) { return SearchIndex(*s, keys); };
  EXPECT_EQ(run({Unset(1)}), (std::vector<uint32_t>{2, 7}));                  // UNSEEN
  EXPECT_EQ(run({Set(1), Set(4)}), (std::vector<uint32_t>{3}));               // SEEN FLAGGED
  v1::SearchKey kw;
  kw.set_keyword("$Work");
  v1::SearchKey unkw;
  unkw.set_unkeyword("x");
  EXPECT_EQ(run({kw, unkw}), (std::vector<uint32_t>{2}));
  v1::SearchKey ms;
  ms.set_modseq_at_least(9);
  EXPECT_EQ(run({ms}), (std::vector<uint32_t>{3, 7}));
  // OR / NOT as any_of / none_of.
  v1::SearchKey any;
  *any.mutable_any_of()->add_keys() = kw;
  *any.mutable_any_of()->add_keys() = Set(1);
  EXPECT_EQ(run({any}), (std::vector<uint32_t>{1, 2, 3, 7}));
  v1::SearchKey none;
  *none.mutable_none_of()->add_keys() = Set(4);
  EXPECT_EQ(run({none}), (std::vector<uint32_t>{1, 2}));
  // UID sets: ranges either way round; N:* always holds the highest UID.
  EXPECT_EQ(run({Uids({{3, 1}})}), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(run({Uids({{50, 0}})}), (std::vector<uint32_t>{7}));
  EXPECT_EQ(run({Uids({{2, 2}, {5, 0}}), Unset(1)}), (std::vector<uint32_t>{2, 7}));
  // Anything else needs metad.
  v1::SearchKey subject;
  subject.set_subject("x");
  EXPECT_FALSE(run({Unset(1), subject}).has_value());
  EXPECT_FALSE(IndexCanSearch({any, subject}));
  EXPECT_TRUE(IndexCanSearch({any, none, ms}));
}

}  // namespace
}  // namespace columba::imapd
