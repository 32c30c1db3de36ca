// imap_date_test.cc - tests of INTERNALDATE formatting and IMAP date parsing.
// Pure in-memory tests; never touch files or the network.
#include "lib/imap/imap_date.h"

#include <gtest/gtest.h>

namespace columba::imap {
namespace {

constexpr int64_t k25Nov2026_10h = 1795600800;  // 2026-11-25T10:00:00Z

TEST(FormatDateTime, ZonesPaddingAndEdges) {
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, 0), "\"25-Nov-2026 10:00:00 +0000\"");
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, 60), "\"25-Nov-2026 11:00:00 +0100\"");
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, -300), "\"25-Nov-2026 05:00:00 -0500\"");
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, 330), "\"25-Nov-2026 15:30:00 +0530\"");
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, -600), "\"25-Nov-2026 00:00:00 -1000\"");
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, -601), "\"24-Nov-2026 23:59:00 -1001\"");
  EXPECT_EQ(FormatDateTime(1769904000, 0), "\"01-Feb-2026 00:00:00 +0000\"");
  EXPECT_EQ(FormatDateTime(1709251199, 0), "\"29-Feb-2024 23:59:59 +0000\"");
  EXPECT_EQ(FormatDateTime(0, 0), "\"01-Jan-1970 00:00:00 +0000\"");
  EXPECT_EQ(FormatDateTime(-1, 0), "\"31-Dec-1969 23:59:59 +0000\"");
  EXPECT_EQ(FormatDateTime(k25Nov2026_10h, 24 * 60), "\"25-Nov-2026 10:00:00 +0000\"");  // clamped
}

TEST(ParseDateTime, AcceptsTheGrammar) {
  EXPECT_EQ(ParseDateTime("25-Nov-2026 10:00:00 +0000"), (ImapDateTime{k25Nov2026_10h, 0}));
  EXPECT_EQ(ParseDateTime("25-Nov-2026 11:00:00 +0100"), (ImapDateTime{k25Nov2026_10h, 60}));
  EXPECT_EQ(ParseDateTime("25-nov-2026 05:00:00 -0500"), (ImapDateTime{k25Nov2026_10h, -300}));
  EXPECT_EQ(ParseDateTime(" 1-Feb-2026 00:00:00 +0000"), (ImapDateTime{1769904000, 0}));
  EXPECT_EQ(ParseDateTime("01-FEB-2026 00:00:00 +0000"), (ImapDateTime{1769904000, 0}));
  EXPECT_EQ(ParseDateTime("1-Feb-2026 00:00:00 +0000"), (ImapDateTime{1769904000, 0}));
  EXPECT_EQ(ParseDateTime("29-Feb-2024 23:59:59 +0000"), (ImapDateTime{1709251199, 0}));
  EXPECT_EQ(ParseDateTime("01-Jan-1900 00:00:00 +0000"), (ImapDateTime{-2208988800, 0}));
  EXPECT_EQ(ParseDateTime("31-Dec-1969 23:59:60 +0000"), (ImapDateTime{0, 0}));  // leap second
  for (int64_t t : {int64_t{0}, k25Nov2026_10h, int64_t{1709251199}}) {
    for (int zone : {0, 60, -300, 345, -23 * 60 - 59}) {
      std::string s = FormatDateTime(t, zone);
      auto back = ParseDateTime(std::string_view(s).substr(1, s.size() - 2));
      ASSERT_TRUE(back) << s;
      EXPECT_EQ(*back, (ImapDateTime{t, zone})) << s;
    }
  }
}

TEST(ParseDateTime, RejectsEverythingElse) {
  for (const char* bad : {
           "", "25-Nov-2026", "25-Nov-2026 10:00:00", "\"25-Nov-2026 10:00:00 +0000\"",
           "25-Nov-2026 10:00:00 +0000 ", " 25-Nov-2026 10:00:00 +0000", "25-Nov-2026  10:00:00 +0000",
           "25-Nov-26 10:00:00 +0000", "25-November-2026 10:00:00 +0000", "25-Foo-2026 10:00:00 +0000",
           "25/Nov/2026 10:00:00 +0000", "31-Feb-2026 10:00:00 +0000", "29-Feb-2025 10:00:00 +0000",
           "00-Nov-2026 10:00:00 +0000", "32-Jan-2026 10:00:00 +0000", "123-Nov-2026 10:00:00 +0000",
           "25-Nov-2026 24:00:00 +0000", "25-Nov-2026 10:60:00 +0000", "25-Nov-2026 10:00:61 +0000",
           "25-Nov-2026 10:00 +0000", "25-Nov-2026 1:00:00 +0000", "25-Nov-2026 10:00:00 0000",
           "25-Nov-2026 10:00:00 +000", "25-Nov-2026 10:00:00 +00000", "25-Nov-2026 10:00:00 +2400",
           "25-Nov-2026 10:00:00 +0060", "25-Nov-2026 10:00:00 GMT", "25-Nov-1899 10:00:00 +0000",
           "25-Nov-2026 10:00:00 +0000\r\n"}) {
    EXPECT_FALSE(ParseDateTime(bad)) << '[' << bad << ']';
  }
}

TEST(ParseDate, SearchDates) {
  EXPECT_EQ(ParseDate("1-Feb-2026"), (ImapDate{2026, 2, 1}));
  EXPECT_EQ(ParseDate("01-feb-2026"), (ImapDate{2026, 2, 1}));
  EXPECT_EQ(ParseDate("\"25-Nov-2026\""), (ImapDate{2026, 11, 25}));
  EXPECT_EQ(ParseDate("29-Feb-2024"), (ImapDate{2024, 2, 29}));
  for (const char* bad : {"", "1-Feb-26", "001-Feb-2026", "1-Feb-2026 ", " 1-Feb-2026", "29-Feb-2025",
                          "0-Jan-2026", "31-Apr-2026", "1 Feb 2026", "\"1-Feb-2026", "1-Feb-2026 10:00:00 +0000",
                          "1-Fe-2026", "1-Feb-20266"}) {
    EXPECT_FALSE(ParseDate(bad)) << '[' << bad << ']';
  }
}

TEST(DaysFromCivil, MatchesUnixDays) {
  EXPECT_EQ(DaysFromCivil({1970, 1, 1}), 0);
  EXPECT_EQ(DaysFromCivil({1969, 12, 31}), -1);
  EXPECT_EQ(DaysFromCivil({2026, 11, 25}), k25Nov2026_10h / 86400);
  EXPECT_EQ(DaysFromCivil({2024, 3, 1}) - DaysFromCivil({2024, 2, 28}), 2);
  EXPECT_EQ(DaysFromCivil({2100, 3, 1}) - DaysFromCivil({2100, 2, 28}), 1);
  EXPECT_EQ(DaysFromCivil({2000, 3, 1}) - DaysFromCivil({2000, 2, 28}), 2);
}

}  // namespace
}  // namespace columba::imap
