// login_guard_test.cc - the penalty schedule, counters per IP and per user with
// expiry, POP-before-SMTP records, and failing open when the store errors.
// MemoryEphemeral stands in for Redis here; the same interface is tested
// against a real Redis in storage/redis/ephemeral_conformance_test.cc and end
// to end through imapd in tests/e2e/test_imap_login.py.
#include "lib/auth/login_guard.h"

#include <gtest/gtest.h>

#include "storage/memory/memory_ephemeral.h"

namespace columba::auth {
namespace {

using std::chrono::milliseconds;

TEST(PenaltyDelay, DoublesFromTheBaseUpToTheCap) {
  LoginGuardConfig c;
  c.penalty_base = milliseconds(1000);
  c.penalty_max = milliseconds(15000);
  EXPECT_EQ(PenaltyDelay(0, c), milliseconds(0));
  EXPECT_EQ(PenaltyDelay(1, c), milliseconds(1000));
  EXPECT_EQ(PenaltyDelay(2, c), milliseconds(2000));
  EXPECT_EQ(PenaltyDelay(3, c), milliseconds(4000));
  EXPECT_EQ(PenaltyDelay(4, c), milliseconds(8000));
  EXPECT_EQ(PenaltyDelay(5, c), milliseconds(15000));
  EXPECT_EQ(PenaltyDelay(1'000'000'000, c), milliseconds(15000));
  c.penalty_base = milliseconds(0);
  EXPECT_EQ(PenaltyDelay(7, c), milliseconds(0));
}

struct Fixture : ::testing::Test {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  std::shared_ptr<storage::MemoryEphemeral> mem =
      std::make_shared<storage::MemoryEphemeral>([this] { return now; });
  LoginGuardConfig cfg = [] {
    LoginGuardConfig c;
    c.window = milliseconds(60'000);
    c.pop_before_smtp_ttl = milliseconds(1'200'000);
    return c;
  }();
  LoginGuard guard{mem, cfg};
};

TEST_F(Fixture, FailuresCountPerIpAndPerUserAndExpireWithTheWindow) {
  EXPECT_EQ(guard.RecentFailures("192.0.2.1", "alice@example.org"), 0);
  guard.RecordFailure("192.0.2.1", "alice@example.org");
  guard.RecordFailure("192.0.2.1", "bob@example.org");
  guard.RecordFailure("198.51.100.9", "alice@example.org");
  // The larger of the two counters: the IP has 2, alice has 2, bob 1.
  EXPECT_EQ(guard.RecentFailures("192.0.2.1", ""), 2);
  EXPECT_EQ(guard.RecentFailures("", "alice@example.org"), 2);
  EXPECT_EQ(guard.RecentFailures("203.0.113.5", "bob@example.org"), 1);
  EXPECT_EQ(guard.RecentFailures("192.0.2.1", "carol@example.org"), 2);
  now += milliseconds(61'000);
  EXPECT_EQ(guard.RecentFailures("192.0.2.1", "alice@example.org"), 0);
  EXPECT_EQ(guard.TakeErrors(), 0u);
}

TEST_F(Fixture, SuccessResetsTheUserButNotTheAddress) {
  guard.RecordFailure("192.0.2.1", "alice@example.org");
  guard.RecordFailure("192.0.2.1", "alice@example.org");
  guard.RecordSuccess("alice@example.org");
  EXPECT_EQ(guard.RecentFailures("", "alice@example.org"), 0);
  EXPECT_EQ(guard.RecentFailures("192.0.2.1", ""), 2);
}

TEST_F(Fixture, TrustedClientsPassAnEmptyAddressAndAreNotCounted) {
  guard.RecordFailure("", "alice@example.org");
  EXPECT_EQ(guard.RecentFailures("", ""), 0);
  EXPECT_EQ(guard.RecentFailures("", "alice@example.org"), 1);
}

TEST_F(Fixture, OverlongNamesAreNotCountedAndAreNotErrors) {
  std::string junk(5000, 'x');
  guard.RecordFailure("192.0.2.1", junk);
  EXPECT_EQ(guard.RecentFailures("192.0.2.1", junk), 1);
  EXPECT_EQ(guard.TakeErrors(), 0u);
}

TEST_F(Fixture, PopBeforeSmtpRecordsTheUserForTheWindow) {
  ASSERT_TRUE(guard.RecordPopBeforeSmtp("192.0.2.7", "alice@example.org"));
  auto who = mem->RecentLogin("192.0.2.7");
  ASSERT_TRUE(who && who->has_value());
  EXPECT_EQ(**who, "alice@example.org");
  now += milliseconds(1'200'001);
  who = mem->RecentLogin("192.0.2.7");
  ASSERT_TRUE(who);
  EXPECT_FALSE(who->has_value());
}

TEST_F(Fixture, PopBeforeSmtpOffWhenTheWindowIsZero) {
  LoginGuardConfig c = cfg;
  c.pop_before_smtp_ttl = milliseconds(0);
  LoginGuard off(mem, c);
  EXPECT_FALSE(off.RecordPopBeforeSmtp("192.0.2.7", "alice@example.org"));
  auto who = mem->RecentLogin("192.0.2.7");
  ASSERT_TRUE(who);
  EXPECT_FALSE(who->has_value());
}

// A store that is down: every call fails as Redis would (kUnavailable).
class DownEphemeral final : public storage::Ephemeral {
 public:
  Result<void> RecordLogin(std::string_view, std::string_view, milliseconds) override { return Down(); }
  Result<std::optional<std::string>> RecentLogin(std::string_view) override { return Down(); }
  Result<std::vector<storage::RecentLoginRecord>> ListRecentLogins(std::size_t) override { return Down(); }
  Result<int64_t> Increment(std::string_view, milliseconds) override { return Down(); }
  Result<int64_t> Get(std::string_view) override { return Down(); }
  Result<void> Reset(std::string_view) override { return Down(); }
  Result<bool> TryLock(std::string_view, std::string_view, milliseconds) override { return Down(); }
  Result<bool> Unlock(std::string_view, std::string_view) override { return Down(); }
  Result<bool> Refresh(std::string_view, std::string_view, milliseconds) override { return Down(); }
  Result<void> Ping() override { return Down(); }

 private:
  static tl::unexpected<Error> Down() { return Fail(ErrorKind::kUnavailable, "redis down"); }
};

TEST(LoginGuardDown, FailsOpenAndCountsTheErrors) {
  LoginGuard g(std::make_shared<DownEphemeral>(), LoginGuardConfig{});
  g.RecordFailure("192.0.2.1", "alice@example.org");
  EXPECT_EQ(g.RecentFailures("192.0.2.1", "alice@example.org"), 0);
  EXPECT_FALSE(g.RecordPopBeforeSmtp("192.0.2.1", "alice@example.org"));
  EXPECT_EQ(g.TakeErrors(), 5u);  // 2 increments, 2 gets, 1 record
  EXPECT_EQ(g.TakeErrors(), 0u);  // taken once
}

TEST(LoginGuardNone, WithoutAStoreNothingIsCountedOrRecorded) {
  LoginGuard g(nullptr, LoginGuardConfig{});
  g.RecordFailure("192.0.2.1", "alice@example.org");
  EXPECT_EQ(g.RecentFailures("192.0.2.1", "alice@example.org"), 0);
  EXPECT_FALSE(g.RecordPopBeforeSmtp("192.0.2.1", "alice@example.org"));
  EXPECT_EQ(g.TakeErrors(), 0u);
}

}  // namespace
}  // namespace columba::auth
