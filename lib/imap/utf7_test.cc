// utf7_test.cc - modified UTF-7 (RFC 3501 5.1.3): known names, strictness, round trips.
// Hermetic: never touches the network, the file system or the clock.
#include "lib/imap/utf7.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace columba::imap {
namespace {

std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

TEST(Utf7, KnownNames) {
  EXPECT_EQ(Utf8ToUtf7("Entwürfe"), "Entw&APw-rfe");
  EXPECT_EQ(*Utf7ToUtf8("Entw&APw-rfe"), "Entwürfe");
  // RFC 3501's example.
  EXPECT_EQ(*Utf7ToUtf8("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
  EXPECT_EQ(Utf8ToUtf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(Utf8ToUtf7("Tom & Jerry"), "Tom &- Jerry");
  EXPECT_EQ(*Utf7ToUtf8("Tom &- Jerry"), "Tom & Jerry");
  EXPECT_EQ(*Utf7ToUtf8("&-&-"), "&&");
  EXPECT_EQ(Utf8ToUtf7("Отправленные"), "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
  EXPECT_EQ(*Utf7ToUtf8("INBOX"), "INBOX");
  EXPECT_EQ(*Utf7ToUtf8(""), "");
}

TEST(Utf7, NonBmp) {
  std::string smile = Utf8(0x1F600);
  std::string wire = Utf8ToUtf7("a" + smile + "b");
  EXPECT_EQ(wire, "a&2D3eAA-b");
  EXPECT_EQ(*Utf7ToUtf8(wire), "a" + smile + "b");
}

TEST(Utf7, RejectsMalformed) {
  const char* bad[] = {
      "&",            // unterminated
      "&AOQ",         // unterminated
      "&AOQ=-",       // '=' is not in the alphabet
      "&AO/-",        // '/' is standard base64, not modified
      "&AGE-",        // encodes "a": printable ASCII must be itself
      "&ACY-",        // encodes '&'
      "&AAA-",        // NUL
      "&AOR-",        // non-zero padding bits (non-canonical)
      "&AOQA-",       // 6 spare bits: non-canonical
      "&2D0-",        // lone high surrogate
      "&3gA-",        // lone low surrogate
      "&2D3YPQ-",     // high surrogate followed by high surrogate
      "&AOQ-&AOQ-",   // two adjacent encoded runs (one spelling only)
      "a\x01",        // control character raw
      "\xc3\xa4",     // raw 8-bit
      "&&-",          // '&' inside a shift
  };
  for (const char* b : bad) {
    EXPECT_FALSE(Utf7ToUtf8(b).has_value()) << b;
  }
}

TEST(Utf7, InvalidUtf8BecomesReplacement) {
  EXPECT_EQ(Utf8ToUtf7("a\xff"), "a&,,0-");
  EXPECT_EQ(*Utf7ToUtf8("a&,,0-"), "a\xef\xbf\xbd");
}

// Every BMP code point (except surrogates) alone and between ASCII.
TEST(Utf7, RoundTripEveryBmpCodePoint) {
  for (uint32_t cp = 1; cp < 0x10000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s = "x" + Utf8(cp) + "y";
    std::string w = Utf8ToUtf7(s);
    auto back = Utf7ToUtf8(w);
    ASSERT_TRUE(back.has_value()) << cp << " " << w;
    ASSERT_EQ(*back, s) << cp;
  }
}

// Sampled supplementary planes, in runs of one to three (all base64 alignments).
TEST(Utf7, RoundTripNonBmpRuns) {
  for (uint32_t cp = 0x10000; cp <= 0x10FFFF; cp += 97) {
    std::string s;
    for (int n = 0; n < 1 + static_cast<int>(cp % 3); ++n) s += Utf8(cp + static_cast<uint32_t>(n));
    s += Utf8(0xE4);
    std::string w = Utf8ToUtf7(s);
    auto back = Utf7ToUtf8(w);
    ASSERT_TRUE(back.has_value()) << cp << " " << w;
    ASSERT_EQ(*back, s) << cp;
  }
}

// Every printable ASCII string of length 2 round-trips and stays canonical.
TEST(Utf7, RoundTripAsciiPairs) {
  for (int a = 0x20; a < 0x7f; ++a) {
    for (int b = 0x20; b < 0x7f; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      std::string w = Utf8ToUtf7(s);
      auto back = Utf7ToUtf8(w);
      ASSERT_TRUE(back.has_value()) << w;
      ASSERT_EQ(*back, s);
    }
  }
}

}  // namespace
}  // namespace columba::imap
