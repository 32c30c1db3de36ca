// delivery_test.cc - what lmtpd computes once per message before storing copies.
#include "services/lmtpd/delivery.h"

#include <gtest/gtest.h>

#include "lib/imap/section.h"
#include "lib/mail/message.h"

using namespace columba;

TEST(PrepareMessage, ParsesOnceAndFillsTheCachedFields) {
  std::string data =
      "From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n"
      "Message-ID: <m1@example.org>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
      "Content-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n"
      "hello world\r\n--zz\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--zz--\r\n";
  auto pm = lmtpd::PrepareMessage(data);
  ASSERT_TRUE(pm.has_value()) << pm.error().message;
  const auto& f = (*pm)->parsed;
  EXPECT_EQ(f.subject(), "café");
  EXPECT_NE(f.envelope().find("\"<m1@example.org>\""), std::string::npos) << f.envelope();
  EXPECT_EQ(f.bodystructure().rfind("((\"text\" \"plain\"", 0), 0u) << f.bodystructure();
  EXPECT_NE(f.body_text().find("hello world"), std::string::npos);
  EXPECT_EQ(f.header_size(), data.find("\r\n\r\n") + 4);
  EXPECT_EQ(f.sent_unix(), 1795600800);

  // The per-copy part map equals parsing the stored bytes (trace headers included).
  std::string prefix = "Return-Path: <a@example.org>\r\nDelivered-To: bob@example.test\r\n";
  imap::PartMap map = (*pm)->part_map;
  imap::PrependHeaderLines(map, prefix.size());
  const std::string stored_bytes = prefix + data;  // ParsedMessage views into these bytes
  auto stored = mail::ParseMessage(stored_bytes);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(map, imap::BuildPartMap(*stored));
}

TEST(PrepareMessage, RefusesWhatLibMailRefuses) {
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  EXPECT_FALSE(lmtpd::PrepareMessage(deep).has_value());
}
