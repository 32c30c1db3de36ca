// date_test.cc - tests of the RFC 5322 Date parser, current and obsolete forms.
// Expected unix times were computed independently (calendar.timegm).
// Pure in-memory tests; never touch files or the network.
#include <gtest/gtest.h>

#include "lib/mail/date.h"

namespace columba::mail {
namespace {

int64_t Unix(std::string_view s) {
  auto d = ParseMessageDate(s);
  EXPECT_TRUE(d.has_value()) << s;
  return d ? d->unix_time : -1;
}

TEST(ParseMessageDate, Rfc5322Forms) {
  EXPECT_EQ(Unix("Mon, 7 Feb 1994 21:52:25 -0800"), 760686745);
  EXPECT_EQ(ParseMessageDate("Mon, 7 Feb 1994 21:52:25 -0800")->zone_minutes, -480);
  EXPECT_EQ(Unix("Tue, 1 Jul 2003 10:52:37 +0200"), 1057049557);
  EXPECT_EQ(Unix("1 Jul 2003 10:52:37 +0200"), 1057049557);          // no day name
  EXPECT_EQ(Unix("Tue 1 Jul 2003 10:52:37 +0200 (CEST)"), 1057049557);  // no comma, trailing comment
  EXPECT_EQ(Unix("Thu, 1 Jan 1970 00:00:00 +0000"), 0);
  EXPECT_EQ(Unix("Sat, 29 Feb 2020 12:00:00 +0000"), 1582977600);  // leap day
}

TEST(ParseMessageDate, ObsoleteForms) {
  EXPECT_EQ(Unix("21 Nov 97 09:55:06 GMT"), 880106106);                       // 2-digit year, named zone
  EXPECT_EQ(Unix("Thu, 13 Feb 1969 23:32 -0330 (Newfoundland Time)"), -27723480);  // no seconds
  EXPECT_EQ(Unix("Wed, 1 Jan 2020 00:00:00 EST"), 1577854800);
  EXPECT_EQ(Unix("1 Jan 2020 05:00:00 Z"), 1577854800);  // military zones count as UTC
  EXPECT_EQ(Unix("Wed, 1 Jan 2020 05:00:00"), 1577854800);  // missing zone
  EXPECT_EQ(Unix("Mon (day) , 7 (x) Feb 1994 21:52:25 -0800"), 760686745);
  EXPECT_EQ(Unix("7-Feb-1994 21:52:25 -0800"), 760686745);
  EXPECT_EQ(Unix("Monday, 07 February 1994 21:52:25 -0800"), 760686745);
  EXPECT_EQ(Unix("Mon Jan  2 15:04:05 2006"), 1136214245);      // asctime
  EXPECT_EQ(Unix("Mon Jan  2 15:04:05 UTC 2006"), 1136214245);  // date(1)
}

TEST(ParseMessageDate, RejectsGarbage) {
  EXPECT_FALSE(ParseMessageDate("").has_value());
  EXPECT_FALSE(ParseMessageDate("sometime soon").has_value());
  EXPECT_FALSE(ParseMessageDate("31 Feb 2020 10:00:00 +0000").has_value());
  EXPECT_FALSE(ParseMessageDate("1 Jan 2020 25:00:00 +0000").has_value());
  EXPECT_FALSE(ParseMessageDate("1 Jan 2020 10:00:00 +0099").has_value());
  EXPECT_FALSE(ParseMessageDate("1 Foo 2020 10:00:00 +0000").has_value());
  EXPECT_FALSE(ParseMessageDate("1 Jan 99999999999999 10:00:00").has_value());
  EXPECT_FALSE(ParseMessageDate("((((").has_value());
}

}  // namespace
}  // namespace columba::mail
