// config_test.cc - defaults, overrides, validation and the errors a user sees.
#include "lib/base/config.h"

#include <gtest/gtest.h>

using namespace columba;
using namespace std::chrono_literals;

TEST(Config, DefaultsWhenNothingIsSet) {
  auto src = ConfigSource::FromYaml("");
  ASSERT_TRUE(src.has_value());
  ConfigReader r(*src);
  EXPECT_EQ(r.Int("lmtp", "port", 2424, 1, 65535), 2424);
  EXPECT_EQ(r.Duration("lmtp", "idle_timeout", 300s, 1s, 1h), 300s);
  EXPECT_TRUE(r.Finish().has_value());
}

TEST(Config, FileValuesAndEnvironmentOverride) {
  std::string e1 = "COLUMBA_LMTP_PORT=2525", e2 = "COLUMBA_LMTP_MAX_MESSAGE_SIZE=10M",
              e3 = "COLUMBA_LDAP_URIS=ldap://a ldap://b", e4 = "COLUMBA_STATE=/tmp/x";
  char* env[] = {e1.data(), e2.data(), e3.data(), e4.data(), nullptr};
  auto src = ConfigSource::FromYaml("lmtp:\n  port: 1000\n  name: mx\nldap:\n  uris: [ldap://c]\n", env);
  ASSERT_TRUE(src.has_value()) << src.error().message;
  ConfigReader r(*src);
  EXPECT_EQ(r.Int("lmtp", "port", 2424, 1, 65535), 2525);
  EXPECT_EQ(r.String("lmtp", "name", "x"), "mx");
  EXPECT_EQ(r.Size("lmtp", "max_message_size", 1, 1, 1ull << 40), 10u << 20);
  EXPECT_EQ(r.List("ldap", "uris", {}), (std::vector<std::string>{"ldap://a", "ldap://b"}));
  EXPECT_TRUE(r.Finish().has_value());  // COLUMBA_STATE is not a SECTION_KEY override
}

TEST(Config, BadValuesNameTheKey) {
  auto src = ConfigSource::FromYaml("lmtp:\n  port: 70000\n  timeout: soon\n  verbose: maybe\n");
  ASSERT_TRUE(src.has_value());
  ConfigReader r(*src);
  EXPECT_EQ(r.Int("lmtp", "port", 2424, 1, 65535), 2424);
  r.Duration("lmtp", "timeout", 1s, 1s, 1h);
  r.Bool("lmtp", "verbose", false);
  auto fin = r.Finish();
  ASSERT_FALSE(fin.has_value());
  EXPECT_NE(fin.error().message.find("lmtp.port"), std::string::npos);
  EXPECT_NE(fin.error().message.find("lmtp.timeout"), std::string::npos);
  EXPECT_NE(fin.error().message.find("lmtp.verbose"), std::string::npos);
}

TEST(Config, UnknownKeysAreRejectedSoTyposAreNotSilentlyIgnored) {
  auto src = ConfigSource::FromYaml("lmtp:\n  prot: 25\n");
  ASSERT_TRUE(src.has_value());
  ConfigReader r(*src);
  r.Int("lmtp", "port", 2424, 1, 65535);
  auto fin = r.Finish();
  ASSERT_FALSE(fin.has_value());
  EXPECT_NE(fin.error().message.find("lmtp.prot: unknown config key"), std::string::npos);
}

TEST(Config, MalformedYamlIsAnError) {
  EXPECT_FALSE(ConfigSource::FromYaml("lmtp: [unclosed").has_value());
  EXPECT_FALSE(ConfigSource::FromYaml("- a\n- b\n").has_value());
}

TEST(Config, DurationsAndSizes) {
  EXPECT_EQ(*ParseDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseDuration("20m"), 20min);
  EXPECT_EQ(*ParseDuration("7"), 7s);
  EXPECT_FALSE(ParseDuration("5 weeks").has_value());
  EXPECT_EQ(*ParseSize("64K"), 65536u);
  EXPECT_FALSE(ParseSize("-1").has_value());
  EXPECT_FALSE(ParseSize("99999999999999999999G").has_value());
}

TEST(Config, UnknownEnvironmentVariablesWarnButBadValuesFail) {
  std::string e1 = "COLUMBA_BUILD_DIR=/tmp/b", e2 = "COLUMBA_LDAP_PROVIDER_PORT=1", e3 = "COLUMBA_LMTP_PORT=x";
  char* env[] = {e1.data(), e2.data(), e3.data(), nullptr};
  auto src = ConfigSource::FromYaml("", env);
  ASSERT_TRUE(src.has_value());
  ConfigReader r(*src);
  r.Int("lmtp", "port", 2424, 1, 65535);
  auto fin = r.Finish();
  ASSERT_FALSE(fin.has_value());
  EXPECT_NE(fin.error().message.find("lmtp.port"), std::string::npos);
  EXPECT_EQ(fin.error().message.find("build.dir"), std::string::npos);
  ASSERT_EQ(r.warnings().size(), 2u);
}

TEST(Config, AllowUnknownStillRefusesBadValues) {
  auto src = ConfigSource::FromYaml("other:\n  key: 1\nlmtp:\n  port: zero\n");
  ASSERT_TRUE(src.has_value());
  ConfigReader r(*src);
  r.Int("lmtp", "port", 2424, 1, 65535);
  auto fin = r.Finish(true);
  ASSERT_FALSE(fin.has_value());
  EXPECT_NE(fin.error().message.find("lmtp.port"), std::string::npos);
  EXPECT_EQ(fin.error().message.find("other.key"), std::string::npos);
}
