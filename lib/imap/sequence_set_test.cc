// sequence_set_test.cc - parsing, resolving, membership and formatting of sequence sets.
// Hermetic: never touches the network, the file system or the clock.
#include "lib/imap/sequence_set.h"

#include <gtest/gtest.h>

namespace columba::imap {
namespace {

std::string Resolved(std::string_view text, uint32_t max) {
  auto s = SequenceSet::Parse(text);
  EXPECT_TRUE(s.has_value()) << text;
  return s ? s->Resolve(max).ToString() : "";
}

TEST(SequenceSet, ParsesAndFormatsAsWritten) {
  for (const char* t : {"1", "1:5", "*", "1:*", "*:4", "5:3", "1,3,5:7,*", "4294967295", "$"}) {
    auto s = SequenceSet::Parse(t);
    ASSERT_TRUE(s.has_value()) << t;
    EXPECT_EQ(s->ToString(), t);
  }
  EXPECT_TRUE(SequenceSet::Parse("$")->IsSaved());
}

TEST(SequenceSet, RejectsInvalid) {
  for (const char* t : {"", "0", "0:5", "1:0", "01", "4294967296", "1,", ",1", "1::2", "1:", ":1",
                        "a", "1 2", "$,1", "1,$", "**", "1:*:2", "-1", "99999999999999999999"}) {
    EXPECT_FALSE(SequenceSet::Parse(t).has_value()) << t;
  }
}

TEST(SequenceSet, RangeLimit) {
  std::string many;
  for (int i = 1; i <= 10'001; ++i) {
    if (i > 1) many += ",";
    many += std::to_string(i * 2);
  }
  auto r = SequenceSet::Parse(many);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::kLimitExceeded);
  SequenceSetLimits small;
  small.max_ranges = 3;
  EXPECT_TRUE(SequenceSet::Parse("1,2,3", small).has_value());
  EXPECT_FALSE(SequenceSet::Parse("1,2,3,4", small).has_value());
}

TEST(SequenceSet, Resolve) {
  EXPECT_EQ(Resolved("1:*", 10), "1:10");
  EXPECT_EQ(Resolved("*:4", 10), "4:10");
  EXPECT_EQ(Resolved("*", 10), "10");
  EXPECT_EQ(Resolved("5:3", 10), "3:5");
  EXPECT_EQ(Resolved("7,1:3,2,4,9:8", 100), "1:4,7:9");
  EXPECT_EQ(Resolved("1,2,3,5", 100), "1:3,5");
  // RFC 3501: "N:*" with N > max means max:N, so it contains max.
  EXPECT_EQ(Resolved("15:*", 10), "10:15");
  // Empty mailbox.
  EXPECT_EQ(Resolved("*", 0), "");
  EXPECT_EQ(Resolved("1:*", 0), "1");
  EXPECT_EQ(Resolved("4294967295:1", 3), "1:4294967295");
  EXPECT_EQ(Resolved("4294967294,4294967295,1", 3), "1,4294967294:4294967295");
  EXPECT_EQ(SequenceSet::Saved().Resolve(10).ToString(), "");
}

TEST(SequenceSet, Contains) {
  auto s = *SequenceSet::Parse("2:4,*,9");
  EXPECT_FALSE(s.Contains(1, 20));
  EXPECT_TRUE(s.Contains(3, 20));
  EXPECT_TRUE(s.Contains(20, 20));
  EXPECT_TRUE(s.Contains(9, 20));
  EXPECT_FALSE(s.Contains(19, 20));
  EXPECT_FALSE(s.Contains(0, 20));
  auto r = s.Resolve(20);
  EXPECT_EQ(r.ToString(), "2:4,9,20");
  for (uint32_t v = 0; v < 25; ++v) {
    EXPECT_EQ(r.Contains(v), v == 2 || v == 3 || v == 4 || v == 9 || v == 20) << v;
  }
  EXPECT_EQ(r.Count(), 5u);
  EXPECT_EQ(r.Max(), 20u);
  EXPECT_TRUE(SequenceSet::Parse("1:*")->Resolve(0xFFFFFFFFu).Contains(0xFFFFFFFFu));
}

TEST(SequenceSet, FromNumbers) {
  EXPECT_EQ(SequenceSet::FromNumbers({5, 1, 2, 3, 9, 10, 0}).ToString(), "1:3,5,9:10");
  EXPECT_EQ(SequenceSet::FromNumbers({}).ToString(), "");
  EXPECT_EQ(SequenceSet::FromRanges({{7, 3}, {1, 1}}).ToString(), "1,3:7");
}

}  // namespace
}  // namespace columba::imap
