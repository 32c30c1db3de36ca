// address_test.cc - tests of the RFC 5322 address-list parser, including the
// examples of RFC 5322 appendix A.1 and the obsolete syntax of section 4.4.
// Pure in-memory tests; never touch files or the network.
#include <gtest/gtest.h>

#include <string>

#include "lib/mail/address.h"

namespace columba::mail {
namespace {

// Compact rendering for assertions: mailbox "name|route|mailbox|host",
// group start "group:name", group end ";".
std::string Render(const AddressList& list) {
  std::string out;
  for (const Address& a : list.addresses) {
    if (!out.empty()) out += " / ";
    switch (a.kind) {
      case Address::Kind::kGroupStart: out += "group:" + a.name; break;
      case Address::Kind::kGroupEnd: out += ";"; break;
      case Address::Kind::kMailbox: out += a.name + "|" + a.route + "|" + a.mailbox + "|" + a.host; break;
    }
  }
  return out;
}

std::string Parse(std::string_view s) { return Render(ParseAddressList(s)); }

TEST(ParseAddressList, AddrSpecOnly) {
  EXPECT_EQ(Parse("jdoe@example.org"), "||jdoe|example.org");
  EXPECT_EQ(Parse("  user@[192.0.2.1]  "), "||user|[192.0.2.1]");
}

TEST(ParseAddressList, DisplayNames) {
  // RFC 5322 A.1.1 / A.1.2
  EXPECT_EQ(Parse("John Doe <jdoe@machine.example>"), "John Doe||jdoe|machine.example");
  EXPECT_EQ(Parse("\"Joe Q. Public\" <john.q.public@example.com>"),
            "Joe Q. Public||john.q.public|example.com");
  EXPECT_EQ(Parse("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            "Mary Smith||mary|x.test / ||jdoe|example.org / Who?||one|y.test");
  EXPECT_EQ(Parse("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"),
            "||boss|nil.test / Giant; \"Big\" Box||sysservices|example.net");
  // obs-phrase: a period inside an unquoted display name.
  EXPECT_EQ(Parse("John Q. Public <jqp@example.com>"), "John Q. Public||jqp|example.com");
  // Comments between words collapse to one space; folding is whitespace.
  EXPECT_EQ(Parse("John (middle) \r\n Doe <jd@example.com>"), "John Doe||jd|example.com");
  // Encoded-words are kept as written.
  EXPECT_EQ(Parse("=?UTF-8?Q?J=C3=B6rg?= <j@example.de>"), "=?UTF-8?Q?J=C3=B6rg?=||j|example.de");
}

TEST(ParseAddressList, CommentBecomesNameWithoutDisplayName) {
  EXPECT_EQ(Parse("jdoe@example.org (John Doe)"), "John Doe||jdoe|example.org");
  EXPECT_EQ(Parse("a@b.org (x (nested) y)"), "x (nested) y||a|b.org");
  EXPECT_EQ(Parse("Real <r@b.org> (ignored)"), "Real||r|b.org");
}

TEST(ParseAddressList, Groups) {
  // RFC 5322 A.1.3
  EXPECT_EQ(Parse("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            "group:A Group / Ed Jones||c|a.test / ||joe|where.test / John||jdoe|one.test / ;");
  EXPECT_EQ(Parse("Undisclosed recipients:;"), "group:Undisclosed recipients / ;");
  EXPECT_EQ(Parse("a@x.org, Team: b@y.org; , c@z.org"), "||a|x.org / group:Team / ||b|y.org / ; / ||c|z.org");
  // A missing ';' is assumed at the end.
  EXPECT_EQ(Parse("Team: b@y.org"), "group:Team / ||b|y.org / ;");
}

TEST(ParseAddressList, ObsoleteSyntax) {
  // obs-route
  EXPECT_EQ(Parse("<@relay1.example,@relay2.example:user@final.example>"),
            "|@relay1.example,@relay2.example|user|final.example");
  // obs-local-part / obs-domain with CFWS around the dots
  EXPECT_EQ(Parse("john . q . public @ example . com"), "||john.q.public|example.com");
  // obs-addr-list: empty elements
  EXPECT_EQ(Parse(", , a@b.org,,c@d.org,"), "||a|b.org / ||c|d.org");
  // A quoted local part keeps its quotes.
  EXPECT_EQ(Parse("\"john smith\"@example.com"), "||\"john smith\"|example.com");
}

TEST(ParseAddressList, LiberalWithBrokenInput) {
  EXPECT_EQ(Parse("Bob <bob@x.org"), "Bob||bob|x.org");
  EXPECT_EQ(Parse("undisclosed-recipients"), "||undisclosed-recipients|");
  EXPECT_EQ(Parse("<>"), "|||");
  EXPECT_EQ(Parse(""), "");
  EXPECT_EQ(Parse("   "), "");
  EXPECT_EQ(Parse("> ; a@b.org"), "||a|b.org");  // stray specials are skipped
  EXPECT_EQ(Parse("\"unterminated <x@y.org>"), "||unterminated <x@y.org>|");
  EXPECT_EQ(Parse("(unterminated comment a@b.org"), "");
}

TEST(ParseAddressList, LimitTruncatesAndKeepsGroupsBalanced) {
  AddressLimits limits;
  limits.max_addresses = 3;
  AddressList list = ParseAddressList("a@x.org, b@x.org, c@x.org, d@x.org, e@x.org", limits);
  EXPECT_TRUE(list.truncated);
  EXPECT_EQ(Render(list), "||a|x.org / ||b|x.org / ||c|x.org");

  list = ParseAddressList("G: a@x.org, b@x.org, c@x.org, d@x.org;", limits);
  EXPECT_TRUE(list.truncated);
  EXPECT_EQ(Render(list), "group:G / ||a|x.org / ||b|x.org / ;");

  std::string many;
  for (int i = 0; i < 20000; ++i) many += "u@h,";
  list = ParseAddressList(many);
  EXPECT_TRUE(list.truncated);
  EXPECT_EQ(list.addresses.size(), 10'000u);
}

}  // namespace
}  // namespace columba::mail
