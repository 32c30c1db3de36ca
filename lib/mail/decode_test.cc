// decode_test.cc - tests of transfer decoding, charset conversion and RFC 2047.
// Pure in-memory tests; never touch files or the network.
#include <gtest/gtest.h>

#include <string>

#include "lib/mail/decode.h"

namespace columba::mail {
namespace {

TEST(DecodeBase64, ToleratesLineBreaksJunkAndMissingPadding) {
  EXPECT_EQ(DecodeBase64("SGVsbG8="), "Hello");
  EXPECT_EQ(DecodeBase64("SGVs\r\nbG8gd29y\r\nbGQ="), "Hello world");
  EXPECT_EQ(DecodeBase64("SGVsbG8"), "Hello");
  EXPECT_EQ(DecodeBase64("S*G!V@s#bG8="), "Hello");
  EXPECT_EQ(DecodeBase64(""), "");
}

TEST(DecodeQuotedPrintable, EscapesSoftBreaksAndTrailingSpace) {
  EXPECT_EQ(DecodeQuotedPrintable("a=3Db=\r\nc  \r\nd"), "a=bc\r\nd");
  EXPECT_EQ(DecodeQuotedPrintable("caf=C3=a9\n"), "caf\xC3\xA9\n");
  EXPECT_EQ(DecodeQuotedPrintable("bad =ZZ and = end"), "bad =ZZ and = end");
  EXPECT_EQ(DecodeQuotedPrintable("soft =  \r\nbreak"), "soft break");
  EXPECT_EQ(DecodeQuotedPrintable("trailing="), "trailing");
}

TEST(DecodeTransferEncoding, DispatchesOnName) {
  EXPECT_EQ(DecodeTransferEncoding("SGk=", "base64"), "Hi");
  EXPECT_EQ(DecodeTransferEncoding("=48i", "quoted-printable"), "Hi");
  EXPECT_EQ(DecodeTransferEncoding("=48i", "8bit"), "=48i");
}

TEST(Charsets, ConvertToValidUtf8) {
  std::string out;
  AppendAsUtf8(out, "caf\xE9 \x80", "ISO-8859-1");  // read as Windows-1252, like browsers
  EXPECT_EQ(out, "caf\xC3\xA9 \xE2\x82\xAC");
  out.clear();
  AppendAsUtf8(out, "\xA4", "iso-8859-15");
  EXPECT_EQ(out, "\xE2\x82\xAC");
  out.clear();
  AppendAsUtf8(out, "ok \xC3\xA9", "utf-8");
  EXPECT_EQ(out, "ok \xC3\xA9");
  EXPECT_TRUE(IsKnownCharset("US-ASCII"));
  EXPECT_FALSE(IsKnownCharset("koi8-r"));
}

TEST(SanitizeUtf8, InvalidBytesReadAsWindows1252AndNulDropped) {
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
  EXPECT_EQ(SanitizeUtf8("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(SanitizeUtf8("\xE9t\xE9"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xC3\x80\xC2\xAF");           // overlong '/' is not UTF-8
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xC3\xAD\xC2\xA0\xE2\x82\xAC");  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");   // U+1F600 is fine
}

TEST(UnfoldHeader, RemovesLineBreaksKeepsWhitespace) {
  EXPECT_EQ(UnfoldHeader("  Hello\r\n world  "), "Hello world");
  EXPECT_EQ(UnfoldHeader("a\n\tb"), "a\tb");
}

TEST(DecodeHeaderText, Rfc2047) {
  // RFC 2047 section 8 examples.
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "Andr\xC3\xA9 Pirard");
  EXPECT_EQ(DecodeHeaderText("(=?ISO-8859-1?Q?a?=)"), "(a)");
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?= b"), "a b");
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a_b?="), "a b");
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?="), "a =?ISO-8859-2?Q?_b?=");
  // Base64, lower-case encoding letter, RFC 2231 language suffix.
  EXPECT_EQ(DecodeHeaderText("=?utf-8?b?w6k=?="), "\xC3\xA9");
  EXPECT_EQ(DecodeHeaderText("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
  // A UTF-8 character split across two encoded-words survives.
  EXPECT_EQ(DecodeHeaderText("=?UTF-8?B?ww==?= =?UTF-8?B?qQ==?="), "\xC3\xA9");
  // Unknown charsets stay as written; malformed words are plain text.
  EXPECT_EQ(DecodeHeaderText("=?koi8-r?B?8NLJ18XU?="), "=?koi8-r?B?8NLJ18XU?=");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?x?abc?= =?utf-8?q?no end"), "=?utf-8?x?abc?= =?utf-8?q?no end");
  // Plain 8-bit text (RFC 6532 UTF-8 or stray Latin-1) ends up valid UTF-8.
  EXPECT_EQ(DecodeHeaderText("Gr\xC3\xBC\xC3\x9F" "e"), "Gr\xC3\xBC\xC3\x9F" "e");
  EXPECT_EQ(DecodeHeaderText("M\xFCller"), "M\xC3\xBCller");
  EXPECT_EQ(DecodeHeaderText("caf=?utf-8?q?=C3=A9?= au lait"), "caf\xC3\xA9 au lait");
}

}  // namespace
}  // namespace columba::mail
