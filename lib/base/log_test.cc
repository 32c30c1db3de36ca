// log_test.cc - log lines are valid single-line JSON whatever the input.
#include "lib/base/log.h"

#include <gtest/gtest.h>

using columba::log::FormatLine;
using columba::log::Level;

TEST(Log, EscapesHostileValuesSoTheyCannotForgeFields) {
  std::string line = FormatLine(Level::kWarn, "lmtpd", "bad \"input\"",
                                {{"client", "1.2.3.4\",\"level\":\"debug"}, {"n", 42}});
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one newline, at the end";
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos);
  EXPECT_NE(line.find("\"client\":\"1.2.3.4\\\",\\\"level\\\":\\\"debug\""), std::string::npos);
  EXPECT_NE(line.find("\"n\":\"42\""), std::string::npos);
  EXPECT_NE(line.find("\"msg\":\"bad \\\"input\\\"\""), std::string::npos);
}

TEST(Log, EscapesControlCharacters) {
  std::string out;
  columba::log::JsonEscape(out, std::string_view("a\r\nb\x01", 5));
  EXPECT_EQ(out, "a\\r\\nb\\u0001");
}

TEST(Log, ParsesLevels) {
  EXPECT_EQ(*columba::log::ParseLevel("debug"), Level::kDebug);
  EXPECT_FALSE(columba::log::ParseLevel("loud").has_value());
}
