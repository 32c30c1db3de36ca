// dsn_test.cc - failure notices: who gets one (RFC 3461 NOTIFY, the null
// sender), and what is in it (RFC 3464 fields, RET=HDRS, size cut, no stray line ends).
#include "lib/smtp/dsn.h"

#include <gtest/gtest.h>

namespace columba::smtp {
namespace {

const std::string kMessage =
    "From: Alice <alice@example.org>\r\nSubject: quarterly report\r\nMessage-ID: <q1@example.org>\r\n\r\n"
    "the body\r\n";

FailureNotice Notice() {
  FailureNotice n;
  n.reporting_mta = "mx.example.test";
  n.sender = "alice@example.org";
  n.envid = "env-42";
  n.arrival = 1'790'000'000;
  n.recipients = {{"full@example.test", "rfc822;Full@example.test", "5.2.2", "552 5.2.2 Mailbox full"},
                  {"gone@example.test", "", "5.1.1", "550 5.1.1 No such user\r\nInjected: header"}};
  n.message = kMessage;
  n.boundary_seed = "q1";
  return n;
}

TEST(FailureNotice, WhoGetsOne) {
  EXPECT_TRUE(WantsFailureNotice("alice@example.org", ""));
  EXPECT_TRUE(WantsFailureNotice("alice@example.org", "FAILURE"));
  EXPECT_TRUE(WantsFailureNotice("alice@example.org", "SUCCESS,FAILURE,DELAY"));
  EXPECT_FALSE(WantsFailureNotice("alice@example.org", "NEVER"));
  EXPECT_FALSE(WantsFailureNotice("alice@example.org", "SUCCESS,DELAY"));
  EXPECT_FALSE(WantsFailureNotice("", ""));  // never bounce a bounce
}

TEST(FailureNotice, CarriesTheRfc3464FieldsAndTheMessage) {
  std::string dsn = BuildFailureNotice(Notice());
  for (std::string_view want :
       {"From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n", "To: <alice@example.org>\r\n",
        "Content-Type: multipart/report; report-type=delivery-status;", "Reporting-MTA: dns; mx.example.test\r\n",
        "Original-Envelope-Id: env-42\r\n", "Original-Recipient: rfc822;Full@example.test\r\n",
        "Final-Recipient: rfc822; full@example.test\r\n", "Action: failed\r\n", "Status: 5.2.2\r\n",
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n", "Status: 5.1.1\r\n", "Content-Type: message/rfc822\r\n",
        "the body\r\n"}) {
    EXPECT_NE(dsn.find(want), std::string::npos) << want;
  }
  // A reply text with CRLF inside cannot add a header or field.
  EXPECT_EQ(dsn.find("\r\nInjected: header"), std::string::npos);
  // Only CRLF line ends.
  for (size_t i = 0; i < dsn.size(); ++i) {
    if (dsn[i] == '\n') {
      EXPECT_TRUE(i > 0 && dsn[i - 1] == '\r') << i;
    }
    if (dsn[i] == '\r') {
      EXPECT_TRUE(i + 1 < dsn.size() && dsn[i + 1] == '\n') << i;
    }
  }
}

TEST(FailureNotice, HeadersOnlyForRetHdrsOrLargeMessages) {
  auto n = Notice();
  n.ret = "HDRS";
  std::string hdrs = BuildFailureNotice(n);
  EXPECT_NE(hdrs.find("Content-Type: text/rfc822-headers\r\n"), std::string::npos);
  EXPECT_NE(hdrs.find("Subject: quarterly report\r\n"), std::string::npos);
  EXPECT_EQ(hdrs.find("the body"), std::string::npos);
  n.ret = "";
  n.max_returned = 10;
  std::string cut = BuildFailureNotice(n);
  EXPECT_NE(cut.find("text/rfc822-headers"), std::string::npos);
  EXPECT_EQ(cut.find("the body"), std::string::npos);
}

}  // namespace
}  // namespace columba::smtp
