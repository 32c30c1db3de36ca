// message_cache_test.cc - the LRU of unchanging message metadata (message_cache.h).
// Its use by FETCH is tested end to end in tests/e2e/test_imap_idle.py
// (test_fetch_flags_from_the_index) and by every FETCH test of the e2e suite.
#include "services/imapd/message_cache.h"

#include <gtest/gtest.h>

namespace columba::imapd {
namespace {

v1::MessageMeta M(uint32_t uid, bool parsed, size_t pad = 0) {
  v1::MessageMeta m;
  m.set_uid(uid);
  m.set_flags(5);
  m.add_keywords("$Work");
  m.set_modseq(77);
  m.set_size(1000 + uid);
  m.set_blob_id(std::string(64, 'a'));
  if (parsed) {
    m.mutable_parsed()->set_envelope("(\"env\"" + std::string(pad, 'x') + ")");
    m.mutable_parsed()->set_body_text("body text is never kept");
    m.mutable_parsed()->set_headers("Subject: never kept\r\n");
  }
  return m;
}

TEST(MessageCache, KeepsOnlyWhatNeverChanges) {
  MessageCache c(1 << 20);
  c.Put(7, M(1, true));
  auto m = c.Get(7, 1);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->size(), 1001u);
  EXPECT_EQ(m->parsed().envelope(), "(\"env\")");
  EXPECT_EQ(m->flags(), 0u) << "flags come from the mailbox index";
  EXPECT_EQ(m->modseq(), 0u);
  EXPECT_EQ(m->keywords_size(), 0);
  EXPECT_TRUE(m->parsed().body_text().empty());
  EXPECT_TRUE(m->parsed().headers().empty());
  EXPECT_EQ(c.Get(8, 1), nullptr) << "another mailbox";
  EXPECT_EQ(c.Get(7, 2), nullptr);
}

TEST(MessageCache, ParsedFieldsReplaceAnEntryWithoutThem) {
  MessageCache c(1 << 20);
  c.Put(1, M(3, false));
  EXPECT_FALSE(c.Get(1, 3)->has_parsed());
  c.Put(1, M(3, true));
  EXPECT_TRUE(c.Get(1, 3)->has_parsed());
  c.Put(1, M(3, false));
  EXPECT_TRUE(c.Get(1, 3)->has_parsed()) << "never downgraded";
  EXPECT_EQ(c.size(), 1u);
}

TEST(MessageCache, LeastRecentlyUsedGoFirstWithinTheBudget) {
  MessageCache c(10'000);
  for (uint32_t u = 1; u <= 6; ++u) c.Put(1, M(u, true, 2000));
  EXPECT_LE(c.bytes(), 10'000u);
  ASSERT_LT(c.size(), 6u);
  EXPECT_NE(c.Get(1, 6), nullptr) << "the newest stays";
  EXPECT_EQ(c.Get(1, 1), nullptr) << "the oldest went";
  // Using an entry protects it.
  const size_t n = c.size();
  uint32_t oldest = 7 - static_cast<uint32_t>(n);
  ASSERT_NE(c.Get(1, oldest), nullptr);
  c.Put(1, M(100, true, 2000));
  EXPECT_NE(c.Get(1, oldest), nullptr);
  EXPECT_EQ(c.Get(1, oldest + 1), nullptr);
  MessageCache none(0);
  none.Put(1, M(1, true));
  EXPECT_EQ(none.Get(1, 1), nullptr) << "0 bytes: no cache";
}

}  // namespace
}  // namespace columba::imapd
