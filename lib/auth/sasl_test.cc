// sasl_test.cc - SASL server mechanisms against the RFCs' own examples.
#include "lib/auth/sasl.h"
#include "lib/auth/password.h"

#include <gtest/gtest.h>

using namespace columba;
using namespace columba::auth;

TEST(Base64, RoundTripAndStrictness) {
  for (std::string s : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  for (const char* bad : {"Zm9vYg=", "Zm9v Yg==", "Zm9vYh==", "Z===", "=AAA", "Zm9vYg==Zm8="})
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
}

TEST(Plain, DecodesRfc4616Messages) {
  auto c = DecodePlain(std::string("\0tim\0tanstaaftanstaaf", 21));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->authzid, "");
  EXPECT_EQ(c->authcid, "tim");
  EXPECT_EQ(c->password, "tanstaaftanstaaf");
  auto z = DecodePlain(std::string("Ursel\0Kurt\0xipj3plmq", 20));
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(z->authzid, "Ursel");
  EXPECT_FALSE(DecodePlain("no separators").has_value());
  EXPECT_FALSE(DecodePlain(std::string("\0user\0", 6)).has_value());
  EXPECT_FALSE(DecodePlain(std::string("a\0b\0c\0d", 7)).has_value());
}

TEST(CramMd5, Rfc2195Example) {
  const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
  const std::string response = "tim b913a602c7eda7a495b4e6e7334d3890";
  EXPECT_EQ(*CramMd5User(response), "tim");
  EXPECT_TRUE(CramMd5Verify(response, challenge, "tanstaaftanstaaf"));
  EXPECT_FALSE(CramMd5Verify(response, challenge, "wrong"));
  EXPECT_FALSE(CramMd5Verify("tim b913a602c7eda7a495b4e6e7334d3891", challenge, "tanstaaftanstaaf"));
  EXPECT_FALSE(CramMd5User("no-digest").has_value());
}

namespace {
const std::string kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
const std::string kClientNonce = "rOprNGfwEbeRWgbNEkqO";
const std::string kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
}  // namespace

// RFC 7677 section 3: user "user", password "pencil", the exact messages.
TEST(Scram, Rfc7677ExchangeVerifiesAndSignsExactly) {
  ScramSecret secret = DeriveScramSecret("pencil", *Base64Decode(kSalt), 4096);
  ScramSha256Server s;
  auto user = s.ReceiveClientFirst("n,,n=user,r=" + kClientNonce);
  ASSERT_TRUE(user.has_value()) << user.error().message;
  EXPECT_EQ(*user, "user");
  EXPECT_EQ(s.ServerFirst(secret, kServerNonce), "r=" + kClientNonce + kServerNonce + ",s=" + kSalt + ",i=4096");
  auto final_msg = s.ReceiveClientFinal("c=biws,r=" + kClientNonce + kServerNonce +
                                        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(final_msg.has_value()) << final_msg.error().message;
  EXPECT_EQ(*final_msg, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(Scram, WrongProofNonceOrBindingIsRefused) {
  ScramSecret secret = DeriveScramSecret("not pencil", *Base64Decode(kSalt), 4096);
  ScramSha256Server wrong_password;
  ASSERT_TRUE(wrong_password.ReceiveClientFirst("n,,n=user,r=" + kClientNonce));
  wrong_password.ServerFirst(secret, kServerNonce);
  auto r = wrong_password.ReceiveClientFinal("c=biws,r=" + kClientNonce + kServerNonce +
                                             ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_EQ(r.error().message.find("dHzb"), std::string::npos) << "never echo the proof";

  ScramSecret right = DeriveScramSecret("pencil", *Base64Decode(kSalt), 4096);
  ScramSha256Server bad_nonce;
  ASSERT_TRUE(bad_nonce.ReceiveClientFirst("n,,n=user,r=" + kClientNonce));
  bad_nonce.ServerFirst(right, kServerNonce);
  EXPECT_FALSE(bad_nonce.ReceiveClientFinal("c=biws,r=" + kClientNonce + "other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));

  ScramSha256Server binding;
  EXPECT_FALSE(binding.ReceiveClientFirst("p=tls-unique,,n=user,r=abc").has_value());
  ScramSha256Server twice;
  ASSERT_TRUE(twice.ReceiveClientFirst("n,,n=user,r=abc"));
  EXPECT_FALSE(twice.ReceiveClientFirst("n,,n=user,r=abc").has_value());
}

TEST(Scram, NamesAuthzidAndStoredSecrets) {
  ScramSha256Server s;
  auto user = s.ReceiveClientFirst("n,a=ad=3Dmin,n=us=2Cer,r=xyz");
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(*user, "us,er");
  EXPECT_EQ(s.authzid(), "ad=min");
  ScramSha256Server bad;
  EXPECT_FALSE(bad.ReceiveClientFirst("n,,n=us=ZZer,r=xyz").has_value());

  std::string stored = MakeScramSecret("correct horse");
  EXPECT_EQ(stored.rfind("{SCRAM-SHA-256}4096,", 0), 0u);
  auto parsed = ParseScramSecret(stored);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(VerifyScramPassword("correct horse", *parsed));
  EXPECT_FALSE(VerifyScramPassword("correct horse!", *parsed));
  EXPECT_EQ(FormatScramSecret(*parsed), stored);
  for (const char* bad : {"{SCRAM-SHA-256}4096,abc", "{SCRAM-SHA-256}100,c2FsdA==,AAAA,AAAA",
                          "{SCRAM-SHA-256}x,c2FsdA==,AAAA,AAAA", "nonsense"})
    EXPECT_FALSE(ParseScramSecret(bad).has_value()) << bad;
}

TEST(Scram, StoredSecretIsAPasswordSchemeToo) {
  auto stored = HashPassword("pencil", PasswordScheme::kScramSha256);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->rfind("{SCRAM-SHA-256}", 0), 0u);
  EXPECT_EQ(*VerifyPassword("pencil", *stored), true);
  EXPECT_EQ(*VerifyPassword("pencilx", *stored), false);
  EXPECT_EQ(*ParseScheme("scram-sha-256"), PasswordScheme::kScramSha256);
  EXPECT_FALSE(VerifyPassword("pencil", "{SCRAM-SHA-256}junk").has_value());
}
