// esmtp_params_test.cc - MAIL/RCPT parameters parsed from real command lines:
// every extension on and off, each malformed form, DSN values kept exactly.
#include "lib/smtp/esmtp_params.h"

#include <gtest/gtest.h>

namespace columba::smtp {
namespace {

Command Parse(std::string_view line) {
  auto c = ParseCommand(line);
  EXPECT_TRUE(c) << line;
  return c ? *c : Command{};
}

MailParamOptions All() {
  MailParamOptions o;
  o.max_size = 1000;
  o.smtputf8 = o.dsn = o.binarymime = o.auth = true;
  return o;
}

int MailCode(std::string_view line, MailParamOptions o = All()) {
  auto r = ParseMailParams(Parse(line), o);
  return r ? 250 : r.error().reply.code;
}

TEST(MailParams, EveryOfferedExtensionIsDecoded) {
  auto r = ParseMailParams(
      Parse("MAIL FROM:<a@b.example> SIZE=999 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B314 AUTH=<>"), All());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size, 999u);
  EXPECT_EQ(r->body, "8BITMIME");
  EXPECT_TRUE(r->smtputf8);
  EXPECT_EQ(r->ret, "HDRS");
  EXPECT_EQ(r->envid, "QQ+314");
}

TEST(MailParams, ExtensionsNotOfferedAre555) {
  MailParamOptions plain;
  plain.max_size = 1000;
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> SMTPUTF8", plain), 555);
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> RET=FULL", plain), 555);
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> ENVID=x", plain), 555);
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> AUTH=<>", plain), 555);
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> BODY=BINARYMIME", plain), 501);
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> XFOO=1"), 555);
}

TEST(MailParams, MalformedValuesAre501AndOverSizeIs552) {
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> SIZE=1001"), 552);
  auto over = ParseMailParams(Parse("MAIL FROM:<a@b.example> SIZE=1001"), All());
  EXPECT_FALSE(over.error().protocol_error);
  for (auto line : {"MAIL FROM:<a@b.example> SIZE=x", "MAIL FROM:<a@b.example> BODY=9BIT",
                    "MAIL FROM:<a@b.example> SMTPUTF8=yes", "MAIL FROM:<a@b.example> RET=ALL",
                    "MAIL FROM:<a@b.example> ENVID=a+ZZ",
                    "MAIL FROM:<a@b.example> AUTH"}) {
    EXPECT_EQ(MailCode(line), 501) << line;
  }
  EXPECT_EQ(MailCode("MAIL FROM:<a@b.example> ENVID=" + std::string(101, 'x')), 501);
}

TEST(MailParams, NonAsciiSenderNeedsSmtputf8) {
  EXPECT_EQ(MailCode("MAIL FROM:<j\xC3\xB6rg@b.example>"), 553);
  EXPECT_EQ(MailCode("MAIL FROM:<j\xC3\xB6rg@b.example> SMTPUTF8"), 250);
}

TEST(RcptParams, NotifyAndOrcpt) {
  auto r = ParseRcptParams(Parse("RCPT TO:<c@d.example> NOTIFY=success,Delay ORCPT=rfc822;c+40d.example"), true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->notify, "SUCCESS,DELAY");
  EXPECT_EQ(r->orcpt, "rfc822;c@d.example");
  auto never = ParseRcptParams(Parse("RCPT TO:<c@d.example> NOTIFY=NEVER"), true);
  ASSERT_TRUE(never);
  EXPECT_EQ(never->notify, "NEVER");
  for (auto line : {"RCPT TO:<c@d.example> NOTIFY=NEVER,SUCCESS", "RCPT TO:<c@d.example> NOTIFY=FAILURE,FAILURE",
                    "RCPT TO:<c@d.example> NOTIFY=SOMETIMES",
                    "RCPT TO:<c@d.example> ORCPT=c@d.example", "RCPT TO:<c@d.example> ORCPT=rfc822;",
                    "RCPT TO:<c@d.example> ORCPT=rfc822;a+0Ab"}) {
    auto bad = ParseRcptParams(Parse(line), true);
    ASSERT_FALSE(bad) << line;
    EXPECT_EQ(bad.error().reply.code, 501) << line;
  }
  auto off = ParseRcptParams(Parse("RCPT TO:<c@d.example> NOTIFY=NEVER"), false);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().reply.code, 555);
}

}  // namespace
}  // namespace columba::smtp
