// ephemeral_conformance_test.cc - one contract, every Ephemeral backend (STYLE habit 7).
//
// NAME
//   ephemeral_conformance_test - the Ephemeral conformance suite (memory twin and Redis),
//   plus Redis-only cases: URI parsing, key layout, a dead server, AUTH failure and a
//   connection the server closed.
// DESCRIPTION
//   EphemeralConformance runs every case against MemoryEphemeral, whose clock the test
//   advances, and against RedisEphemeral on the test Redis, where time really passes:
//   TTLs are short (1 s) and an expiry is polled for a bounded time (kExpiryWait).
//   The Redis URI comes from $COLUMBA_TEST_STATE/env (COLUMBA_REDIS_URI), written by
//   `tests/infra up DIR`. Every test uses random keys, IPs and owners, so runs and
//   parallel tests never interfere (Redis outlives a run).
//   By hand:  tests/infra up /tmp/eph &&
//             COLUMBA_TEST_STATE=/tmp/eph build/storage/redis/ephemeral_conformance_test
// NEVER
//   Skips or passes a Redis case when the infrastructure is missing: TestEnv throws and
//   the case fails with the reason. Never FLUSHes or touches keys it did not make.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "storage/memory/memory_ephemeral.h"
#include "storage/redis/redis_ephemeral.h"
#include "tests/lib/test_env.h"

namespace columba::storage {
namespace {

using namespace std::chrono_literals;
using columba::testing::TestEnv;

constexpr auto kTtl = 1000ms;          // the short TTL of expiry cases
constexpr auto kExpiryWait = 3000ms;   // how long a Redis expiry may lag (bounded poll)

std::string RandomToken() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  std::ostringstream s;
  s << std::hex << rng();
  return s.str();
}

// A random IPv6 address from the documentation prefix (RFC 3849).
std::string RandomIp() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t r;
  {
    std::lock_guard lock(mu);
    r = rng();
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "2001:db8:%x:%x:%x:%x", unsigned(r >> 48), unsigned((r >> 32) & 0xffff),
                unsigned((r >> 16) & 0xffff), unsigned(r & 0xffff));
  return buf;
}

std::string RandomKey(const char* what) { return std::string("test:") + what + ":" + RandomToken(); }

template <class T>
std::string Why(const Result<T>& r) {
  return r ? std::string("ok") : std::string(ErrorKindName(r.error().kind)) + ": " + r.error().message;
}

RedisEphemeralConfig RedisConfigFromTestEnv() {
  RedisEphemeralConfig c;
  c.uri = TestEnv("COLUMBA_REDIS_URI");  // throws (the test fails) without infra
  c.connect_timeout = 2s;                // generous: the test machine may be loaded
  c.command_timeout = 2s;
  c.pool_size = 4;
  return c;
}

std::shared_ptr<RedisEphemeral> MakeRedis(RedisEphemeralConfig c) {
  auto r = RedisEphemeral::Create(std::move(c));
  if (!r) throw std::runtime_error("RedisEphemeral::Create: " + r.error().message);
  return *r;
}

// A raw hiredis connection to the test Redis, to look at keys as stored.
struct RawRedis {
  explicit RawRedis(const std::string& uri) {
    auto addr = ParseRedisUri(uri);
    if (!addr) throw std::runtime_error(addr.error().message);
    ctx = redisConnect(addr->host.c_str(), addr->port);
    if (ctx == nullptr || ctx->err) throw std::runtime_error("raw redis connect failed");
  }
  ~RawRedis() { redisFree(ctx); }
  // Runs a command; the reply as text (strings, status, errors) or number (integers).
  std::string Run(std::initializer_list<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(ctx, int(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) throw std::runtime_error("raw redis command failed");
    std::string out;
    if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
    else if (r->type == REDIS_REPLY_NIL) out = "(nil)";
    else if (r->str != nullptr) out.assign(r->str, r->len);
    freeReplyObject(r);
    return out;
  }
  redisContext* ctx = nullptr;
};

// ------------------------------------------------------------------ the contract

class EphemeralConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      auto offset = offset_;
      const auto base = std::chrono::steady_clock::now();
      eph_ = std::make_shared<MemoryEphemeral>(
          [offset, base] { return base + std::chrono::nanoseconds(offset->load()); });
    } else if (GetParam() == "redis") {
      eph_ = MakeRedis(RedisConfigFromTestEnv());
      auto ping = eph_->Ping();
      ASSERT_TRUE(ping) << "test Redis not reachable: " << Why(ping);
    } else {
      FAIL() << "unknown backend " << GetParam();
    }
  }

  bool IsRedis() const { return GetParam() == "redis"; }

  // Lets `d` pass: advances the fake clock, or really waits against Redis.
  void Elapse(std::chrono::milliseconds d) {
    if (IsRedis())
      std::this_thread::sleep_for(d);
    else
      offset_->fetch_add(std::chrono::nanoseconds(d).count());
  }

  // Calls f() until pred holds; against Redis for at most kExpiryWait (an expiry may
  // be observed a little late on a loaded machine), against memory exactly once.
  template <class F, class P>
  auto Eventually(F f, P pred) -> decltype(f()) {
    const auto deadline = std::chrono::steady_clock::now() + kExpiryWait;
    auto r = f();
    while (IsRedis() && !pred(r) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      r = f();
    }
    return r;
  }

  std::shared_ptr<std::atomic<int64_t>> offset_ = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<Ephemeral> eph_;
};

TEST_P(EphemeralConformance, PingSucceeds) {
  auto r = eph_->Ping();
  EXPECT_TRUE(r) << Why(r);
}

TEST_P(EphemeralConformance, RecentLoginOfUnknownIpIsEmpty) {
  auto r = eph_->RecentLogin(RandomIp());
  ASSERT_TRUE(r) << Why(r);
  EXPECT_FALSE(r->has_value());
}

TEST_P(EphemeralConformance, RecordedLoginIsReturnedAndLatestWins) {
  const std::string ip = RandomIp();
  ASSERT_TRUE(eph_->RecordLogin(ip, "alice@example.org", 1200s));
  auto r = eph_->RecentLogin(ip);
  ASSERT_TRUE(r) << Why(r);
  EXPECT_EQ(r->value_or("(none)"), "alice@example.org");

  ASSERT_TRUE(eph_->RecordLogin(ip, "bob@example.org", 1200s));
  r = eph_->RecentLogin(ip);
  ASSERT_TRUE(r) << Why(r);
  EXPECT_EQ(r->value_or("(none)"), "bob@example.org");

  auto other = eph_->RecentLogin(RandomIp());  // records are per IP
  ASSERT_TRUE(other) << Why(other);
  EXPECT_FALSE(other->has_value());
}

TEST_P(EphemeralConformance, RecordedLoginExpiresAfterTtl) {
  const std::string ip = RandomIp();
  ASSERT_TRUE(eph_->RecordLogin(ip, "alice@example.org", kTtl));
  if (!IsRedis()) {  // the exact boundary, only where the clock is ours
    Elapse(kTtl - 1ms);
    auto fresh = eph_->RecentLogin(ip);
    ASSERT_TRUE(fresh) << Why(fresh);
    EXPECT_EQ(fresh->value_or("(none)"), "alice@example.org");
  } else {
    auto fresh = eph_->RecentLogin(ip);
    ASSERT_TRUE(fresh) << Why(fresh);
    EXPECT_TRUE(fresh->has_value());
  }
  Elapse(kTtl);
  auto r = Eventually([&] { return eph_->RecentLogin(ip); },
                      [](const auto& r) { return r && !r->has_value(); });
  ASSERT_TRUE(r) << Why(r);
  EXPECT_FALSE(r->has_value()) << "record still there after its TTL";
}

TEST_P(EphemeralConformance, ListRecentLoginsShowsLiveRecordsWithTheirTimeLeft) {
  const std::string a = RandomIp(), b = RandomIp(), gone = RandomIp();
  ASSERT_TRUE(eph_->RecordLogin(a, "alice@example.org", 1200s));
  ASSERT_TRUE(eph_->RecordLogin(b, "bob@example.org", 600s));
  ASSERT_TRUE(eph_->RecordLogin(gone, "carol@example.org", kTtl));
  Elapse(kTtl);
  auto listed = Eventually([&] { return eph_->ListRecentLogins(100000); }, [&](const auto& r) {
    if (!r) return false;
    for (const auto& rec : *r)
      if (rec.client_ip == gone) return false;
    return true;
  });
  ASSERT_TRUE(listed) << Why(listed);
  std::map<std::string, RecentLoginRecord> by_ip;
  for (const auto& rec : *listed) by_ip[rec.client_ip] = rec;  // other tests' records may be there too
  ASSERT_TRUE(by_ip.count(a) && by_ip.count(b));
  EXPECT_EQ(by_ip[a].user, "alice@example.org");
  EXPECT_EQ(by_ip[b].user, "bob@example.org");
  EXPECT_GT(by_ip[a].remaining.count(), 0);
  EXPECT_LE(by_ip[a].remaining, std::chrono::milliseconds(1200s));
  EXPECT_LE(by_ip[b].remaining, std::chrono::milliseconds(600s));
  EXPECT_EQ(by_ip.count(gone), 0u) << "an expired record is listed";
  auto one = eph_->ListRecentLogins(1);
  ASSERT_TRUE(one) << Why(one);
  EXPECT_EQ(one->size(), 1u);
}

TEST_P(EphemeralConformance, CounterIncrementsGetsAndResets) {
  const std::string key = RandomKey("authfail");
  auto zero = eph_->Get(key);
  ASSERT_TRUE(zero) << Why(zero);
  EXPECT_EQ(*zero, 0);
  for (int64_t want = 1; want <= 3; ++want) {
    auto n = eph_->Increment(key, 60s);
    ASSERT_TRUE(n) << Why(n);
    EXPECT_EQ(*n, want);
  }
  auto three = eph_->Get(key);
  ASSERT_TRUE(three) << Why(three);
  EXPECT_EQ(*three, 3);

  auto reset = eph_->Reset(key);
  ASSERT_TRUE(reset) << Why(reset);
  auto after = eph_->Get(key);
  ASSERT_TRUE(after) << Why(after);
  EXPECT_EQ(*after, 0);
  auto again = eph_->Increment(key, 60s);
  ASSERT_TRUE(again) << Why(again);
  EXPECT_EQ(*again, 1);

  EXPECT_TRUE(eph_->Reset(RandomKey("absent"))) << "Reset of an absent counter must succeed";
}

TEST_P(EphemeralConformance, CounterWindowIsFixedAtFirstIncrement) {
  const std::string key = RandomKey("rate");
  auto one = eph_->Increment(key, kTtl);
  ASSERT_TRUE(one) << Why(one);
  EXPECT_EQ(*one, 1);
  Elapse(300ms);
  auto two = eph_->Increment(key, kTtl);  // must not extend the window
  ASSERT_TRUE(two) << Why(two);
  EXPECT_EQ(*two, 2);
  Elapse(kTtl - 300ms + 1ms);
  auto gone = Eventually([&] { return eph_->Get(key); },
                         [](const Result<int64_t>& r) { return r && *r == 0; });
  ASSERT_TRUE(gone) << Why(gone);
  EXPECT_EQ(*gone, 0) << "counter outlived the window of its first increment";
  auto fresh = eph_->Increment(key, kTtl);
  ASSERT_TRUE(fresh) << Why(fresh);
  EXPECT_EQ(*fresh, 1) << "an expired counter starts again at 1";
}

TEST_P(EphemeralConformance, ConcurrentIncrementsGiveExactTotal) {
  const std::string key = RandomKey("concurrent");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  std::mutex mu;
  std::vector<int64_t> seen;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<int64_t> mine;
      for (int i = 0; i < kPerThread; ++i) {
        auto n = eph_->Increment(key, 60s);
        if (n) mine.push_back(*n);
        else ++failures;
      }
      std::lock_guard lock(mu);
      seen.insert(seen.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto total = eph_->Get(key);
  ASSERT_TRUE(total) << Why(total);
  EXPECT_EQ(*total, kThreads * kPerThread);
  // Atomic: every value 1..N was returned exactly once.
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], int64_t(i + 1));
}

TEST_P(EphemeralConformance, LockIsExclusiveAndNotReentrant) {
  const std::string key = RandomKey("pop3");
  const std::string a = RandomToken(), b = RandomToken();
  auto taken = eph_->TryLock(key, a, 60s);
  ASSERT_TRUE(taken) << Why(taken);
  EXPECT_TRUE(*taken);
  auto other = eph_->TryLock(key, b, 60s);
  ASSERT_TRUE(other) << Why(other);
  EXPECT_FALSE(*other) << "a second owner took a held lock";
  auto same = eph_->TryLock(key, a, 60s);
  ASSERT_TRUE(same) << Why(same);
  EXPECT_FALSE(*same) << "TryLock is not re-entrant";

  auto independent = eph_->TryLock(RandomKey("pop3"), b, 60s);
  ASSERT_TRUE(independent) << Why(independent);
  EXPECT_TRUE(*independent) << "locks on different keys are independent";
}

TEST_P(EphemeralConformance, OnlyTheOwnerUnlocks) {
  const std::string key = RandomKey("pop3");
  const std::string a = RandomToken(), b = RandomToken();
  ASSERT_TRUE(eph_->TryLock(key, a, 60s).value_or(false));

  auto wrong = eph_->Unlock(key, b);
  ASSERT_TRUE(wrong) << Why(wrong);
  EXPECT_FALSE(*wrong) << "a non-owner released the lock";
  auto still = eph_->TryLock(key, b, 60s);
  ASSERT_TRUE(still) << Why(still);
  EXPECT_FALSE(*still) << "the lock is gone after a non-owner's Unlock";

  auto right = eph_->Unlock(key, a);
  ASSERT_TRUE(right) << Why(right);
  EXPECT_TRUE(*right);
  auto twice = eph_->Unlock(key, a);
  ASSERT_TRUE(twice) << Why(twice);
  EXPECT_FALSE(*twice) << "Unlock of a released lock";

  auto next = eph_->TryLock(key, b, 60s);
  ASSERT_TRUE(next) << Why(next);
  EXPECT_TRUE(*next) << "lock not free after its owner's Unlock";
  auto stale = eph_->Unlock(key, a);  // a's old token must not release b's lock
  ASSERT_TRUE(stale) << Why(stale);
  EXPECT_FALSE(*stale);

  auto absent = eph_->Unlock(RandomKey("pop3"), a);
  ASSERT_TRUE(absent) << Why(absent);
  EXPECT_FALSE(*absent);
}

TEST_P(EphemeralConformance, LockExpiresAfterTtl) {
  const std::string key = RandomKey("pop3");
  const std::string a = RandomToken(), b = RandomToken();
  ASSERT_TRUE(eph_->TryLock(key, a, kTtl).value_or(false));
  if (!IsRedis()) {
    Elapse(kTtl - 1ms);
    EXPECT_FALSE(eph_->TryLock(key, b, kTtl).value_or(true)) << "lock expired early";
  }
  Elapse(kTtl);
  auto taken = Eventually([&] { return eph_->TryLock(key, b, 60s); },
                          [](const Result<bool>& r) { return r && *r; });
  ASSERT_TRUE(taken) << Why(taken);
  EXPECT_TRUE(*taken) << "lock still held after its TTL";
  // The expired owner can neither refresh nor release the new owner's lock.
  auto refresh = eph_->Refresh(key, a, 60s);
  ASSERT_TRUE(refresh) << Why(refresh);
  EXPECT_FALSE(*refresh);
  auto unlock = eph_->Unlock(key, a);
  ASSERT_TRUE(unlock) << Why(unlock);
  EXPECT_FALSE(*unlock);
}

TEST_P(EphemeralConformance, RefreshExtendsOnlyTheOwnersLock) {
  const std::string key = RandomKey("pop3");
  const std::string a = RandomToken(), b = RandomToken();
  ASSERT_TRUE(eph_->TryLock(key, a, kTtl).value_or(false));
  auto wrong = eph_->Refresh(key, b, 60s);
  ASSERT_TRUE(wrong) << Why(wrong);
  EXPECT_FALSE(*wrong) << "a non-owner refreshed the lock";
  auto right = eph_->Refresh(key, a, 60s);
  ASSERT_TRUE(right) << Why(right);
  EXPECT_TRUE(*right);
  Elapse(kTtl + 500ms);  // past the original TTL
  auto held = eph_->TryLock(key, b, 60s);
  ASSERT_TRUE(held) << Why(held);
  EXPECT_FALSE(*held) << "refreshed lock expired at its original TTL";
  EXPECT_TRUE(eph_->Unlock(key, a).value_or(false));

  auto absent = eph_->Refresh(RandomKey("pop3"), a, 60s);
  ASSERT_TRUE(absent) << Why(absent);
  EXPECT_FALSE(*absent) << "Refresh must not create a lock";
}

TEST_P(EphemeralConformance, ConcurrentTryLockHasOneWinner) {
  const std::string key = RandomKey("pop3");
  std::atomic<int> winners{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto r = eph_->TryLock(key, RandomToken(), 60s);
      if (!r) ++failures;
      else if (*r) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(winners.load(), 1);
}

TEST_P(EphemeralConformance, NameSpacesDoNotCollide) {
  const std::string name = RandomIp();  // used as IP, counter key and lock key at once
  const std::string owner = RandomToken();
  ASSERT_TRUE(eph_->RecordLogin(name, "alice@example.org", 60s));
  ASSERT_TRUE(eph_->Increment(name, 60s));
  ASSERT_TRUE(eph_->TryLock(name, owner, 60s).value_or(false));
  EXPECT_EQ(eph_->Get(name).value_or(-1), 1);
  EXPECT_EQ(eph_->RecentLogin(name).value_or(std::nullopt).value_or("(none)"), "alice@example.org");
  EXPECT_TRUE(eph_->Unlock(name, owner).value_or(false));
  EXPECT_TRUE(eph_->Reset(name));
  EXPECT_EQ(eph_->RecentLogin(name).value_or(std::nullopt).value_or("(none)"), "alice@example.org");
}

TEST_P(EphemeralConformance, KeysAndValuesAreBinarySafe) {
  const std::string ip = "odd ip\r\n" + RandomToken() + std::string(1, '\0') + "*";
  const std::string user = std::string("us er\r\n$3\0x", 11);
  ASSERT_TRUE(eph_->RecordLogin(ip, user, 60s));
  auto r = eph_->RecentLogin(ip);
  ASSERT_TRUE(r) << Why(r);
  EXPECT_EQ(r->value_or("(none)"), user);
  const std::string key = "key with spaces\n" + RandomToken();
  EXPECT_EQ(eph_->Increment(key, 60s).value_or(-1), 1);
  EXPECT_EQ(eph_->Get(key).value_or(-1), 1);
  EXPECT_TRUE(eph_->Reset(key));
}

TEST_P(EphemeralConformance, BadArgumentsAreInvalidInput) {
  const std::string ok = RandomKey("bad");
  const std::string huge(kMaxEphemeralKeyBytes + 1, 'k');
  const std::string max(kMaxEphemeralKeyBytes, 'k');
  auto kind = [](const auto& r) { return r ? std::string("ok") : std::string(ErrorKindName(r.error().kind)); };
  const std::string invalid = ErrorKindName(ErrorKind::kInvalidInput);
  EXPECT_EQ(kind(eph_->RecordLogin("", "u", 60s)), invalid);
  EXPECT_EQ(kind(eph_->RecordLogin(ok, "", 60s)), invalid);
  EXPECT_EQ(kind(eph_->RecordLogin(ok, "u", 0ms)), invalid);
  EXPECT_EQ(kind(eph_->RecordLogin(huge, "u", 60s)), invalid);
  EXPECT_EQ(kind(eph_->RecentLogin("")), invalid);
  EXPECT_EQ(kind(eph_->Increment("", 60s)), invalid);
  EXPECT_EQ(kind(eph_->Increment(ok, -5ms)), invalid);
  EXPECT_EQ(kind(eph_->Increment(huge, 60s)), invalid);
  EXPECT_EQ(kind(eph_->Get("")), invalid);
  EXPECT_EQ(kind(eph_->Reset("")), invalid);
  EXPECT_EQ(kind(eph_->TryLock("", "o", 60s)), invalid);
  EXPECT_EQ(kind(eph_->TryLock(ok, "", 60s)), invalid);
  EXPECT_EQ(kind(eph_->TryLock(ok, "o", 0ms)), invalid);
  EXPECT_EQ(kind(eph_->Unlock(ok, "")), invalid);
  EXPECT_EQ(kind(eph_->Refresh(ok, "o", 0ms)), invalid);
  EXPECT_EQ(kind(eph_->Refresh(ok, huge, 60s)), invalid);
  // The limit itself is accepted.
  EXPECT_EQ(kind(eph_->TryLock(max, max, 1s)), "ok");
  EXPECT_EQ(kind(eph_->Unlock(max, max)), "ok");
}

INSTANTIATE_TEST_SUITE_P(Backends, EphemeralConformance, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ------------------------------------------------------------------ Redis only

TEST(RedisUri, ParsesHostPortAndDb) {
  auto a = ParseRedisUri("redis://127.0.0.1:6379");
  ASSERT_TRUE(a) << Why(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6379);
  EXPECT_EQ(a->db, 0);
  auto b = ParseRedisUri("redis://redis.internal/3");
  ASSERT_TRUE(b) << Why(b);
  EXPECT_EQ(b->host, "redis.internal");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 3);
  auto c = ParseRedisUri("redis://[::1]:7000/");
  ASSERT_TRUE(c) << Why(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->db, 0);
}

TEST(RedisUri, RejectsWhatItCannotHonour) {
  for (const char* bad : {"", "http://h:1", "rediss://h:6379", "redis://", "redis://:6379",
                          "redis://h:0", "redis://h:65536", "redis://h:", "redis://h:12x",
                          "redis://user:secret@h:6379", "redis://h/x", "redis://h/-1",
                          "redis://::1:6379", "redis://[::1", "redis://[::1]x", "redis://h?db=1"}) {
    auto r = ParseRedisUri(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput) << bad;
      EXPECT_EQ(r.error().message.find("secret"), std::string::npos) << "password echoed";
    }
  }
}

TEST(RedisConfig, CreateChecksConfigWithoutConnecting) {
  RedisEphemeralConfig c;
  c.uri = "redis://127.0.0.1:1";
  EXPECT_TRUE(RedisEphemeral::Create(c)) << "Create must not connect";
  c.pool_size = 0;
  EXPECT_FALSE(RedisEphemeral::Create(c));
  c.pool_size = 2;
  c.client_name = "has space";
  EXPECT_FALSE(RedisEphemeral::Create(c));
  c.client_name = "columba-test";
  c.password_file = "/nonexistent/redis-password";
  auto r = RedisEphemeral::Create(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
}

TEST(RedisEphemeralDown, DeadServerIsUnavailableQuickly) {
  RedisEphemeralConfig c;
  c.uri = "redis://127.0.0.1:1";  // nothing listens on port 1
  c.connect_timeout = 500ms;
  auto e = MakeRedis(c);
  const auto start = std::chrono::steady_clock::now();
  auto ping = e->Ping();
  auto login = e->RecentLogin("192.0.2.1");
  auto incr = e->Increment("k", 1s);
  auto lock = e->TryLock("k", "o", 1s);
  const auto took = std::chrono::steady_clock::now() - start;
  for (const Error* err : {ping ? nullptr : &ping.error(), login ? nullptr : &login.error(),
                           incr ? nullptr : &incr.error(), lock ? nullptr : &lock.error()}) {
    ASSERT_NE(err, nullptr) << "a call against a dead server succeeded";
    EXPECT_EQ(err->kind, ErrorKind::kUnavailable) << err->message;
  }
  EXPECT_LT(took, 2s) << "four calls against a dead server took too long";
}

TEST(RedisEphemeralDown, SilentServerTimesOutAsUnavailable) {
  // A listener that completes the TCP handshake (backlog) but never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  RedisEphemeralConfig c;
  c.uri = "redis://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  c.connect_timeout = 300ms;
  c.command_timeout = 300ms;
  c.client_name = "";  // so the first command is ours, not CLIENT SETNAME
  auto e = MakeRedis(c);
  const auto start = std::chrono::steady_clock::now();
  auto n = e->Increment("k", 1s);
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  ASSERT_FALSE(n) << "a silent server answered";
  EXPECT_EQ(n.error().kind, ErrorKind::kUnavailable) << n.error().message;
  EXPECT_GE(took, 250ms) << "gave up before the command timeout";
  EXPECT_LT(took, 1500ms) << "a timed-out command must not be retried or hang";
}

TEST(RedisEphemeralLive, KeysLiveUnderThePrefixWithTheirTtl) {
  const std::string uri = TestEnv("COLUMBA_REDIS_URI");
  auto e = MakeRedis(RedisConfigFromTestEnv());
  RawRedis raw(uri);
  const std::string ip = RandomIp(), key = RandomKey("layout"), owner = RandomToken();
  ASSERT_TRUE(e->RecordLogin(ip, "alice@example.org", 1200s));
  ASSERT_TRUE(e->Increment(key, 900s));
  ASSERT_TRUE(e->TryLock(key, owner, 600s).value_or(false));

  EXPECT_EQ(raw.Run({"GET", "columba:pbs:" + ip}), "alice@example.org");
  const long pbs_ttl = std::stol(raw.Run({"PTTL", "columba:pbs:" + ip}));
  EXPECT_GT(pbs_ttl, 1'100'000);
  EXPECT_LE(pbs_ttl, 1'200'000);
  EXPECT_EQ(raw.Run({"GET", "columba:cnt:" + key}), "1");
  const long cnt_ttl = std::stol(raw.Run({"PTTL", "columba:cnt:" + key}));
  EXPECT_GT(cnt_ttl, 800'000);
  EXPECT_LE(cnt_ttl, 900'000);
  EXPECT_EQ(raw.Run({"GET", "columba:lock:" + key}), owner);
  const long lock_ttl = std::stol(raw.Run({"PTTL", "columba:lock:" + key}));
  EXPECT_GT(lock_ttl, 500'000);
  EXPECT_LE(lock_ttl, 600'000);
  ASSERT_TRUE(e->Refresh(key, owner, 60s).value_or(false));
  EXPECT_LE(std::stol(raw.Run({"PTTL", "columba:lock:" + key})), 60'000);

  // A counter that somehow lost its TTL gets one at the next increment.
  raw.Run({"PERSIST", "columba:cnt:" + key});
  ASSERT_TRUE(e->Increment(key, 900s));
  EXPECT_GT(std::stol(raw.Run({"PTTL", "columba:cnt:" + key})), 0);

  raw.Run({"DEL", "columba:pbs:" + ip, "columba:cnt:" + key, "columba:lock:" + key});
}

TEST(RedisEphemeralLive, KeyPrefixSeparatesInstallations) {
  auto c = RedisConfigFromTestEnv();
  auto plain = MakeRedis(c);
  c.key_prefix = "columba-" + RandomToken() + ":";
  auto other = MakeRedis(c);
  RawRedis raw(c.uri);
  const std::string ip = RandomIp();
  ASSERT_TRUE(other->RecordLogin(ip, "alice@example.org", 60s));
  EXPECT_EQ(raw.Run({"GET", c.key_prefix + "pbs:" + ip}), "alice@example.org");
  auto seen = plain->RecentLogin(ip);
  ASSERT_TRUE(seen) << Why(seen);
  EXPECT_FALSE(seen->has_value()) << "a record leaked across key prefixes";
  raw.Run({"DEL", c.key_prefix + "pbs:" + ip});
}

TEST(RedisEphemeralLive, RefusedAuthIsUnavailableAndHidesThePassword) {
  // The test Redis has no password: AUTH is refused, like a wrong password would be.
  const std::string path = ::testing::TempDir() + "/redis-password-" + RandomToken();
  std::ofstream(path) << "s3cret-" << "token\n";
  auto c = RedisConfigFromTestEnv();
  c.password_file = path;
  auto e = MakeRedis(c);
  auto ping = e->Ping();
  std::remove(path.c_str());
  ASSERT_FALSE(ping) << "AUTH against a server without a password must fail";
  EXPECT_EQ(ping.error().kind, ErrorKind::kUnavailable) << ping.error().message;
  EXPECT_EQ(ping.error().message.find("s3cret"), std::string::npos) << "password in the error";
}

TEST(RedisEphemeralLive, ServerClosedConnectionIsRetriedOnce) {
  auto c = RedisConfigFromTestEnv();
  c.pool_size = 1;
  c.client_name = "columba-test-" + RandomToken();
  auto e = MakeRedis(c);
  const std::string key = RandomKey("killed");
  ASSERT_EQ(e->Increment(key, 60s).value_or(-1), 1);  // the one connection is now pooled

  // Kill that connection on the server side, found by its client name.
  RawRedis raw(c.uri);
  const std::string list = raw.Run({"CLIENT", "LIST"});
  std::string id;
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" name=" + c.client_name + " ") == std::string::npos) continue;
    id = line.substr(3, line.find(' ') - 3);  // "id=<n> addr=..."
  }
  ASSERT_FALSE(id.empty()) << "connection named " << c.client_name << " not in CLIENT LIST";
  EXPECT_EQ(raw.Run({"CLIENT", "KILL", "ID", id}), "1");

  auto n = e->Increment(key, 60s);
  ASSERT_TRUE(n) << Why(n);
  EXPECT_EQ(*n, 2) << "the retried increment must count exactly once";
  raw.Run({"DEL", "columba:cnt:" + key});
}

}  // namespace
}  // namespace columba::storage
