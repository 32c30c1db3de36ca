// cidr_test.cc - trusted-network matching, IPv4/IPv6/mapped, and strict parsing.
#include "lib/net/cidr.h"

#include <gtest/gtest.h>

using columba::net::CidrSet;

TEST(Cidr, LocalStackTrustsOnly127001) {
  auto s = CidrSet::Parse({"127.0.0.1/32"});
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->Contains("127.0.0.1"));
  EXPECT_TRUE(s->Contains("::ffff:127.0.0.1")) << "IPv4-mapped form of the same client";
  EXPECT_FALSE(s->Contains("127.0.0.2")) << "other 127.x addresses are outside clients";
  EXPECT_FALSE(s->Contains("::1"));
  EXPECT_FALSE(s->Contains("garbage"));
}

TEST(Cidr, NetworksAndPrefixes) {
  auto s = CidrSet::Parse({"10.0.0.0/8", "192.168.4.0/22", "2001:db8::/32", "::1"});
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_TRUE(s->Contains("10.255.1.2"));
  EXPECT_FALSE(s->Contains("11.0.0.1"));
  EXPECT_TRUE(s->Contains("192.168.7.255"));
  EXPECT_FALSE(s->Contains("192.168.8.0"));
  EXPECT_TRUE(s->Contains("2001:db8:ffff::1"));
  EXPECT_FALSE(s->Contains("2001:db9::1"));
  EXPECT_TRUE(s->Contains("::1"));
  auto all = CidrSet::Parse({"0.0.0.0/0"});
  EXPECT_TRUE(all->Contains("8.8.8.8"));
  EXPECT_FALSE(all->Contains("2001:db8::1")) << "an IPv4 /0 does not match IPv6";
}

TEST(Cidr, BadEntriesAreErrorsNamingThem) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "300.1.1.1", "fe80::/129", "host.example", "10.0.0.0/8x"}) {
    auto s = CidrSet::Parse({bad});
    ASSERT_FALSE(s.has_value()) << bad;
    EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
  }
}
