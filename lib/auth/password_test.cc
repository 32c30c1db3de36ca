// password_test.cc - password schemes: round trips, known vectors from independent
// tools, policy ({PLAIN}), limits and malformed input.
//
// Known vectors were made outside this code and pasted in; never regenerate them
// with HashPassword (that would only test the code against itself):
//   openssl passwd -6 -salt abcdefgh secret        (OpenSSL's own SHA-crypt)
//   openssl passwd -5 -salt abcdefgh secret
//   openssl passwd -1 -salt saltsalt secret
//   mkpasswd -m yescrypt 'Tr0ub4dor&3'             (whois package)
//   mkpasswd -m bcrypt -R 5 'correct horse'
//   python3 crypt.crypt("secret", "$6$rounds=10000$saltsalt$")
//   echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e   (also the
//     reference test vector of the phc-winner-argon2 repository)
//   echo -n hunter2 | argon2 columbasalt1234 -id -t 3 -m 12 -p 1 -l 32 -e
//   echo -n password | argon2 somesalt -t 2 -m 16 -p 4 -l 24 -e      (argon2i)
//   echo -n password | argon2 somesalt -id -t 2 -m 10 -p 1 -v 10 -e   (version 1.0)
//   bcrypt "U*U": the Openwall crypt_blowfish test vector.
#include "lib/auth/password.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace columba::auth {
namespace {

// Cheap Argon2 parameters so the suite stays fast; one test uses the defaults.
HashOptions Cheap() {
  HashOptions o;
  o.argon2 = {.memory_kib = 256, .iterations = 1, .parallelism = 1};
  o.bcrypt_cost = 4;
  o.yescrypt_cost = 1;
  o.sha512_rounds = 1000;
  return o;
}

bool Verifies(std::string_view password, std::string_view stored, VerifyOptions opt = {}) {
  auto r = VerifyPassword(password, stored, opt);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r.value_or(false);
}

ErrorKind VerifyError(std::string_view password, std::string_view stored, VerifyOptions opt = {}) {
  auto r = VerifyPassword(password, stored, opt);
  EXPECT_FALSE(r.has_value()) << "expected an error, got " << r.value_or(false);
  return r ? ErrorKind::kInternal : r.error().kind;
}

struct SchemeCase {
  PasswordScheme scheme;
  std::string prefix;
};
void PrintTo(const SchemeCase& c, std::ostream* os) { *os << SchemeName(c.scheme); }

class RoundTrip : public ::testing::TestWithParam<SchemeCase> {};

TEST_P(RoundTrip, HashThenVerify) {
  const auto& [scheme, prefix] = GetParam();
  for (std::string password : {std::string("correct horse battery staple"), std::string("pässwörd ✓"),
                               std::string(""), std::string(72, 'x')}) {
    auto stored = HashPassword(password, scheme, Cheap());
    ASSERT_TRUE(stored.has_value()) << stored.error().message;
    EXPECT_EQ(stored->rfind(prefix, 0), 0u) << *stored;
    VerifyOptions opt;
    opt.allow_plain = true;
    EXPECT_TRUE(Verifies(password, *stored, opt));
    EXPECT_FALSE(Verifies("!" + password, *stored, opt));
    // bcrypt reads 72 octets at most (see BcryptVerifiesLikeDovecotPastSeventyTwo).
    if (scheme != PasswordScheme::kBcrypt || password.size() < 72) {
      EXPECT_FALSE(Verifies(password + "!", *stored, opt));
    }
    EXPECT_FALSE(Verifies("Correct horse battery staple", *stored, opt));
  }
  // Random salts: the same password hashes differently each time.
  if (scheme != PasswordScheme::kPlain) {
    EXPECT_NE(HashPassword("same", scheme, Cheap()).value(), HashPassword("same", scheme, Cheap()).value());
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllSchemes, RoundTrip,
    ::testing::Values(SchemeCase{PasswordScheme::kArgon2id, "{ARGON2ID}$argon2id$v=19$m=256,t=1,p=1$"},
                      SchemeCase{PasswordScheme::kSha512Crypt, "{SHA512-CRYPT}$6$rounds=1000$"},
                      SchemeCase{PasswordScheme::kYescrypt, "{YESCRYPT}$y$"},
                      SchemeCase{PasswordScheme::kBcrypt, "{BLF-CRYPT}$2b$04$"},
                      SchemeCase{PasswordScheme::kPlain, "{PLAIN}"}),
    [](const auto& info) { return std::string(SchemeName(info.param.scheme)).substr(0, 3) + std::to_string(info.index); });

TEST(Password, DefaultsAreDovecotShaped) {
  auto argon = HashPassword("secret");  // real default cost: 64 MiB, t=3
  ASSERT_TRUE(argon.has_value()) << argon.error().message;
  EXPECT_EQ(argon->rfind("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$", 0), 0u) << *argon;
  // 16-octet salt and 32-octet hash: 22 and 43 base64 characters.
  auto salt_start = argon->find('$', argon->find("p=1")) + 1;
  auto hash_start = argon->find('$', salt_start) + 1;
  EXPECT_EQ(hash_start - salt_start - 1, 22u);
  EXPECT_EQ(argon->size() - hash_start, 43u);
  EXPECT_TRUE(Verifies("secret", *argon));

  auto sha = HashPassword("secret", PasswordScheme::kSha512Crypt);
  ASSERT_TRUE(sha.has_value());
  EXPECT_EQ(sha->rfind("{SHA512-CRYPT}$6$", 0), 0u);
  EXPECT_EQ(sha->find("rounds="), std::string::npos);  // 5000 is implied
  auto blf = HashPassword("secret", PasswordScheme::kBcrypt);
  ASSERT_TRUE(blf.has_value());
  EXPECT_EQ(blf->rfind("{BLF-CRYPT}$2b$10$", 0), 0u);
  auto yes = HashPassword("secret", PasswordScheme::kYescrypt);
  ASSERT_TRUE(yes.has_value());
  EXPECT_EQ(yes->rfind("{YESCRYPT}$y$j9T$", 0), 0u);
}

TEST(Password, KnownVectorsFromIndependentTools) {
  struct Vector {
    std::string password, stored;
  };
  const std::vector<Vector> vectors = {
      {"secret",
       "{SHA512-CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/"
       "O6IND4WQhG."},
      {"secret",
       "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."},
      {"secret",
       "{CRYPT}$6$rounds=10000$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//"
       "TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u."},
      {"secret", "{SHA256-CRYPT}$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM."},
      {"secret", "{CRYPT}$1$saltsalt$9xy1btjgzLYfb7hivXtC//"},
      {"Tr0ub4dor&3", "{YESCRYPT}$y$j9T$mOSEcu0/ZkXi4T9MTM6fQ0$lwIq.rS5tsQHz53osgIhpOXcGbe4ql5TE58iEm1cbi/"},
      {"Tr0ub4dor&3", "$y$j9T$mOSEcu0/ZkXi4T9MTM6fQ0$lwIq.rS5tsQHz53osgIhpOXcGbe4ql5TE58iEm1cbi/"},
      {"correct horse", "{BLF-CRYPT}$2b$05$wxNpl1HBs.GImu19wUlT4OVk5Elq9jkFkzRugqkgG/p9hK8fsoFZO"},
      {"correct horse", "{crypt}$2b$05$wxNpl1HBs.GImu19wUlT4OVk5Elq9jkFkzRugqkgG/p9hK8fsoFZO"},
      {"U*U", "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
      {"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
      {"password", "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
      {"password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
      {"hunter2", "{ARGON2ID}$argon2id$v=19$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s"},
      {"password", "{ARGON2I}$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"},
      {"password", "{ARGON2ID}$argon2id$v=16$m=1024,t=2,p=1$c29tZXNhbHQ$DJkDlhYQjMAOfRGtyek9T6PwKEE/HIKrG4LbYkikiYw"},
      {"password", "$argon2id$m=1024,t=2,p=1$c29tZXNhbHQ$DJkDlhYQjMAOfRGtyek9T6PwKEE/HIKrG4LbYkikiYw"},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.stored);
    EXPECT_TRUE(Verifies(v.password, v.stored));
    EXPECT_FALSE(Verifies(v.password + "x", v.stored));
    EXPECT_FALSE(Verifies("", v.stored));
  }
}

// A bcrypt hash made elsewhere from a long password (Dovecot's doveadm pw truncates
// silently) must keep working, so verification reads 72 octets like every bcrypt;
// HashPassword refuses longer passwords so that Columba never creates such a hash.
TEST(Password, BcryptVerifiesLikeDovecotPastSeventyTwo) {
  const std::string base(72, 'k');
  auto stored = HashPassword(base, PasswordScheme::kBcrypt, Cheap());
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(Verifies(base + "anything", *stored));
  EXPECT_FALSE(Verifies(base.substr(0, 71), *stored));
}

TEST(Password, SchemePrefixIsCaseInsensitive) {
  EXPECT_TRUE(Verifies("secret", "{sha512-crypt}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."));
}

TEST(Password, PlainIsRefusedUnlessAllowed) {
  auto r = VerifyPassword("secret", "{PLAIN}secret");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(r.error().message.find("plain"), std::string::npos);
  EXPECT_EQ(VerifyError("secret", "{CLEARTEXT}secret"), ErrorKind::kPermissionDenied);
  EXPECT_EQ(VerifyError("secret", "{clear}secret"), ErrorKind::kPermissionDenied);

  VerifyOptions allow;
  allow.allow_plain = true;
  EXPECT_TRUE(Verifies("secret", "{PLAIN}secret", allow));
  EXPECT_TRUE(Verifies("", "{PLAIN}", allow));
  EXPECT_FALSE(Verifies("secre", "{PLAIN}secret", allow));
  EXPECT_FALSE(Verifies(std::string_view("secret\0x", 8), "{PLAIN}secret", allow));
  EXPECT_TRUE(Verifies("{x}$6$", "{CLEARTEXT}{x}$6$", allow));
  // Un-prefixed text is never taken as a plain password.
  EXPECT_EQ(VerifyError("secret", "secret", allow), ErrorKind::kInvalidInput);
}

TEST(Password, UnknownSchemesAreInvalidInput) {
  for (const std::string& stored : std::vector<std::string>{"{SSHA512}abcd", "{MD5}x", "{}abc", "{ARGON2ID", "{" + std::string(40, 'A') + "}x",
                             "secret", "", "$9$abc", "$argon2d$v=19$m=8,t=1,p=1$c29tZXNhbHQ$abcd"}) {
    SCOPED_TRACE(stored);
    EXPECT_EQ(VerifyError("secret", stored), ErrorKind::kInvalidInput);
  }
}

TEST(Password, MalformedHashesAreRejectedWithoutCrashing) {
  const std::string good_argon = "$argon2id$v=19$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s";
  std::vector<std::string> bad = {
      "{ARGON2ID}",
      "{ARGON2ID}$argon2i$v=19$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0",
      "{ARGON2ID}$argon2id$v=18$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=3$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=3,p=1,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=-1,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=99999999999,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=0,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=4,t=1,p=1$Y29sdW1iYXNhbHQxMjM0$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=3,p=1$c2FsdA$vNZ3uQZAN9lJCvh8n+KK71QiXs7m4/YmOCx4bZ0uP6s",   // salt < 8
      "{ARGON2ID}$argon2id$v=19$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$***",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=3,p=1$Y29sdW1iYXNhbHQxMjM0$v",
      "{ARGON2ID}" + good_argon + "$extra",
      "{SHA512-CRYPT}",
      "{SHA512-CRYPT}$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.",
      "{SHA512-CRYPT}$6$rounds=abc$salt$hash",
      "{SHA512-CRYPT}*0",
      "{BLF-CRYPT}$2b$5$abc",
      "{BLF-CRYPT}$2b$xx$wxNpl1HBs.GImu19wUlT4OVk5Elq9jkFkzRugqkgG/p9hK8fsoFZO",
      "{BLF-CRYPT}$2b$05$short",
      "{YESCRYPT}$y$",
      "{YESCRYPT}$y$$$$",
      "{CRYPT}*",
      "{CRYPT}",
      std::string("{CRYPT}$6$ab\0cd$xyz", 20),
      "$6$",
  };
  for (const auto& stored : bad) {
    SCOPED_TRACE(stored);
    auto r = VerifyPassword("secret", stored);
    // Either a clean error or a clean "no": never a match, never a crash.
    if (r) {
      EXPECT_FALSE(*r);
    } else {
      EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput) << r.error().message;
      EXPECT_EQ(r.error().message.find("secret"), std::string::npos);
    }
  }
}

TEST(Password, StoredCostIsBounded) {
  VerifyOptions opt;
  opt.max_argon2_memory_kib = 1024;
  EXPECT_EQ(VerifyError("password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", opt),
            ErrorKind::kLimitExceeded);
  EXPECT_EQ(VerifyError("x", "$argon2id$v=19$m=65536,t=1000,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"),
            ErrorKind::kLimitExceeded);
  EXPECT_EQ(VerifyError("x", "$6$rounds=999999999$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u."),
            ErrorKind::kLimitExceeded);
  EXPECT_EQ(VerifyError("x", "$2b$31$wxNpl1HBs.GImu19wUlT4OVk5Elq9jkFkzRugqkgG/p9hK8fsoFZO"), ErrorKind::kLimitExceeded);
  opt = {};
  opt.max_bcrypt_cost = 5;
  EXPECT_TRUE(Verifies("correct horse", "$2b$05$wxNpl1HBs.GImu19wUlT4OVk5Elq9jkFkzRugqkgG/p9hK8fsoFZO", opt));
}

TEST(Password, LengthLimitsAndNul) {
  const std::string longest(kMaxPasswordLength, 'p');
  auto ok = HashPassword(longest, PasswordScheme::kSha512Crypt, Cheap());
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_TRUE(Verifies(longest, *ok));
  EXPECT_EQ(HashPassword(longest + "p", PasswordScheme::kArgon2id, Cheap()).error().kind, ErrorKind::kLimitExceeded);
  EXPECT_EQ(VerifyError(longest + "p", *ok), ErrorKind::kLimitExceeded);
  // bcrypt would silently ignore octets past 72: refuse to hash such a password.
  EXPECT_EQ(HashPassword(std::string(73, 'b'), PasswordScheme::kBcrypt, Cheap()).error().kind,
            ErrorKind::kLimitExceeded);
  // A NUL cannot pass through crypt(3): refused when hashing, never a match when verifying.
  const std::string with_nul("abc\0def", 7);
  EXPECT_EQ(HashPassword(with_nul, PasswordScheme::kSha512Crypt, Cheap()).error().kind, ErrorKind::kInvalidInput);
  auto abc = HashPassword("abc", PasswordScheme::kSha512Crypt, Cheap());
  ASSERT_TRUE(abc.has_value());
  EXPECT_FALSE(Verifies(with_nul, *abc));
  // Argon2 takes any octets, NUL included.
  auto argon = HashPassword(with_nul, PasswordScheme::kArgon2id, Cheap());
  ASSERT_TRUE(argon.has_value());
  EXPECT_TRUE(Verifies(with_nul, *argon));
  EXPECT_FALSE(Verifies("abc", *argon));
}

TEST(Password, BadParametersAreInvalidInput) {
  HashOptions o = Cheap();
  o.bcrypt_cost = 40;
  EXPECT_EQ(HashPassword("x", PasswordScheme::kBcrypt, o).error().kind, ErrorKind::kInvalidInput);
  o = Cheap();
  o.argon2.memory_kib = 1;
  EXPECT_EQ(HashPassword("x", PasswordScheme::kArgon2id, o).error().kind, ErrorKind::kInvalidInput);
  o = Cheap();
  o.argon2.iterations = 0;
  EXPECT_EQ(HashPassword("x", PasswordScheme::kArgon2id, o).error().kind, ErrorKind::kInvalidInput);
}

TEST(Password, ErrorsNeverContainThePassword) {
  const std::string password = "Sup3rS3cretPassw0rd";
  VerifyOptions opt;
  opt.max_argon2_memory_kib = 8;
  for (const std::string& stored : std::vector<std::string>{"{PLAIN}" + password, "{UNKNOWN}" + password, password, "{CRYPT}*" + password,
                             "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"}) {
    auto r = VerifyPassword(password, stored, opt);
    ASSERT_FALSE(r.has_value()) << stored;
    EXPECT_EQ(r.error().message.find(password), std::string::npos) << r.error().message;
  }
  auto h = HashPassword(password + std::string(600, 'x'));
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error().message.find(password), std::string::npos);
}

TEST(Password, SchemeNamesRoundTrip) {
  for (auto s : {PasswordScheme::kArgon2id, PasswordScheme::kSha512Crypt, PasswordScheme::kYescrypt,
                 PasswordScheme::kBcrypt, PasswordScheme::kPlain}) {
    auto parsed = ParseScheme(SchemeName(s));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(ParseScheme("{sha512-crypt}").value(), PasswordScheme::kSha512Crypt);
  EXPECT_EQ(ParseScheme("bcrypt").value(), PasswordScheme::kBcrypt);
  EXPECT_EQ(ParseScheme("Argon2id").value(), PasswordScheme::kArgon2id);
  EXPECT_EQ(ParseScheme("CLEARTEXT").value(), PasswordScheme::kPlain);
  EXPECT_EQ(SchemeName(PasswordScheme::kBcrypt), "BLF-CRYPT");
  for (std::string_view bad : {"", "{}", "MD5", "SHA512", "argon2", "{ARGON2ID"}) {
    auto r = ParseScheme(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  }
}

}  // namespace
}  // namespace columba::auth
