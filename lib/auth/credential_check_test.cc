// credential_check_test.cc - the shared login steps against the in-memory
// directory and ephemeral twins: right and wrong passwords, disabled and unknown
// users alike, CRAM-MD5 only for stored plain passwords, SCRAM decoys, failure
// counting and POP-before-SMTP records. End to end through real Redis/LDAP:
// tests/e2e/test_imap_login.py and tests/e2e/test_smtp_auth.py.
#include "lib/auth/credential_check.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "lib/auth/password.h"
#include "storage/memory/memory_directory.h"
#include "storage/memory/memory_ephemeral.h"

namespace columba::auth {
namespace {

using std::chrono::milliseconds;

std::string Hex(std::string_view raw) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string CramResponse(std::string_view user, std::string_view password, std::string_view challenge) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_md5(), password.data(), static_cast<int>(password.size()),
       reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size(), out, &len);
  return std::string(user) + " " + Hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

struct CredentialCheck : ::testing::Test {
  storage::MemoryDirectory dir;
  std::shared_ptr<storage::MemoryEphemeral> eph = std::make_shared<storage::MemoryEphemeral>();
  LoginGuard guard{eph, [] {
                     LoginGuardConfig c;
                     c.failure_delay = milliseconds(0);
                     c.penalty_base = milliseconds(0);
                     return c;
                   }()};
  net::BlockingPool pool{2, 100};
  net::BlockingPool hash_pool{1, 100};
  CredentialContext cc{dir, guard, pool, hash_pool, true};

  void SetUp() override {
    ASSERT_TRUE(dir.AddDomain("example.test"));
    Add("alice@example.test", *HashPassword("s3cret", PasswordScheme::kSha512Crypt));
    Add("plain@example.test", "{PLAIN}clear-pw");
    Add("scram@example.test", MakeScramSecret("scram-pw", 4096));
    storage::Account off;
    off.address = "off@example.test";
    off.password_hash = *HashPassword("s3cret", PasswordScheme::kSha512Crypt);
    off.enabled = false;
    ASSERT_TRUE(dir.AddAccount(off));
  }
  void Add(const std::string& address, const std::string& hash) {
    storage::Account a;
    a.address = address;
    a.password_hash = hash;
    ASSERT_TRUE(dir.AddAccount(a));
  }
  template <class T>
  T Run(asio::awaitable<T> aw) {
    asio::io_context io;
    std::optional<T> out;
    asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    io.run();
    return std::move(*out);
  }
};

TEST_F(CredentialCheck, RightPasswordGivesTheAccountAnythingElseNothing) {
  auto ok = Run(VerifyPassword(cc, "Alice@Example.TEST", "s3cret"));
  ASSERT_TRUE(ok);
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->address, "alice@example.test");
  for (auto [user, pw] : {std::pair{"alice@example.test", "wrong"}, std::pair{"nobody@example.test", "s3cret"},
                          std::pair{"off@example.test", "s3cret"}, std::pair{"not an address", "x"}}) {
    auto r = Run(VerifyPassword(cc, user, pw));
    ASSERT_TRUE(r) << user;
    EXPECT_FALSE(r->has_value()) << user;
  }
}

TEST_F(CredentialCheck, ACatchAllNamesNobody) {
  ASSERT_TRUE(dir.AddAlias("@example.test", "alice@example.test"));
  ASSERT_TRUE(dir.AddAlias("al@example.test", "alice@example.test"));
  // Mail to made-up names reaches alice (the directory's Lookup)...
  auto routed = dir.Lookup("made-up@example.test");
  ASSERT_TRUE(routed && routed->has_value());
  // ...but they do not log in as alice, nor stand for her in a certificate.
  auto r = Run(VerifyPassword(cc, "made-up@example.test", "s3cret"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  auto found = LookupEnabled(dir, "made-up@example.test");
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
  // Her own address and a real alias still do.
  for (std::string user : {"alice@example.test", "AL@example.test"}) {
    auto ok = Run(VerifyPassword(cc, user, "s3cret"));
    ASSERT_TRUE(ok) << user;
    ASSERT_TRUE(ok->has_value()) << user;
    EXPECT_EQ((*ok)->address, "alice@example.test");
  }
}

TEST_F(CredentialCheck, CramMd5NeedsAStoredPlainPassword) {
  const std::string challenge = MakeCramChallenge("mx.example.test");
  EXPECT_EQ(challenge.front(), '<');
  EXPECT_NE(challenge.find("@mx.example.test>"), std::string::npos);
  auto ok = Run(VerifyCramMd5(cc, CramResponse("plain@example.test", "clear-pw", challenge), challenge));
  ASSERT_TRUE(ok);
  ASSERT_TRUE(ok->has_value());
  auto wrong = Run(VerifyCramMd5(cc, CramResponse("plain@example.test", "other", challenge), challenge));
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(wrong->has_value());
  // A hashed password cannot answer a CRAM challenge, even with the right password.
  auto hashed = Run(VerifyCramMd5(cc, CramResponse("alice@example.test", "s3cret", challenge), challenge));
  ASSERT_TRUE(hashed);
  EXPECT_FALSE(hashed->has_value());
  // Without the operator's consent to plain passwords, nobody can be proved.
  CredentialContext strict{dir, guard, pool, hash_pool, false};
  auto refused = Run(VerifyCramMd5(strict, CramResponse("plain@example.test", "clear-pw", challenge), challenge));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->has_value());
  auto plain_login = Run(VerifyPassword(strict, "plain@example.test", "clear-pw"));
  ASSERT_TRUE(plain_login);
  EXPECT_FALSE(plain_login->has_value());
  auto garbage = Run(VerifyCramMd5(cc, "no-digest", challenge));
  ASSERT_TRUE(garbage);
  EXPECT_FALSE(garbage->has_value());
}

TEST_F(CredentialCheck, ScramLookupUsesTheStoredSecretOrAStableDecoy) {
  auto real = Run(LookupScram(cc, "scram@example.test"));
  ASSERT_TRUE(real);
  ASSERT_TRUE(real->account.has_value());
  EXPECT_TRUE(VerifyScramPassword("scram-pw", real->secret));
  auto hashed = Run(LookupScram(cc, "alice@example.test"));
  ASSERT_TRUE(hashed);
  EXPECT_FALSE(hashed->account.has_value());
  auto unknown1 = Run(LookupScram(cc, "ghost@example.test"));
  auto unknown2 = Run(LookupScram(cc, "ghost@example.test"));
  ASSERT_TRUE(unknown1 && unknown2);
  EXPECT_FALSE(unknown1->account.has_value());
  EXPECT_EQ(unknown1->secret.salt, unknown2->secret.salt);  // the same name looks the same every time
  EXPECT_EQ(unknown1->secret.salt.size(), 16u);
}

TEST_F(CredentialCheck, FailuresAreCountedAndSuccessRecordsPopBeforeSmtp) {
  Run([&]() -> asio::awaitable<bool> {
    co_await RecordFailure(cc, "192.0.2.9", "alice@example.test");
    co_await RecordFailure(cc, "192.0.2.9", "alice@example.test");
    co_return true;
  }());
  EXPECT_EQ(guard.RecentFailures("192.0.2.9", ""), 2);
  EXPECT_EQ(guard.RecentFailures("", "alice@example.test"), 2);
  EXPECT_TRUE(Run(RecordSuccess(cc, "192.0.2.9", "alice@example.test", "alice@example.test", true)));
  EXPECT_EQ(guard.RecentFailures("", "alice@example.test"), 0);
  auto who = eph->RecentLogin("192.0.2.9");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->value_or(""), "alice@example.test");
  // Trusted clients (empty IP) leave no record.
  EXPECT_TRUE(Run(RecordSuccess(cc, "", "alice@example.test", "alice@example.test", true)));
  EXPECT_TRUE(Run(RecordSuccess(cc, "192.0.2.10", "alice@example.test", "alice@example.test", false)));
  auto none = eph->RecentLogin("192.0.2.10");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace columba::auth
