// command_test.cc - ParseCommand, Path::Address, xtext and reply formatting.
//
// Covers the grammar of command.h case by case, every size limit from both sides,
// and the reply codes each error carries. Never depends on a socket.
#include "lib/smtp/command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/smtp/reply.h"

using namespace columba;
using namespace columba::smtp;

namespace {

Command Ok(std::string_view line) {
  auto r = ParseCommand(line);
  EXPECT_TRUE(r.has_value()) << "line: " << line << " error: " << (r ? "" : r.error().message);
  return r ? *r : Command{};
}

// The "CODE ENHANCED" prefix of the error for `line`, or "ok".
std::string ErrCode(std::string_view line) {
  auto r = ParseCommand(line);
  if (r) return "ok";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  Reply reply = ReplyForSyntaxError(r.error());
  return std::to_string(reply.code) + " " + reply.enhanced;
}

std::string Addr(std::string_view line) { return Ok(line).path.Address(); }

}  // namespace

// --- verbs -------------------------------------------------------------------

TEST(Command, VerbsAreCaseInsensitive) {
  struct Case {
    const char* line;
    Verb verb;
  } cases[] = {
      {"HELO a.example", Verb::kHelo}, {"ehlo a.example", Verb::kEhlo}, {"LhLo a.example", Verb::kLhlo},
      {"mail FROM:<>", Verb::kMail},   {"Rcpt To:<a@b>", Verb::kRcpt},  {"data", Verb::kData},
      {"BDAT 10", Verb::kBdat},        {"rset", Verb::kRset},           {"NOOP", Verb::kNoop},
      {"quit", Verb::kQuit},           {"VRFY bob", Verb::kVrfy},       {"expn list", Verb::kExpn},
      {"HELP", Verb::kHelp},           {"StartTLS", Verb::kStarttls},   {"AUTH PLAIN", Verb::kAuth},
      {"ETRN example.org", Verb::kEtrn},
  };
  for (const auto& c : cases) EXPECT_EQ(Ok(c.line).verb, c.verb) << c.line;
  EXPECT_STREQ(VerbName(Verb::kStarttls), "STARTTLS");
  EXPECT_STREQ(VerbName(Verb::kLhlo), "LHLO");
}

TEST(Command, UnknownVerbIs500) {
  EXPECT_EQ(ErrCode("FOO bar"), "500 5.5.2");
  EXPECT_EQ(ErrCode(""), "500 5.5.2");
  EXPECT_EQ(ErrCode("   "), "500 5.5.2");
  EXPECT_EQ(ErrCode("MAILFROM:<a@b>"), "500 5.5.2");
  EXPECT_EQ(ErrCode("HELOX a"), "500 5.5.2");
  EXPECT_EQ(ErrCode("GET / HTTP/1.1"), "500 5.5.2");
  EXPECT_EQ(ErrCode("\xff\xfe"), "500 5.5.2");
}

TEST(Command, ControlCharactersAre500) {
  EXPECT_EQ(ErrCode(std::string("NOOP a\0b", 8)), "500 5.5.2");
  EXPECT_EQ(ErrCode("NOOP a\rb"), "500 5.5.2");
  EXPECT_EQ(ErrCode("NOOP a\nb"), "500 5.5.2");
  EXPECT_EQ(ErrCode("RCPT TO:<a\x01@b>"), "500 5.5.2");
  EXPECT_EQ(ErrCode("NOOP \x7f"), "500 5.5.2");
}

TEST(Command, TrailingWhitespaceAndExtraSpacesTolerated) {
  EXPECT_EQ(Ok("QUIT   ").verb, Verb::kQuit);
  EXPECT_EQ(Ok("DATA\t").verb, Verb::kData);
  EXPECT_EQ(Ok("EHLO   client.example  ").arg, "client.example");
  auto c = Ok("MAIL FROM:<a@b>   SIZE=10  BODY=7BIT ");
  ASSERT_EQ(c.params.size(), 2u);
}

TEST(Command, Helo) {
  EXPECT_EQ(Ok("EHLO mx.example.com").arg, "mx.example.com");
  EXPECT_EQ(Ok("HELO [192.0.2.1]").arg, "[192.0.2.1]");
  EXPECT_EQ(Ok("LHLO [IPv6:2001:db8::1]").arg, "[IPv6:2001:db8::1]");
  EXPECT_EQ(Ok("EHLO MY_PC").arg, "MY_PC");  // not validated here: policy uses IsValidDomain
  EXPECT_EQ(ErrCode("EHLO"), "501 5.5.4");
  EXPECT_EQ(ErrCode("EHLO a b"), "501 5.5.4");
  EXPECT_EQ(ErrCode("EHLO a\tb"), "501 5.5.4");
  EXPECT_EQ(ErrCode("EHLO \xc3"), "501 5.5.4");
  EXPECT_EQ(Ok("EHLO bücher.example").arg, "bücher.example");
  auto r = ParseCommand("LHLO");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "501 5.5.4 Syntax: LHLO hostname");
}

TEST(Command, NoArgumentVerbs) {
  for (const char* v : {"DATA", "RSET", "QUIT", "STARTTLS"}) {
    EXPECT_EQ(ErrCode(v), "ok") << v;
    EXPECT_EQ(ErrCode(std::string(v) + " x"), "501 5.5.4") << v;
  }
}

TEST(Command, RawArgumentVerbs) {
  EXPECT_EQ(Ok("NOOP").arg, "");
  EXPECT_EQ(Ok("NOOP hello there").arg, "hello there");
  EXPECT_EQ(Ok("HELP MAIL").arg, "MAIL");
  EXPECT_EQ(Ok("VRFY <bob@example.com>").arg, "<bob@example.com>");
  EXPECT_EQ(Ok("AUTH PLAIN AGJvYgBzZWNyZXQ=").arg, "PLAIN AGJvYgBzZWNyZXQ=");
  EXPECT_EQ(Ok("ETRN @example.org").arg, "@example.org");
  EXPECT_EQ(ErrCode("VRFY"), "501 5.5.4");
  EXPECT_EQ(ErrCode("EXPN"), "501 5.5.4");
  EXPECT_EQ(ErrCode("AUTH"), "501 5.5.4");
  EXPECT_EQ(ErrCode("ETRN"), "501 5.5.4");
  EXPECT_EQ(ErrCode("NOOP \xe2\x82"), "501 5.5.4");  // truncated UTF-8
}

TEST(Command, Bdat) {
  auto c = Ok("BDAT 1000");
  EXPECT_EQ(c.chunk_size, 1000u);
  EXPECT_FALSE(c.last);
  c = Ok("bdat 0 last");
  EXPECT_EQ(c.chunk_size, 0u);
  EXPECT_TRUE(c.last);
  c = Ok("BDAT 18446744073709551615 LAST");
  EXPECT_EQ(c.chunk_size, UINT64_MAX);
  EXPECT_EQ(ErrCode("BDAT 18446744073709551616"), "501 5.5.4");
  EXPECT_EQ(ErrCode("BDAT"), "501 5.5.4");
  EXPECT_EQ(ErrCode("BDAT -1"), "501 5.5.4");
  EXPECT_EQ(ErrCode("BDAT 10LAST"), "501 5.5.4");
  EXPECT_EQ(ErrCode("BDAT 10 LAST x"), "501 5.5.4");
  EXPECT_EQ(ErrCode("BDAT 10 FIRST"), "501 5.5.4");
  EXPECT_EQ(ErrCode("BDAT LAST"), "501 5.5.4");
}

// --- MAIL FROM / RCPT TO -----------------------------------------------------

TEST(Path, Simple) {
  auto c = Ok("MAIL FROM:<john.doe@example.com>");
  EXPECT_EQ(c.verb, Verb::kMail);
  EXPECT_FALSE(c.path.null);
  EXPECT_EQ(c.path.local_part, "john.doe");
  EXPECT_EQ(c.path.domain, "example.com");
  EXPECT_FALSE(c.path.quoted);
  EXPECT_FALSE(c.path.utf8);
  EXPECT_FALSE(c.path.address_literal);
  EXPECT_TRUE(c.path.source_route.empty());
  EXPECT_TRUE(c.params.empty());
  EXPECT_EQ(c.path.Address(), "john.doe@example.com");
  EXPECT_EQ(c.arg, "FROM:<john.doe@example.com>");
}

TEST(Path, CaseIsKept) {
  auto c = Ok("RCPT TO:<John.Doe@Example.COM>");
  EXPECT_EQ(c.path.Address(), "John.Doe@Example.COM");
  EXPECT_EQ(Ok("mail from:<A@B>").path.Address(), "A@B");
}

TEST(Path, NullReversePath) {
  auto c = Ok("MAIL FROM:<>");
  EXPECT_TRUE(c.path.null);
  EXPECT_EQ(c.path.Address(), "");
  c = Ok("MAIL FROM:<> BODY=8BITMIME");
  EXPECT_TRUE(c.path.null);
  ASSERT_EQ(c.params.size(), 1u);
  EXPECT_EQ(ErrCode("RCPT TO:<>"), "501 5.1.3");
}

TEST(Path, SpaceAfterColonTolerated) {
  EXPECT_EQ(Addr("MAIL FROM: <a@b.example>"), "a@b.example");
  EXPECT_EQ(Addr("RCPT TO:   <a@b.example>"), "a@b.example");
  EXPECT_TRUE(Ok("MAIL FROM: <>").path.null);
}

TEST(Path, AngleBracketsRequired) {
  EXPECT_EQ(ErrCode("MAIL FROM:a@b.example"), "501 5.1.7");
  EXPECT_EQ(ErrCode("RCPT TO:a@b.example"), "501 5.1.3");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example"), "501 5.1.7");
  EXPECT_EQ(ErrCode("MAIL FROM:a@b.example>"), "501 5.1.7");
  EXPECT_EQ(ErrCode("MAIL FROM:"), "501 5.1.7");
  EXPECT_EQ(ErrCode("RCPT TO:<<a@b>>"), "501 5.1.3");
}

TEST(Path, KeywordRequired) {
  EXPECT_EQ(ErrCode("MAIL"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL <a@b>"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL TO:<a@b>"), "501 5.5.4");
  EXPECT_EQ(ErrCode("RCPT FROM:<a@b>"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM <a@b>"), "501 5.5.4");
  EXPECT_EQ(ErrCode("RCPT T0:<a@b>"), "501 5.5.4");
  auto r = ParseCommand("RCPT <a@b>");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "501 5.5.4 Syntax: RCPT TO:<address>");
}

TEST(Path, QuotedLocalPart) {
  auto c = Ok("RCPT TO:<\"john doe\"@example.com>");
  EXPECT_TRUE(c.path.quoted);
  EXPECT_EQ(c.path.local_part, "john doe");
  EXPECT_EQ(c.path.Address(), "\"john doe\"@example.com");

  c = Ok(R"(RCPT TO:<"a\"b\\c"@example.com>)");
  EXPECT_EQ(c.path.local_part, R"(a"b\c)");
  EXPECT_EQ(c.path.Address(), R"("a\"b\\c"@example.com)");

  // Quoting that is not needed is dropped; needless quoted pairs are resolved.
  EXPECT_EQ(Addr("RCPT TO:<\"john\"@example.com>"), "john@example.com");
  EXPECT_EQ(Addr(R"(RCPT TO:<"j\ohn"@example.com>)"), "john@example.com");
  EXPECT_EQ(Addr("RCPT TO:<\"john..doe\"@example.com>"), "\"john..doe\"@example.com");
  EXPECT_EQ(Addr("RCPT TO:<\".john\"@example.com>"), "\".john\"@example.com");
  EXPECT_EQ(Addr("RCPT TO:<\"\"@example.com>"), "\"\"@example.com");
  EXPECT_EQ(Addr("RCPT TO:<\"a@b\"@example.com>"), "\"a@b\"@example.com");
  EXPECT_EQ(Addr("RCPT TO:<\"a>b\"@example.com>"), "\"a>b\"@example.com");
  EXPECT_EQ(Addr("RCPT TO:<\"a,b:c\"@example.com>"), "\"a,b:c\"@example.com");

  EXPECT_EQ(ErrCode("RCPT TO:<\"unterminated@example.com>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<\"a\"b@example.com>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a\"b\"@example.com>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<\"a\\\"@example.com>"), "501 5.1.3");  // "a\" : escaped closing quote
  EXPECT_EQ(ErrCode("RCPT TO:<\"a\tb\"@example.com>"), "501 5.1.3");
}

TEST(Path, AddressRoundTrips) {
  const char* lines[] = {
      "RCPT TO:<\"john doe\"@example.com>", R"(RCPT TO:<"a\"b\\c"@example.com>)", "RCPT TO:<\"\"@x.example>",
      "RCPT TO:<a.b+tag@x.example>",        "RCPT TO:<user@[192.0.2.1]>",         "RCPT TO:<postmaster>",
      "RCPT TO:<\"a..b\"@x.example>",       "RCPT TO:<jöran@bücher.example>",     "RCPT TO:<@r.example:u@x.example>",
  };
  for (const char* line : lines) {
    auto first = Ok(line);
    auto again = Ok("RCPT TO:<" + first.path.Address() + ">");
    EXPECT_EQ(again.path.local_part, first.path.local_part) << line;
    EXPECT_EQ(again.path.domain, first.path.domain) << line;
    EXPECT_EQ(again.path.Address(), first.path.Address()) << line;
  }
}

TEST(Path, SpecialCharactersInDotAtomKeptVerbatim) {
  EXPECT_EQ(Addr("RCPT TO:<user%other.example@relay.example>"), "user%other.example@relay.example");
  EXPECT_EQ(Addr("RCPT TO:<host!user@relay.example>"), "host!user@relay.example");
  EXPECT_EQ(Addr("RCPT TO:<a+b=c/d{e}|f~g^h`i'j*k#l$m&n?o_p-q@x.example>"),
            "a+b=c/d{e}|f~g^h`i'j*k#l$m&n?o_p-q@x.example");
  auto c = Ok("RCPT TO:<user%other.example@relay.example>");
  EXPECT_EQ(c.path.local_part, "user%other.example");
  EXPECT_EQ(c.path.domain, "relay.example");
}

TEST(Path, BadDotAtoms) {
  EXPECT_EQ(ErrCode("RCPT TO:<.a@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a.@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a..b@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a b@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a(b)@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a,b@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a;b@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a\\b@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@@x.example>"), "501 5.1.7");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b@x.example>"), "501 5.1.7");
}

TEST(Path, Domains) {
  EXPECT_EQ(Addr("RCPT TO:<a@x>"), "a@x");
  EXPECT_EQ(Addr("RCPT TO:<a@x-y.example>"), "a@x-y.example");
  EXPECT_EQ(Addr("RCPT TO:<a@123.example>"), "a@123.example");
  EXPECT_EQ(ErrCode("RCPT TO:<a@-x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a@x-.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a@x..example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a@.x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a@x.example.>"), "501 5.1.3");  // trailing dot
  EXPECT_EQ(ErrCode("RCPT TO:<a@x_y.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a@>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<a@x y>"), "501 5.1.3");
  std::string label63(63, 'l'), label64(64, 'l');
  EXPECT_EQ(ErrCode("RCPT TO:<a@" + label63 + ".example>"), "ok");
  EXPECT_EQ(ErrCode("RCPT TO:<a@" + label64 + ".example>"), "501 5.1.3");
}

TEST(Path, AddressLiterals) {
  auto c = Ok("RCPT TO:<user@[192.0.2.1]>");
  EXPECT_TRUE(c.path.address_literal);
  EXPECT_EQ(c.path.domain, "[192.0.2.1]");
  EXPECT_EQ(c.path.Address(), "user@[192.0.2.1]");
  for (const char* ok : {"[0.0.0.0]", "[255.255.255.255]", "[IPv6:2001:db8::1]", "[IPv6:::1]", "[IPv6:::]",
                         "[ipv6:2001:DB8:0:0:0:0:0:1]", "[IPv6:1:2:3:4:5:6:7::]", "[IPv6:::ffff:192.0.2.1]",
                         "[IPv6:1:2:3:4:5:6:192.0.2.1]", "[IPv6:fe80::1:2:3:4:5]"}) {
    EXPECT_EQ(ErrCode(std::string("RCPT TO:<u@") + ok + ">"), "ok") << ok;
    EXPECT_TRUE(IsValidAddressLiteral(ok)) << ok;
  }
  for (const char* bad : {"[256.0.0.1]", "[1.2.3]", "[1.2.3.4.5]", "[1.2.3.]", "[1..2.3]", "[1.2.3.4 ]", "[]",
                          "[IPv6:]", "[IPv6:1:2:3:4:5:6:7:8:9]", "[IPv6:1::2::3]", "[IPv6:12345::]",
                          "[IPv6:1:2:3:4:5:6:7]", "[IPv6::::]", "[IPv6:g::1]", "[IPv6:1.2.3.4]",
                          "[IPv6:1:2:3:4:5:6:7:1.2.3.4]", "[IPv6:::1.2.3.4:1]", "[x400:foo]", "[1234.1.1.1]",
                          "[192.0.2.1"}) {
    EXPECT_EQ(ErrCode(std::string("RCPT TO:<u@") + bad + ">"), "501 5.1.3") << bad;
    EXPECT_FALSE(IsValidAddressLiteral(bad)) << bad;
  }
}

TEST(Path, SourceRouteKeptSeparately) {
  auto c = Ok("RCPT TO:<@a.example,@b.example:u@c.example>");
  ASSERT_EQ(c.path.source_route.size(), 2u);
  EXPECT_EQ(c.path.source_route[0], "a.example");
  EXPECT_EQ(c.path.source_route[1], "b.example");
  EXPECT_EQ(c.path.local_part, "u");
  EXPECT_EQ(c.path.domain, "c.example");
  EXPECT_EQ(c.path.Address(), "u@c.example");
  c = Ok("MAIL FROM:<@a:u@c>");
  ASSERT_EQ(c.path.source_route.size(), 1u);
  EXPECT_EQ(c.path.source_route[0], "a");
  EXPECT_EQ(ErrCode("RCPT TO:<@a.example:>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@a.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@a.example,b.example:u@c>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@a.example;@b:u@c>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@:u@c>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@[1.2.3.4]:u@c>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<@a.example:postmaster>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("MAIL FROM:<@a.example:>"), "501 5.1.7");
}

TEST(Path, PostmasterWithoutDomain) {
  auto c = Ok("RCPT TO:<postmaster>");
  EXPECT_EQ(c.path.local_part, "postmaster");
  EXPECT_EQ(c.path.domain, "");
  EXPECT_EQ(c.path.Address(), "postmaster");
  EXPECT_EQ(Addr("RCPT TO:<PostMaster>"), "PostMaster");
  EXPECT_EQ(ErrCode("RCPT TO:<bob>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("RCPT TO:<\"postmaster\">"), "501 5.1.3");
  EXPECT_EQ(ErrCode("MAIL FROM:<postmaster>"), "501 5.1.7");
  auto r = ParseCommand("RCPT TO:<bob>");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "501 5.1.3 Recipient address must contain a domain");
}

TEST(Path, Smtputf8) {
  auto c = Ok("MAIL FROM:<jöran@bücher.example> SMTPUTF8");
  EXPECT_TRUE(c.path.utf8);
  EXPECT_EQ(c.path.local_part, "jöran");
  EXPECT_EQ(c.path.domain, "bücher.example");
  ASSERT_NE(c.FindParam("SMTPUTF8"), nullptr);
  EXPECT_FALSE(c.FindParam("SMTPUTF8")->value.has_value());

  EXPECT_TRUE(Ok("RCPT TO:<用户@例子.广告>").path.utf8);
  EXPECT_TRUE(Ok("RCPT TO:<\"δοκιμή test\"@παράδειγμα.δοκιμή>").path.utf8);
  EXPECT_TRUE(Ok("RCPT TO:<a@b.example> ORCPT=utf-8;ü").path.utf8 == false);  // params do not set utf8
  EXPECT_TRUE(Ok("RCPT TO:<😀@x.example>").path.utf8);
  EXPECT_FALSE(Ok("RCPT TO:<ascii@x.example>").path.utf8);
}

TEST(Path, InvalidUtf8Rejected) {
  EXPECT_EQ(ErrCode("RCPT TO:<j\xf6ran@x.example>"), "501 5.1.3");            // Latin-1
  EXPECT_EQ(ErrCode("MAIL FROM:<j\xc3@x.example>"), "501 5.1.7");             // truncated
  EXPECT_EQ(ErrCode("RCPT TO:<\xc0\xaf@x.example>"), "501 5.1.3");            // overlong
  EXPECT_EQ(ErrCode("RCPT TO:<\xed\xa0\x80@x.example>"), "501 5.1.3");        // surrogate
  EXPECT_EQ(ErrCode("RCPT TO:<\xf4\x90\x80\x80@x.example>"), "501 5.1.3");    // > U+10FFFF
  EXPECT_EQ(ErrCode("RCPT TO:<\x80@x.example>"), "501 5.1.3");                // lone continuation
  EXPECT_EQ(ErrCode("RCPT TO:<a@b\xfc" "cher.example>"), "501 5.1.3");        // Latin-1 domain
  EXPECT_EQ(ErrCode("RCPT TO:<\"a\xff\"@x.example>"), "501 5.1.3");           // quoted
  EXPECT_EQ(ErrCode("RCPT TO:<a@x.example> ORCPT=\xff"), "501 5.5.4");        // param value
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x98"));
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\x80"));
}

TEST(Path, LocalPartLimit) {
  std::string l64(64, 'a'), l65(65, 'a');
  EXPECT_EQ(ErrCode("RCPT TO:<" + l64 + "@x.example>"), "ok");
  EXPECT_EQ(ErrCode("RCPT TO:<" + l65 + "@x.example>"), "501 5.1.3");
  EXPECT_EQ(ErrCode("MAIL FROM:<" + l65 + "@x.example>"), "501 5.1.7");
  // The limit is on the local part as sent, quotes included.
  std::string q62 = "\"" + std::string(62, 'a') + "\"", q63 = "\"" + std::string(63, 'a') + "\"";
  EXPECT_EQ(ErrCode("RCPT TO:<" + q62 + "@x.example>"), "ok");
  EXPECT_EQ(ErrCode("RCPT TO:<" + q63 + "@x.example>"), "501 5.1.3");
  auto r = ParseCommand("RCPT TO:<" + l65 + "@x.example>");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("local part too long"), std::string::npos);
}

TEST(Path, DomainAndPathLimits) {
  // 4 labels of 63 + 3 dots = 255 octets: the longest domain.
  std::string label(63, 'd');
  std::string d255 = label + "." + label + "." + label + "." + label;
  ASSERT_EQ(d255.size(), 255u);
  EXPECT_TRUE(IsValidDomain(d255, false));
  EXPECT_FALSE(IsValidDomain(d255 + "x", false));   // a 64-octet label
  EXPECT_FALSE(IsValidDomain(d255 + ".x", false));  // 257 octets
  EXPECT_EQ(ErrCode("RCPT TO:<a@" + d255 + ">"), "501 5.1.3");  // path 259 octets
  auto r = ParseCommand("RCPT TO:<a@" + d255 + ".x>");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("domain too long"), std::string::npos);
  EXPECT_EQ(ReplyForSyntaxError(r.error()).enhanced, "5.1.3");

  // Whole path: "<" + local + "@" + domain + ">" <= 256 octets.
  std::string d250 = std::string(63, 'd') + "." + std::string(63, 'd') + "." + std::string(63, 'd') + "." +
                     std::string(58, 'd');
  ASSERT_EQ(d250.size(), 250u);
  EXPECT_EQ(ErrCode("RCPT TO:<abc@" + d250 + ">"), "ok");    // 1+3+1+250+1 = 256
  EXPECT_EQ(ErrCode("RCPT TO:<abcd@" + d250 + ">"), "501 5.1.3");  // 257
  EXPECT_EQ(ErrCode("MAIL FROM:<abcd@" + d250 + ">"), "501 5.1.7");
  r = ParseCommand("MAIL FROM:<abcd@" + d250 + ">");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "501 5.1.7 Sender address too long (max 256 octets)");
}

TEST(Path, GarbageAfterPath) {
  EXPECT_EQ(ErrCode("RCPT TO:<a@b.example>x"), "501 5.1.3");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example>SIZE=10"), "501 5.1.7");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> <c@d>"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<>>"), "501 5.1.7");
}

// --- ESMTP parameters ----------------------------------------------------------

TEST(Params, SizeAndBody) {
  auto c = Ok("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME");
  ASSERT_EQ(c.params.size(), 2u);
  EXPECT_EQ(c.params[0].key, "SIZE");
  EXPECT_EQ(c.params[0].value, "1000");
  EXPECT_EQ(c.params[1].key, "BODY");
  EXPECT_EQ(c.params[1].value, "8BITMIME");
  ASSERT_NE(c.FindParam("BODY"), nullptr);
  EXPECT_EQ(*c.FindParam("BODY")->value, "8BITMIME");
  EXPECT_EQ(c.FindParam("AUTH"), nullptr);
}

TEST(Params, KeysUpperCasedValuesRaw) {
  auto c = Ok("RCPT TO:<a@b.example> notify=success,failure orcpt=rfc822;a+2Bb@b.example x-Foo");
  ASSERT_EQ(c.params.size(), 3u);
  EXPECT_EQ(c.params[0].key, "NOTIFY");
  EXPECT_EQ(c.params[0].value, "success,failure");
  EXPECT_EQ(c.params[1].key, "ORCPT");
  EXPECT_EQ(c.params[1].value, "rfc822;a+2Bb@b.example");
  EXPECT_EQ(c.params[2].key, "X-FOO");
  EXPECT_FALSE(c.params[2].value.has_value());
  auto decoded = XtextDecode(*c.params[1].value);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, "rfc822;a+b@b.example");
}

TEST(Params, AuthNullMailbox) {
  auto c = Ok("MAIL FROM:<a@b.example> AUTH=<>");
  ASSERT_NE(c.FindParam("AUTH"), nullptr);
  EXPECT_EQ(*c.FindParam("AUTH")->value, "<>");
}

TEST(Params, BadParameters) {
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> SIZE="), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> =10"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> -SIZE=10"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> SI_ZE=10"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> SIZE=1=0"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example> SIZE=1 size=2"), "501 5.5.4");
  EXPECT_EQ(ErrCode("MAIL FROM:<a@b.example>\tSIZE=1"), "501 5.1.7");
  auto r = ParseCommand("MAIL FROM:<a@b.example> BODY=7BIT body=8BITMIME");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "501 5.5.4 Duplicate ESMTP parameter");
}

TEST(Params, CountLimit) {
  std::string line = "MAIL FROM:<a@b.example>";
  for (size_t i = 0; i < kMaxParams; ++i) line += " X" + std::to_string(i) + "=1";
  auto c = Ok(line);
  EXPECT_EQ(c.params.size(), kMaxParams);
  auto r = ParseCommand(line + " ONEMORE");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "501 5.5.4 Too many ESMTP parameters");
}

TEST(Path, LongSourceRouteStopsEarly) {
  std::string line = "RCPT TO:<";
  for (int i = 0; i < 1000; ++i) line += "@h" + std::to_string(i) + ",";
  line += "@z:u@x.example>";
  auto r = ParseCommand(line);
  ASSERT_FALSE(r);
  EXPECT_EQ(ReplyForSyntaxError(r.error()).text, "Recipient address too long (max 256 octets)");
}

TEST(Xtext, DecodeEncode) {
  EXPECT_EQ(*XtextDecode("abc"), "abc");
  EXPECT_EQ(*XtextDecode("a+2Bb+3Dc"), "a+b=c");
  EXPECT_EQ(*XtextDecode("+2b"), "+");  // lower-case hex tolerated
  EXPECT_EQ(*XtextDecode(""), "");
  EXPECT_EQ(*XtextDecode("+00"), std::string(1, '\0'));
  EXPECT_FALSE(XtextDecode("+"));
  EXPECT_FALSE(XtextDecode("+2"));
  EXPECT_FALSE(XtextDecode("a+2"));
  EXPECT_FALSE(XtextDecode("+GG"));
  EXPECT_FALSE(XtextDecode("a=b"));
  EXPECT_FALSE(XtextDecode("a b"));
  EXPECT_EQ(XtextEncode("a+b=c d\x01\xff"), "a+2Bb+3Dc+20d+01+FF");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto round = XtextDecode(XtextEncode(all));
  ASSERT_TRUE(round);
  EXPECT_EQ(*round, all);
}

// --- validators and errors -------------------------------------------------------

TEST(Validators, Domains) {
  EXPECT_TRUE(IsValidDomain("example.com", false));
  EXPECT_TRUE(IsValidDomain("a", false));
  EXPECT_FALSE(IsValidDomain("", false));
  EXPECT_FALSE(IsValidDomain("MY_PC", false));
  EXPECT_FALSE(IsValidDomain("example.com.", false));
  EXPECT_FALSE(IsValidDomain("bücher.example", false));
  EXPECT_TRUE(IsValidDomain("bücher.example", true));
  EXPECT_FALSE(IsValidDomain("b\xfc" "cher.example", true));
  EXPECT_FALSE(IsValidDomain("[1.2.3.4]", false));
}

TEST(Errors, ReplyForSyntaxError) {
  auto r = ParseCommand("XYZZY");
  ASSERT_FALSE(r);
  Reply reply = ReplyForSyntaxError(r.error());
  EXPECT_EQ(reply.code, 500);
  EXPECT_EQ(reply.enhanced, "5.5.2");
  EXPECT_EQ(reply.text, "Error: command not recognized");
  EXPECT_EQ(FormatReply(reply), "500 5.5.2 Error: command not recognized\r\n");
  Reply fallback = ReplyForSyntaxError(Error{ErrorKind::kInvalidInput, "odd\r\nmessage"});
  EXPECT_EQ(fallback.code, 501);
  EXPECT_EQ(fallback.enhanced, "5.5.4");
  EXPECT_EQ(fallback.text, "odd  message");
}

TEST(Errors, NeverEchoClientBytes) {
  for (const char* line : {"RCPT TO:<evil\xff@x>", "FOO <script>", "MAIL FROM:<secret-token", "EHLO a b"}) {
    auto r = ParseCommand(line);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().message.find("evil"), std::string::npos);
    EXPECT_EQ(r.error().message.find("script"), std::string::npos);
    EXPECT_EQ(r.error().message.find("secret"), std::string::npos);
  }
}

// --- reply formatting ----------------------------------------------------------------

TEST(Reply, SingleLine) {
  EXPECT_EQ(FormatReply(250, "2.1.0", "Ok"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(FormatReply(220, "", "mx.example ESMTP"), "220 mx.example ESMTP\r\n");
  EXPECT_EQ(FormatReply(Reply{452, "4.3.1", "Insufficient system storage"}),
            "452 4.3.1 Insufficient system storage\r\n");
}

TEST(Reply, Multiline) {
  std::vector<std::string> lines = {"mx.example", "PIPELINING", "SIZE 10485760", "ENHANCEDSTATUSCODES"};
  EXPECT_EQ(FormatMultilineReply(250, "", lines),
            "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250 ENHANCEDSTATUSCODES\r\n");
  std::vector<std::string> two = {"first", "second"};
  EXPECT_EQ(FormatMultilineReply(550, "5.7.1", two), "550-5.7.1 first\r\n550 5.7.1 second\r\n");
  std::vector<std::string> one = {"only"};
  EXPECT_EQ(FormatMultilineReply(250, "2.0.0", one), "250 2.0.0 only\r\n");
}

TEST(Reply, NoBareCrOrLfFromClientText) {
  std::string out = FormatReply(250, "2.1.5", "Ok <a@b>\r\n250 2.0.0 injected\rX\nY");
  EXPECT_EQ(out, "250 2.1.5 Ok <a@b>  250 2.0.0 injected X Y\r\n");
  std::vector<std::string> lines = {"a\nb", "c\rd"};
  std::string multi = FormatMultilineReply(550, "5.1.1", lines);
  EXPECT_EQ(multi, "550-5.1.1 a b\r\n550 5.1.1 c d\r\n");
  EXPECT_EQ(SanitizeReplyText(std::string("a\0b\x7f\xc3\xa9", 6)), "a b ??");
  EXPECT_EQ(SanitizeReplyText("tab\there"), "tab here");
}

TEST(Reply, LinesCappedAt512Octets) {
  std::string out = FormatReply(250, "2.0.0", std::string(2000, 'x'));
  EXPECT_EQ(out.size(), kMaxReplyLine);
  EXPECT_EQ(out.substr(out.size() - 2), "\r\n");
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  out = FormatReply(250, "", std::string(2000, 'x'));
  EXPECT_EQ(out.size(), kMaxReplyLine);
  out = FormatReply(250, "2.0.0", std::string(500, 'x'));  // fits exactly? 4+6+500+2 = 512
  EXPECT_EQ(out.size(), 512u);
}

TEST(Reply, EnhancedCodeShape) {
  EXPECT_TRUE(IsEnhancedCode("2.1.0"));
  EXPECT_TRUE(IsEnhancedCode("5.123.456"));
  EXPECT_FALSE(IsEnhancedCode("3.1.0"));
  EXPECT_FALSE(IsEnhancedCode("2.1"));
  EXPECT_FALSE(IsEnhancedCode("2.1.0.0"));
  EXPECT_FALSE(IsEnhancedCode("2..0"));
  EXPECT_FALSE(IsEnhancedCode("2.1234.0"));
  EXPECT_FALSE(IsEnhancedCode(""));
}

namespace columba::smtp {
namespace {

Command Mail(std::string_view line) {
  auto c = ParseCommand(line);
  EXPECT_TRUE(c.has_value()) << line;
  return c ? *c : Command{};
}

TEST(CheckMailParams, SizeAndBodyAsBothServersAcceptThem) {
  EXPECT_FALSE(CheckMailParams(Mail("MAIL FROM:<a@b.example> SIZE=1000 BODY=8bitmime"), 1000).has_value());
  EXPECT_FALSE(CheckMailParams(Mail("MAIL FROM:<> BODY=7BIT"), 10).has_value());
  auto big = CheckMailParams(Mail("MAIL FROM:<a@b.example> SIZE=1001"), 1000);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(FormatReply(big->reply), "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_FALSE(big->protocol_error);
  for (std::string_view bad : {"MAIL FROM:<a@b.example> SIZE", "MAIL FROM:<a@b.example> SIZE=12x",
                               "MAIL FROM:<a@b.example> SIZE=99999999999999999999"}) {
    auto r = CheckMailParams(Mail(bad), 1000);
    ASSERT_TRUE(r.has_value()) << bad;
    EXPECT_EQ(r->reply.code, 501) << bad;
    EXPECT_TRUE(r->protocol_error);
  }
  auto body = CheckMailParams(Mail("MAIL FROM:<a@b.example> BODY=BINARYMIME"), 1000);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->reply.code, 501);
  auto other = CheckMailParams(Mail("MAIL FROM:<a@b.example> RET=FULL"), 1000);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(FormatReply(other->reply), "555 5.5.4 Unsupported MAIL parameter RET\r\n");
}

}  // namespace
}  // namespace columba::smtp
