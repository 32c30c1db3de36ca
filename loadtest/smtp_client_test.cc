// smtp_client_test.cc - NAME
//   unit tests for the pure parts of the SMTP/LMTP client: reply-line parsing,
//   EHLO capability parsing, and the smtp scenario's flags.
//
// DESCRIPTION
//   Hermetic: no sockets, no clocks, no files. The dialogue itself (pipelining,
//   RSET after a failure, one reply per LMTP recipient) is exercised against real
//   servers by loadtest/compare/{lmtp,smtp}.
#include <gtest/gtest.h>

#include "loadtest/options.h"
#include "loadtest/smtp_client.h"

namespace columba::loadtest {
namespace {

TEST(ReplyLine, CodesAndContinuations) {
  auto r = ParseReplyLine("250-mx.example.test Hello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, 250);
  EXPECT_TRUE(r->more);
  EXPECT_EQ(r->text, "mx.example.test Hello");

  r = ParseReplyLine("354 End data with <CR><LF>.<CR><LF>");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, 354);
  EXPECT_FALSE(r->more);

  r = ParseReplyLine("221");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, 221);
  EXPECT_FALSE(r->more);
  EXPECT_EQ(r->text, "");

  r = ParseReplyLine("451 ");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, 451);
  EXPECT_EQ(r->text, "");
}

TEST(ReplyLine, Malformed) {
  EXPECT_FALSE(ParseReplyLine("").has_value());
  EXPECT_FALSE(ParseReplyLine("25").has_value());
  EXPECT_FALSE(ParseReplyLine("2x0 ok").has_value());
  EXPECT_FALSE(ParseReplyLine("150 not an SMTP code").has_value());
  EXPECT_FALSE(ParseReplyLine("650 out of range").has_value());
  EXPECT_FALSE(ParseReplyLine("250ok").has_value());
  EXPECT_FALSE(ParseReplyLine("250_ok").has_value());
  EXPECT_FALSE(ParseReplyLine("hello").has_value());
}

TEST(EhloCapabilities, PostfixAndColumbaReplies) {
  // Postfix 3.7's EHLO reply (as configured by loadtest/compare/smtp).
  SmtpReply postfix{250, {"compare.example.test", "PIPELINING", "SIZE 10240000", "ETRN", "ENHANCEDSTATUSCODES",
                          "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}};
  auto c = ParseEhloCapabilities(postfix);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.size);

  SmtpReply lower{250, {"mx", "pipelining", "size"}};
  c = ParseEhloCapabilities(lower);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.size);

  // The first line is the server's name, never a capability; prefixes do not count.
  SmtpReply none{250, {"PIPELINING", "PIPELININGX", "SIZEX 10", "8BITMIME"}};
  c = ParseEhloCapabilities(none);
  EXPECT_FALSE(c.pipelining);
  EXPECT_FALSE(c.size);

  SmtpReply empty{250, {}};
  c = ParseEhloCapabilities(empty);
  EXPECT_FALSE(c.pipelining);
}

TEST(SmtpOptions, DefaultsAndRecipients) {
  const char* a[] = {"columba-load", "smtp", "--user-pattern", "load%d@example.test", "--user-count", "3"};
  auto o = ParseOptions(static_cast<int>(std::size(a)), a).value();
  EXPECT_EQ(o.rcpts, (std::vector<std::string>{"load1@example.test", "load2@example.test", "load3@example.test"}));
  EXPECT_TRUE(o.pipelining);
  EXPECT_EQ(o.messages_per_session, 10);
  EXPECT_EQ(o.port, 0);  // the scenario's default (2525) is applied by the caller

  const char* b[] = {"columba-load", "smtp", "--rcpt", "a@example.test", "--no-pipelining",
                     "--messages-per-session", "0", "--message-size", "2k"};
  o = ParseOptions(static_cast<int>(std::size(b)), b).value();
  EXPECT_FALSE(o.pipelining);
  EXPECT_EQ(o.messages_per_session, 0);
  ASSERT_EQ(o.sizes.size(), 1u);
  EXPECT_EQ(o.sizes[0].size, 2048u);

  // lmtp keeps its defaults: no pipelining, one connection per session.
  const char* c[] = {"columba-load", "lmtp", "--rcpt", "a@example.test"};
  o = ParseOptions(static_cast<int>(std::size(c)), c).value();
  EXPECT_FALSE(o.pipelining);
  EXPECT_EQ(o.messages_per_session, 0);
}

TEST(SmtpOptions, Refusals) {
  const char* none[] = {"columba-load", "smtp"};
  EXPECT_FALSE(ParseOptions(2, none).has_value());
  const char* both_pipe[] = {"columba-load", "smtp", "--rcpt", "a@example.test", "--pipelining", "--no-pipelining"};
  EXPECT_FALSE(ParseOptions(6, both_pipe).has_value());
  const char* both_rcpts[] = {"columba-load", "smtp", "--rcpt", "a@example.test", "--user-pattern", "u%d@example.test"};
  EXPECT_FALSE(ParseOptions(6, both_rcpts).has_value());
  const char* negative[] = {"columba-load", "smtp", "--rcpt", "a@example.test", "--messages-per-session", "-1"};
  EXPECT_FALSE(ParseOptions(6, negative).has_value());
  const char* bad_size[] = {"columba-load", "smtp", "--rcpt", "a@example.test", "--message-size", "10q"};
  EXPECT_FALSE(ParseOptions(6, bad_size).has_value());
}

}  // namespace
}  // namespace columba::loadtest
