// pg_unit_test.cc - the pure parts of the PostgreSQL store: names, UID sets, notices.
#include <gtest/gtest.h>

#include "storage/postgres/pg_store.h"

using namespace columba::pg;

TEST(MailboxName, InboxIsCaseInsensitiveAlsoAsParent) {
  EXPECT_EQ(*CanonicalMailboxName("inbox"), "INBOX");
  EXPECT_EQ(*CanonicalMailboxName("InBoX/Lists"), "INBOX/Lists");
  EXPECT_EQ(*CanonicalMailboxName("Inboxes"), "Inboxes");
  EXPECT_EQ(*CanonicalMailboxName("Sent"), "Sent");
}

TEST(MailboxName, RejectsEmptyLevelsAndControls) {
  EXPECT_FALSE(CanonicalMailboxName("").has_value());
  EXPECT_FALSE(CanonicalMailboxName("a//b").has_value());
  EXPECT_FALSE(CanonicalMailboxName("/a").has_value());
  EXPECT_FALSE(CanonicalMailboxName("a/").has_value());
  EXPECT_FALSE(CanonicalMailboxName(std::string("a\0b", 3)).has_value());
  EXPECT_FALSE(CanonicalMailboxName("a\r\nb").has_value());
  EXPECT_EQ(CanonicalMailboxName(std::string(1001, 'x')).error().kind, columba::ErrorKind::kLimitExceeded);
}

TEST(UidSet, RendersOnlyNumbers) {
  columba::v1::UidSet s;
  auto* r = s.add_ranges();
  r->set_first(1);
  r->set_last(5);
  r = s.add_ranges();
  r->set_first(9);
  r->set_last(9);
  r = s.add_ranges();
  r->set_first(20);  // 20:*
  EXPECT_EQ(*UidSetCondition(s),
            "(uid BETWEEN 1 AND 5 OR uid = 9 OR uid >= 20 OR uid = (SELECT max(x.uid) FROM messages x"
            " WHERE x.account_id = messages.account_id AND x.mailbox_id = messages.mailbox_id))");
}

TEST(UidSet, ReversedRangeIsNormalisedAndZeroRejected) {
  columba::v1::UidSet s;
  auto* r = s.add_ranges();
  r->set_first(7);
  r->set_last(3);
  EXPECT_EQ(*UidSetCondition(s), "(uid BETWEEN 3 AND 7)");
  r->set_first(0);
  EXPECT_FALSE(UidSetCondition(s).has_value());
  EXPECT_FALSE(UidSetCondition(columba::v1::UidSet()).has_value());
}

TEST(Notice, RoundTrips) {
  ChangeNotice n{42, 7, 1234567890123ull, 99, true}, back;
  ASSERT_TRUE(ParseNotice(FormatNotice(n), back));
  EXPECT_EQ(back.account_id, 42u);
  EXPECT_EQ(back.mailbox_id, 7u);
  EXPECT_EQ(back.highestmodseq, 1234567890123ull);
  EXPECT_EQ(back.uidnext, 99u);
  EXPECT_TRUE(back.list_changed);
  EXPECT_FALSE(ParseNotice("1:2:3", back));
  EXPECT_FALSE(ParseNotice("1:2:3:4:x", back));
  EXPECT_FALSE(ParseNotice("", back));
}
