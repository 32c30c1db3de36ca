// format_test.cc - exact-output tests of the IMAP response building blocks.
// Pure in-memory tests; never touch files or the network.
#include "lib/imap/format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace columba::imap {
namespace {

std::string Astring(std::string_view s, bool utf8 = false) {
  std::string out;
  AppendAstring(out, s, utf8);
  return out;
}
std::string String(std::string_view s, bool utf8 = false) {
  std::string out;
  AppendString(out, s, utf8);
  return out;
}
std::string Nstring(std::optional<std::string_view> s, bool utf8 = false) {
  std::string out;
  AppendNstring(out, s, utf8);
  return out;
}

TEST(Strings, AstringPrefersAtomThenQuotedThenLiteral) {
  EXPECT_EQ(Astring("INBOX"), "INBOX");
  EXPECT_EQ(Astring("Sent/2026"), "Sent/2026");
  EXPECT_EQ(Astring("a]b"), "a]b");  // resp-specials are ASTRING-CHARs
  EXPECT_EQ(Astring(""), "\"\"");
  EXPECT_EQ(Astring("My Folder"), "\"My Folder\"");
  EXPECT_EQ(Astring("50%"), "\"50%\"");
  EXPECT_EQ(Astring("a*"), "\"a*\"");
  EXPECT_EQ(Astring("(x)"), "\"(x)\"");
  EXPECT_EQ(Astring("{3}"), "\"{3}\"");
  EXPECT_EQ(Astring("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(Astring("NIL"), "\"NIL\"");
  EXPECT_EQ(Astring("nil"), "\"nil\"");
  EXPECT_EQ(Astring("tab\there"), "\"tab\there\"");  // TAB is a TEXT-CHAR, fine when quoted
}

TEST(Strings, LineBreaksNulAnd8BitBecomeLiterals) {
  EXPECT_EQ(Astring("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(String("a\nb"), "{3}\r\na\nb");
  EXPECT_EQ(String("a\rb"), "{3}\r\na\rb");
  EXPECT_EQ(String(std::string_view("a\0b", 3)), std::string("{3}\r\na\0b", 8));
  EXPECT_EQ(Astring("Caf\xC3\xA9"), "{5}\r\nCaf\xC3\xA9");
  EXPECT_EQ(String("Caf\xC3\xA9"), "{5}\r\nCaf\xC3\xA9");
}

TEST(Strings, Utf8AcceptAllowsValidUtf8InQuotedStrings) {
  EXPECT_EQ(Astring("Caf\xC3\xA9", true), "\"Caf\xC3\xA9\"");  // never an atom: atoms are ASCII
  EXPECT_EQ(String("\xF0\x9F\x98\x80", true), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(String("bad \xE9", true), "{5}\r\nbad \xE9");            // not UTF-8
  EXPECT_EQ(String("\xC0\xAF", true), "{2}\r\n\xC0\xAF");            // overlong
  EXPECT_EQ(String("\xED\xA0\x80", true), "{3}\r\n\xED\xA0\x80");    // surrogate
  EXPECT_EQ(String("x\r\n\xC3\xA9", true), "{5}\r\nx\r\n\xC3\xA9");  // CRLF still forces a literal
}

TEST(Strings, StringNeverAtomAndLongStringsAreLiterals) {
  EXPECT_EQ(String("INBOX"), "\"INBOX\"");
  EXPECT_EQ(String(""), "\"\"");
  const std::string quoted(kMaxQuotedLength, 'x');
  EXPECT_EQ(String(quoted), "\"" + quoted + "\"");
  const std::string long_one(kMaxQuotedLength + 1, 'x');
  EXPECT_EQ(String(long_one), "{1025}\r\n" + long_one);
  EXPECT_EQ(Astring(long_one), "{1025}\r\n" + long_one);
}

TEST(Strings, Nstring) {
  EXPECT_EQ(Nstring(std::nullopt), "NIL");
  EXPECT_EQ(Nstring("NIL"), "\"NIL\"");
  EXPECT_EQ(Nstring(""), "\"\"");
  EXPECT_EQ(Nstring("x\ny"), "{3}\r\nx\ny");
  std::string out;
  AppendLiteral(out, "abc");
  EXPECT_EQ(out, "{3}\r\nabc");
  out.clear();
  AppendBinaryLiteral(out, "a\r\n");
  EXPECT_EQ(out, "{3}\r\na\r\n");
  out.clear();
  AppendBinaryLiteral(out, std::string_view("a\0", 2));
  EXPECT_EQ(out, std::string("~{2}\r\na\0", 8));
}

TEST(Strings, AtomChars) {
  EXPECT_TRUE(IsAtom("$Forwarded"));
  EXPECT_TRUE(IsAtom("\\Seen") == false);  // backslash is a quoted-special
  EXPECT_FALSE(IsAtom(""));
  EXPECT_FALSE(IsAtom("a]"));
  EXPECT_FALSE(IsAtom("\x7F"));
  EXPECT_FALSE(IsAtom("\xC3\xA9"));
}

TEST(Flags, DovecotOrderRecentAndKeywords) {
  const std::vector<std::string> kw = {"$Forwarded", "bad keyword", "Junk", "x\r\n"};
  EXPECT_EQ(FormatFlags(kFlagSeen | kFlagAnswered | kFlagFlagged | kFlagDeleted | kFlagDraft, {}, true),
            "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent)");
  EXPECT_EQ(FormatFlags(kFlagSeen | kFlagFlagged, kw, false), "(\\Flagged \\Seen $Forwarded Junk)");
  EXPECT_EQ(FormatFlags(0, {}, false), "()");
  EXPECT_EQ(FormatFlags(0, kw, false), "($Forwarded Junk)");
  EXPECT_EQ(FormatFlags(0x80, {}, true), "(\\Recent)");  // unknown bits ignored
}

TEST(UidSet, CompactsRuns) {
  const std::vector<uint32_t> uids = {1, 2, 3, 4, 5, 7, 9, 10, 11, 12};
  EXPECT_EQ(FormatUidSet(uids), "1:5,7,9:12");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{}), "");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{42}), "42");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{1, 3, 5}), "1,3,5");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{8, 9}), "8:9");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{3, 1, 2, 2, 10}), "1:3,10");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{4294967294u, 4294967295u}), "4294967294:4294967295");
  EXPECT_EQ(FormatUidSet(std::vector<uint32_t>{1, 4294967295u}), "1,4294967295");
}

TEST(Esearch, FullAndEmptyResults) {
  EsearchResponse r;
  r.tag = "a1";
  r.uid = true;
  r.min = 1;
  r.max = 9;
  r.count = 5;
  r.all = std::vector<uint32_t>{1, 2, 3, 4, 5};
  EXPECT_EQ(FormatEsearch(r), "* ESEARCH (TAG \"a1\") UID MIN 1 MAX 9 COUNT 5 ALL 1:5\r\n");
  r.modseq = 917;
  EXPECT_EQ(FormatEsearch(r), "* ESEARCH (TAG \"a1\") UID MIN 1 MAX 9 COUNT 5 ALL 1:5 MODSEQ 917\r\n");

  EsearchResponse empty;
  empty.tag = "t\"2";
  empty.min = 0;
  empty.count = 0;
  empty.all = std::vector<uint32_t>{};
  EXPECT_EQ(FormatEsearch(empty), "* ESEARCH (TAG \"t\\\"2\") COUNT 0\r\n");

  EsearchResponse bare;
  EXPECT_EQ(FormatEsearch(bare), "* ESEARCH\r\n");
  bare.all = std::vector<uint32_t>{7, 3};
  EXPECT_EQ(FormatEsearch(bare), "* ESEARCH ALL 3,7\r\n");
}

TEST(ListLine, AttributesDelimiterAndNameQuoting) {
  const std::vector<std::string> attrs = {"\\HasNoChildren", "\\Sent"};
  EXPECT_EQ(FormatListLine("LIST", attrs, '/', "Sent", false), "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n");
  EXPECT_EQ(FormatListLine("LSUB", {}, '/', "My Folder", false), "* LSUB () \"/\" \"My Folder\"\r\n");
  EXPECT_EQ(FormatListLine("LIST", {}, '/', "&AOk-t&AOk-", false), "* LIST () \"/\" &AOk-t&AOk-\r\n");
  EXPECT_EQ(FormatListLine("LIST", {}, '/', "\xC3\xA9t\xC3\xA9", true), "* LIST () \"/\" \"\xC3\xA9t\xC3\xA9\"\r\n");
  EXPECT_EQ(FormatListLine("LIST", {}, '/', "\xC3\xA9", false), "* LIST () \"/\" {2}\r\n\xC3\xA9\r\n");
  EXPECT_EQ(FormatListLine("LIST", std::vector<std::string>{"\\Noselect"}, '\0', "", false), "* LIST (\\Noselect) NIL \"\"\r\n");
  EXPECT_EQ(FormatListLine("LIST", {}, '\\', "a", false), "* LIST () \"\\\\\" a\r\n");
  // Attributes that would break the syntax are dropped.
  const std::vector<std::string> junk = {"\\Marked", "NoBackslash", "\\Bad attr", "\\"};
  EXPECT_EQ(FormatListLine("LIST", junk, '/', "INBOX", false), "* LIST (\\Marked) \"/\" INBOX\r\n");
}

TEST(ResponseCodes, Exact) {
  const std::vector<uint32_t> src = {10, 11, 12, 20};
  const std::vector<uint32_t> dst = {100, 101, 102, 103};
  EXPECT_EQ(CodeAppendUid(38505, std::vector<uint32_t>{3955}), "[APPENDUID 38505 3955]");
  EXPECT_EQ(CodeAppendUid(38505, std::vector<uint32_t>{3955, 3956, 3957}), "[APPENDUID 38505 3955:3957]");
  EXPECT_EQ(CodeCopyUid(38505, src, dst), "[COPYUID 38505 10:12,20 100:103]");
  EXPECT_EQ(CodeUidValidity(3857529045u), "[UIDVALIDITY 3857529045]");
  EXPECT_EQ(CodeUidNext(4392), "[UIDNEXT 4392]");
  EXPECT_EQ(CodeUnseen(12), "[UNSEEN 12]");
  EXPECT_EQ(CodeHighestModseq(715194045007ull), "[HIGHESTMODSEQ 715194045007]");
  EXPECT_EQ(CodeModified(std::vector<uint32_t>{7, 9, 10}), "[MODIFIED 7,9:10]");
  EXPECT_EQ(CodePermanentFlags(31, {}, true),
            "[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]");
  EXPECT_EQ(CodePermanentFlags(0, {}, true), "[PERMANENTFLAGS (\\*)]");
  EXPECT_EQ(CodePermanentFlags(1, std::vector<std::string>{"$Junk"}, false), "[PERMANENTFLAGS (\\Seen $Junk)]");
  EXPECT_EQ(kCodeTooBig, "[TOOBIG]");
  EXPECT_EQ(kCodeOverQuota, "[OVERQUOTA]");
  EXPECT_EQ(kCodeUnavailable, "[UNAVAILABLE]");
  EXPECT_EQ(kCodeAuthenticationFailed, "[AUTHENTICATIONFAILED]");
  EXPECT_EQ(kCodeUnknownCte, "[UNKNOWN-CTE]");
}

}  // namespace
}  // namespace columba::imap
