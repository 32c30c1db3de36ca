// proxy_protocol_test.cc - PROXY v1/v2 headers, partial input, and refusals.
#include "lib/net/proxy_protocol.h"

#include <gtest/gtest.h>

using columba::net::ParseProxyHeader;

namespace {
std::string V2(unsigned char cmd, unsigned char fam, std::string payload) {
  std::string s("\r\n\r\n\0\r\nQUIT\n", 12);
  s.push_back(static_cast<char>(0x20 | cmd));
  s.push_back(static_cast<char>(fam));
  s.push_back(static_cast<char>(payload.size() >> 8));
  s.push_back(static_cast<char>(payload.size() & 0xff));
  return s + payload;
}
}  // namespace

TEST(Proxy, V1Tcp4) {
  std::string in = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 25\r\nEHLO x\r\n";
  auto h = ParseProxyHeader(in);
  ASSERT_TRUE(h.has_value()) << h.error().message;
  ASSERT_TRUE(h->has_value());
  EXPECT_EQ((*h)->src_ip, "203.0.113.7");
  EXPECT_EQ((*h)->src_port, 51234);
  EXPECT_EQ((*h)->dst_port, 25);
  EXPECT_EQ(in.substr((*h)->consumed), "EHLO x\r\n");
}

TEST(Proxy, V1Tcp6AndUnknown) {
  auto h = ParseProxyHeader("PROXY TCP6 2001:db8::7 2001:db8::1 1 993\r\n");
  ASSERT_TRUE(h && *h);
  EXPECT_EQ((*h)->src_ip, "2001:db8::7");
  auto u = ParseProxyHeader("PROXY UNKNOWN\r\n");
  ASSERT_TRUE(u && *u);
  EXPECT_TRUE((*u)->local);
}

TEST(Proxy, PartialInputAsksForMore) {
  std::string full = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  for (size_t n = 0; n < full.size(); ++n) {
    auto h = ParseProxyHeader(full.substr(0, n));
    ASSERT_TRUE(h.has_value()) << n << ": " << h.error().message;
    EXPECT_FALSE(h->has_value()) << n;
  }
  std::string v2 = V2(1, 0x11, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x00\x19\x01\xbb", 12));
  for (size_t n = 0; n < v2.size(); ++n) {
    auto h = ParseProxyHeader(v2.substr(0, n));
    ASSERT_TRUE(h.has_value()) << n;
    EXPECT_FALSE(h->has_value()) << n;
  }
}

TEST(Proxy, V2Ipv4Ipv6LocalAndTlvsSkipped) {
  auto h = ParseProxyHeader(V2(1, 0x11, std::string("\xcb\x00\x71\x07\xc0\x00\x02\x01\xc8\x22\x00\x19", 12) + "TLVDATA"));
  ASSERT_TRUE(h && *h) << (h ? "" : h.error().message);
  EXPECT_EQ((*h)->src_ip, "203.0.113.7");
  EXPECT_EQ((*h)->dst_ip, "192.0.2.1");
  EXPECT_EQ((*h)->src_port, 51234);
  EXPECT_EQ((*h)->dst_port, 25);
  EXPECT_EQ((*h)->consumed, 16u + 12u + 7u);
  std::string v6(36, '\0');
  v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = static_cast<char>(0xb8); v6[15] = 7;
  v6[33] = 1;
  auto h6 = ParseProxyHeader(V2(1, 0x21, v6));
  ASSERT_TRUE(h6 && *h6);
  EXPECT_EQ((*h6)->src_ip, "2001:db8::7");
  EXPECT_EQ((*h6)->src_port, 1);
  auto local = ParseProxyHeader(V2(0, 0x00, ""));
  ASSERT_TRUE(local && *local);
  EXPECT_TRUE((*local)->local);
}

TEST(Proxy, MalformedHeadersAreRefused) {
  for (std::string bad : {std::string("EHLO x\r\n"), std::string("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
                          std::string("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), std::string("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"),
                          std::string("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), std::string("PROXY ") + std::string(200, 'x'),
                          V2(2, 0x11, std::string(12, '\0')), V2(1, 0x31, std::string(12, '\0')),
                          V2(1, 0x11, std::string(4, '\0'))}) {
    auto h = ParseProxyHeader(bad);
    EXPECT_FALSE(h.has_value()) << bad;
  }
  std::string huge = V2(1, 0x11, "");
  huge[14] = 0x10;  // 4096 octets announced
  EXPECT_FALSE(ParseProxyHeader(huge).has_value());
}
