// pg_queue_test.cc - the outbound queue against a real PostgreSQL: what smtpd, the
// queue runners and `columbactl queue` observe through metad.
//
// NAME
//   pg_queue_test - integration tests of storage/postgres PgQueue (migration v8).
// SYNOPSIS
//   tests/infra up DIR && COLUMBA_TEST_STATE=DIR build/storage/postgres/pg_queue_test
//   (ctest does this through the `infra` fixture; label `integration`).
// DESCRIPTION
//   Every test gets its own database (as pg_store_test), applies the migrations and
//   talks to it through PgQueue only; SQL is used to count rows (to show that
//   nothing was stored or that a finished message left nothing behind).
//   Covered: enqueue / list (paging, oldest first) / get / delete; every kind of
//   invalid Enqueue is refused and stores nothing; Claim honours due time, route
//   and live leases; an expired lease is claimed by another worker, whose
//   predecessor's Complete is then refused; four concurrent claimers never get the
//   same recipient and together get all; DELIVERED / DEFERRED / FAILED outcomes and
//   the deletion of a finished message; Complete's refusals.
//   Waits for time to pass are bounded polls (leases and retries of 1 s).
// DIAGNOSTICS
//   Without COLUMBA_TEST_STATE (or with the infrastructure down) every test FAILS
//   with the reason; nothing is skipped.
// NEVER
//   Touches any database it did not create.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgres/migrations.h"
#include "storage/postgres/pg_queue.h"
#include "tests/lib/test_env.h"

namespace columba::pg {
namespace {

using columba::testing::TestEnv;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------ helpers

std::string WithDatabase(const std::string& uri, const std::string& db) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("COLUMBA_PG_URI is not a libpq URI");
  size_t start = scheme + 3;
  size_t query = uri.find('?', start);
  size_t end = query == std::string::npos ? uri.size() : query;
  size_t slash = uri.find('/', start);
  if (slash == std::string::npos || slash > end) return uri.substr(0, end) + "/" + db + uri.substr(end);
  return uri.substr(0, slash) + "/" + db + uri.substr(end);
}

uint64_t RandomU64() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lk(mu);
  return rng();
}

// A private database owned by `columba` with the schema applied, dropped on destruction.
class TestDatabase {
 public:
  TestDatabase() {
    admin_ = TestEnv("COLUMBA_PG_ADMIN");
    std::ostringstream s;
    s << "t_" << std::hex << std::setw(16) << std::setfill('0') << RandomU64();
    name_ = s.str();
    pqxx::connection c(admin_);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + name_ + " OWNER columba");
    n.exec("ALTER DATABASE " + name_ + " SET synchronous_commit = off");
    uri_ = WithDatabase(TestEnv("COLUMBA_PG_URI"), name_);
  }
  ~TestDatabase() {
    try {
      pqxx::connection c(admin_);
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "dropping test database " << name_ << ": " << e.what();
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  const std::string& uri() const { return uri_; }

 private:
  std::string admin_, name_, uri_;
};

template <class T>
T Must(Result<T> r, const char* what) {
  if (!r)
    throw std::runtime_error(std::string(what) + " failed: " + ErrorKindName(r.error().kind) + ": " + r.error().message);
  return std::move(*r);
}
#define MUST(expr) Must((expr), #expr)

template <class T>
::testing::AssertionResult FailsWith(const Result<T>& r, ErrorKind kind) {
  if (r) return ::testing::AssertionFailure() << "succeeded; expected " << ErrorKindName(kind);
  if (r.error().kind != kind)
    return ::testing::AssertionFailure() << "failed with " << ErrorKindName(r.error().kind) << " ("
                                         << r.error().message << "); expected " << ErrorKindName(kind);
  return ::testing::AssertionSuccess();
}

std::string BlobId(uint64_t n) {
  std::ostringstream s;
  s << std::hex << std::setw(64) << std::setfill('0') << n;
  return s.str();
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

v1::EnqueueRequest Message(std::vector<std::pair<std::string, v1::Route>> rcpts, uint32_t retry_after = 0) {
  v1::EnqueueRequest r;
  r.set_sender("alice@example.org");
  r.set_blob_id(BlobId(RandomU64()));
  r.set_size(1234);
  r.set_envid("env-1");
  r.set_ret("hdrs");
  r.set_smtputf8(true);
  r.set_body("8bitmime");
  r.set_client_ip("192.0.2.7");
  r.set_helo("mx.example.org");
  r.set_auth_user("alice@example.org");
  r.set_retry_after_seconds(retry_after);
  for (auto& [addr, route] : rcpts) {
    auto* rc = r.add_recipients();
    rc->set_address(addr);
    rc->set_route(route);
    rc->set_notify("success,failure");
    rc->set_orcpt("rfc822;" + addr);
  }
  return r;
}

class PgQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    MUST(ApplyMigrations(db_->uri()));
    queue_ = std::make_unique<PgQueue>(std::make_shared<ConnectionPool>(db_->uri(), 8));
  }
  void TearDown() override {
    queue_.reset();
    db_.reset();
  }
  PgQueue& Q() { return *queue_; }

  std::string Enqueue(const v1::EnqueueRequest& r) { return MUST(Q().Enqueue(r)).queue_id(); }
  v1::QueuedMessage Get(const std::string& id) {
    v1::GetQueuedRequest g;
    g.set_queue_id(id);
    return MUST(Q().GetQueued(g));
  }
  Result<v1::QueuedMessage> TryGet(const std::string& id) {
    v1::GetQueuedRequest g;
    g.set_queue_id(id);
    return Q().GetQueued(g);
  }
  v1::ClaimResponse Claim(const std::string& worker, v1::Route route, uint32_t limit = 0, uint32_t lease = 0) {
    v1::ClaimRequest c;
    c.set_worker(worker);
    c.set_route(route);
    c.set_limit(limit);
    c.set_lease_seconds(lease);
    return MUST(Q().Claim(c));
  }
  // Keys of all recipients in a claim.
  static std::vector<uint64_t> Keys(const v1::ClaimResponse& c) {
    std::vector<uint64_t> k;
    for (const auto& m : c.messages())
      for (const auto& r : m.message().recipients()) k.push_back(r.key());
    return k;
  }
  static v1::RecipientResult Result_(uint64_t key, v1::Outcome o, const std::string& error = "", uint32_t retry = 0) {
    v1::RecipientResult r;
    r.set_key(key);
    r.set_outcome(o);
    r.set_error(error);
    r.set_retry_after_seconds(retry);
    return r;
  }
  Result<v1::CompleteResponse> Complete(const std::string& id, const std::string& worker,
                                        std::vector<v1::RecipientResult> results) {
    v1::CompleteRequest c;
    c.set_queue_id(id);
    c.set_worker(worker);
    for (auto& r : results) *c.add_results() = r;
    return Q().Complete(c);
  }
  // Polls Claim until it returns something or `timeout` passes.
  v1::ClaimResponse ClaimWithin(const std::string& worker, v1::Route route, std::chrono::seconds timeout,
                                uint32_t lease = 0) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto c = Claim(worker, route, 0, lease);
      if (c.messages_size() > 0 || Clock::now() >= deadline) return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  int64_t Count(const std::string& table) {
    pqxx::connection c(db_->uri());
    pqxx::nontransaction n(c);
    return n.exec1("SELECT count(*) FROM " + table)[0].as<int64_t>();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgQueue> queue_;
};

// ------------------------------------------------------------ enqueue, list, get, delete

TEST_F(PgQueueTest, EnqueueStoresEveryFieldAndGetShowsThem) {
  int64_t before = Now();
  auto req = Message({{"bob@example.net", v1::ROUTE_REMOTE}, {"carol@local.test", v1::ROUTE_LOCAL}});
  req.mutable_recipients(1)->set_notify("never");
  req.mutable_recipients(1)->clear_orcpt();
  std::string id = Enqueue(req);
  EXPECT_TRUE(IsValidQueueId(id)) << id;

  auto m = Get(id);
  EXPECT_EQ(m.id(), id);
  EXPECT_EQ(m.sender(), "alice@example.org");
  EXPECT_EQ(m.blob_id(), req.blob_id());
  EXPECT_EQ(m.size(), 1234u);
  EXPECT_EQ(m.envid(), "env-1");
  EXPECT_EQ(m.ret(), "HDRS");        // normalised
  EXPECT_TRUE(m.smtputf8());
  EXPECT_EQ(m.body(), "8BITMIME");   // normalised
  EXPECT_EQ(m.client_ip(), "192.0.2.7");
  EXPECT_EQ(m.helo(), "mx.example.org");
  EXPECT_EQ(m.auth_user(), "alice@example.org");
  EXPECT_GE(m.created_at(), before - 1);
  EXPECT_LE(m.created_at(), Now() + 1);
  ASSERT_EQ(m.recipients_size(), 2);
  const auto& r0 = m.recipients(0);  // in RCPT order
  EXPECT_EQ(r0.address(), "bob@example.net");
  EXPECT_EQ(r0.route(), v1::ROUTE_REMOTE);
  EXPECT_EQ(r0.notify(), "SUCCESS,FAILURE");
  EXPECT_EQ(r0.orcpt(), "rfc822;bob@example.net");
  EXPECT_EQ(r0.state(), v1::RECIPIENT_QUEUED);
  EXPECT_EQ(r0.attempts(), 0u);
  EXPECT_LE(r0.next_attempt_at(), Now() + 1);
  EXPECT_EQ(r0.leased_by(), "");
  EXPECT_EQ(r0.lease_until(), 0);
  EXPECT_NE(r0.key(), m.recipients(1).key());
  EXPECT_EQ(m.recipients(1).address(), "carol@local.test");
  EXPECT_EQ(m.recipients(1).route(), v1::ROUTE_LOCAL);
  EXPECT_EQ(m.recipients(1).notify(), "NEVER");
  EXPECT_EQ(m.recipients(1).orcpt(), "");
  EXPECT_EQ(m.next_attempt_at(), r0.next_attempt_at());
  EXPECT_EQ(m.last_error(), "");

  // Null sender, body "" (= 7BIT), a delayed first attempt.
  auto bounce = Message({{"x@example.net", v1::ROUTE_REMOTE}}, 600);
  bounce.set_sender("");
  bounce.set_body("");
  auto b = Get(Enqueue(bounce));
  EXPECT_EQ(b.sender(), "");
  EXPECT_EQ(b.body(), "7BIT");
  EXPECT_GE(b.next_attempt_at(), Now() + 598);
}

TEST_F(PgQueueTest, ListPagesOldestFirstAndDeleteRemovesMessageAndRecipients) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Enqueue(Message({{"r" + std::to_string(i) + "@example.net", v1::ROUTE_REMOTE},
                                                             {"s@example.net", v1::ROUTE_REMOTE}})));
  std::vector<std::string> seen;
  v1::ListQueueRequest l;
  l.set_limit(2);
  int pages = 0;
  for (;;) {
    auto page = MUST(Q().ListQueue(l));
    ++pages;
    for (const auto& m : page.messages()) {
      seen.push_back(m.id());
      EXPECT_EQ(m.recipients_size(), 2) << m.id();
    }
    if (!page.more()) break;
    ASSERT_LT(pages, 10);
    l.set_after_id(page.messages(page.messages_size() - 1).id());
  }
  EXPECT_EQ(pages, 3);
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(seen, sorted) << "every message once, ascending by id";
  // Ids start with the creation second: ascending ids are oldest first.
  EXPECT_LE(seen.front().substr(0, 8), seen.back().substr(0, 8));

  v1::DeleteQueuedRequest d;
  d.set_queue_id(ids[2]);
  MUST(Q().DeleteQueued(d));
  EXPECT_TRUE(FailsWith(TryGet(ids[2]), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(Q().DeleteQueued(d), ErrorKind::kNotFound));
  EXPECT_EQ(Count("queue_messages"), 4);
  EXPECT_EQ(Count("queue_recipients"), 8);
  auto all = MUST(Q().ListQueue(v1::ListQueueRequest()));
  EXPECT_EQ(all.messages_size(), 4);
  EXPECT_FALSE(all.more());

  // Unknown and malformed ids.
  EXPECT_TRUE(FailsWith(TryGet("0123456789abcdef"), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(TryGet("not-an-id"), ErrorKind::kInvalidInput));
  d.set_queue_id("'; DROP TABLE x");
  EXPECT_TRUE(FailsWith(Q().DeleteQueued(d), ErrorKind::kInvalidInput));
}

TEST_F(PgQueueTest, InvalidEnqueueIsRefusedAndStoresNothing) {
  auto ok = [] { return Message({{"bob@example.net", v1::ROUTE_REMOTE}}); };
  std::vector<std::pair<std::string, v1::EnqueueRequest>> bad;
  auto add = [&](const std::string& what, auto mutate) {
    auto r = ok();
    mutate(r);
    bad.emplace_back(what, r);
  };
  add("no recipients", [](auto& r) { r.clear_recipients(); });
  add("1001 recipients", [](auto& r) {
    for (int i = 0; i < 1000; ++i) {
      auto* rc = r.add_recipients();
      rc->set_address("x" + std::to_string(i) + "@example.net");
      rc->set_route(v1::ROUTE_REMOTE);
    }
  });
  add("empty blob id", [](auto& r) { r.set_blob_id(""); });
  add("short blob id", [](auto& r) { r.set_blob_id(std::string(63, 'a')); });
  add("upper-case blob id", [](auto& r) { r.set_blob_id(std::string(64, 'A')); });
  add("path in blob id", [](auto& r) { r.set_blob_id("../../etc/passwd" + std::string(48, 'a')); });
  add("size out of range", [](auto& r) { r.set_size(UINT64_MAX); });
  add("empty address", [](auto& r) { r.mutable_recipients(0)->set_address(""); });
  add("address of 321 octets", [](auto& r) { r.mutable_recipients(0)->set_address(std::string(309, 'a') + "@example.net"); });
  add("CRLF in address", [](auto& r) { r.mutable_recipients(0)->set_address("bob@example.net\r\nRCPT TO:<x@y>"); });
  add("space in sender", [](auto& r) { r.set_sender("a b@example.org"); });
  add("NUL in sender", [](auto& r) { r.set_sender(std::string("a\0b@example.org", 15)); });
  add("invalid UTF-8 in address", [](auto& r) { r.mutable_recipients(0)->set_address("b\xff@example.net"); });
  add("sender of 321 octets", [](auto& r) { r.set_sender(std::string(321, 'a')); });
  add("no route", [](auto& r) { r.mutable_recipients(0)->set_route(v1::ROUTE_UNSPECIFIED); });
  add("unknown route", [](auto& r) { r.mutable_recipients(0)->set_route(static_cast<v1::Route>(7)); });
  add("bad notify", [](auto& r) { r.mutable_recipients(0)->set_notify("SOMETIMES"); });
  add("NEVER with another", [](auto& r) { r.mutable_recipients(0)->set_notify("NEVER,SUCCESS"); });
  add("notify twice", [](auto& r) { r.mutable_recipients(0)->set_notify("DELAY,DELAY"); });
  add("orcpt of 501 octets", [](auto& r) { r.mutable_recipients(0)->set_orcpt(std::string(501, 'o')); });
  add("bad ret", [](auto& r) { r.set_ret("SOME"); });
  add("bad body", [](auto& r) { r.set_body("QUOTED-PRINTABLE"); });
  add("envid of 101 octets", [](auto& r) { r.set_envid(std::string(101, 'e')); });
  add("helo of 256 octets", [](auto& r) { r.set_helo(std::string(256, 'h')); });
  add("retry after 31 days", [](auto& r) { r.set_retry_after_seconds(31 * 86400); });
  for (const auto& [what, req] : bad) EXPECT_TRUE(FailsWith(Q().Enqueue(req), ErrorKind::kInvalidInput)) << what;
  EXPECT_EQ(Count("queue_messages"), 0);
  EXPECT_EQ(Count("queue_recipients"), 0);

  // The limits themselves are allowed.
  auto edge = ok();
  edge.mutable_recipients(0)->set_address(std::string(308, 'a') + "@example.net");  // 320 octets
  edge.set_envid(std::string(100, 'e'));
  for (int i = 0; i < 999; ++i) {
    auto* rc = edge.add_recipients();
    rc->set_address("x" + std::to_string(i) + "@example.net");
    rc->set_route(v1::ROUTE_LOCAL);
  }
  auto m = Get(Enqueue(edge));
  EXPECT_EQ(m.recipients_size(), 1000);
}

// ------------------------------------------------------------ claim

TEST_F(PgQueueTest, ClaimTakesOnlyDueRecipientsOfItsRouteAndHoldsThemUnderLease) {
  std::string later = Enqueue(Message({{"later@local.test", v1::ROUTE_LOCAL}}, /*retry_after=*/3600));
  std::string now = Enqueue(Message({{"a@local.test", v1::ROUTE_LOCAL},
                                     {"far@example.net", v1::ROUTE_REMOTE},
                                     {"b@local.test", v1::ROUTE_LOCAL}}));
  int64_t t0 = Now();
  auto c = Claim("w1", v1::ROUTE_LOCAL, 0, 120);
  ASSERT_EQ(c.messages_size(), 1) << c.ShortDebugString();
  const auto& cm = c.messages(0);
  EXPECT_EQ(cm.message().id(), now);
  EXPECT_EQ(cm.message().sender(), "alice@example.org");
  EXPECT_EQ(cm.message().blob_id().size(), 64u);
  EXPECT_EQ(cm.message().envid(), "env-1");
  ASSERT_EQ(cm.message().recipients_size(), 2);
  EXPECT_EQ(cm.message().recipients(0).address(), "a@local.test");
  EXPECT_EQ(cm.message().recipients(1).address(), "b@local.test");
  EXPECT_GE(cm.lease_until(), t0 + 119);
  EXPECT_LE(cm.lease_until(), Now() + 121);

  // Held: nobody else gets them, not even the same worker; the remote one is free.
  EXPECT_EQ(Claim("w2", v1::ROUTE_LOCAL).messages_size(), 0);
  EXPECT_EQ(Claim("w1", v1::ROUTE_LOCAL).messages_size(), 0);
  auto remote = Claim("relay", v1::ROUTE_REMOTE);
  ASSERT_EQ(remote.messages_size(), 1);
  ASSERT_EQ(remote.messages(0).message().recipients_size(), 1);
  EXPECT_EQ(remote.messages(0).message().recipients(0).address(), "far@example.net");

  // The show view says who holds what.
  auto m = Get(now);
  for (const auto& r : m.recipients()) {
    EXPECT_EQ(r.leased_by(), r.route() == v1::ROUTE_LOCAL ? "w1" : "relay") << r.address();
    EXPECT_GE(r.lease_until(), t0);
    EXPECT_EQ(r.state(), v1::RECIPIENT_QUEUED);
  }
  // The delayed message stays unclaimed.
  EXPECT_EQ(Get(later).recipients(0).leased_by(), "");

  // Limit counts recipients.
  for (int i = 0; i < 3; ++i) Enqueue(Message({{"l" + std::to_string(i) + "@local.test", v1::ROUTE_LOCAL}}));
  EXPECT_EQ(Keys(Claim("w3", v1::ROUTE_LOCAL, 2)).size(), 2u);
  EXPECT_EQ(Keys(Claim("w3", v1::ROUTE_LOCAL, 2)).size(), 1u);

  // Bad claims.
  v1::ClaimRequest bad;
  bad.set_route(v1::ROUTE_LOCAL);
  EXPECT_TRUE(FailsWith(Q().Claim(bad), ErrorKind::kInvalidInput)) << "no worker";
  bad.set_worker("w");
  bad.set_route(v1::ROUTE_UNSPECIFIED);
  EXPECT_TRUE(FailsWith(Q().Claim(bad), ErrorKind::kInvalidInput)) << "no route";
  bad.set_route(v1::ROUTE_LOCAL);
  bad.set_lease_seconds(3601);
  EXPECT_TRUE(FailsWith(Q().Claim(bad), ErrorKind::kInvalidInput)) << "lease too long";
  bad.set_lease_seconds(0);
  bad.set_limit(1001);
  EXPECT_TRUE(FailsWith(Q().Claim(bad), ErrorKind::kInvalidInput)) << "limit too high";
}

TEST_F(PgQueueTest, ExpiredLeaseIsClaimedByAnotherWorkerAndTheFirstWorkersCompleteIsRefused) {
  std::string id = Enqueue(Message({{"a@local.test", v1::ROUTE_LOCAL}}));
  auto first = Claim("crashed", v1::ROUTE_LOCAL, 0, /*lease=*/1);
  ASSERT_EQ(Keys(first).size(), 1u);
  uint64_t key = Keys(first)[0];
  EXPECT_EQ(Claim("rescuer", v1::ROUTE_LOCAL).messages_size(), 0) << "lease still live";

  auto second = ClaimWithin("rescuer", v1::ROUTE_LOCAL, std::chrono::seconds(5));
  ASSERT_EQ(Keys(second), std::vector<uint64_t>{key}) << "the expired lease was not re-claimed within 5 s";
  EXPECT_EQ(Get(id).recipients(0).leased_by(), "rescuer");

  // The first worker comes back: refused, and nothing changes.
  EXPECT_TRUE(FailsWith(Complete(id, "crashed", {Result_(key, v1::OUTCOME_DELIVERED)}), ErrorKind::kConflict));
  auto m = Get(id);
  EXPECT_EQ(m.recipients(0).state(), v1::RECIPIENT_QUEUED);
  EXPECT_EQ(m.recipients(0).attempts(), 0u);

  auto done = MUST(Complete(id, "rescuer", {Result_(key, v1::OUTCOME_DELIVERED)}));
  EXPECT_TRUE(done.finished());
  EXPECT_TRUE(FailsWith(TryGet(id), ErrorKind::kNotFound));
}

TEST_F(PgQueueTest, FourConcurrentClaimersNeverGetTheSameRecipientAndTogetherGetAll) {
  std::set<uint64_t> all;
  for (int i = 0; i < 60; ++i) {
    std::vector<std::pair<std::string, v1::Route>> rcpts;
    for (int j = 0; j < 5; ++j) rcpts.emplace_back("u" + std::to_string(i * 5 + j) + "@local.test", v1::ROUTE_LOCAL);
    auto m = Get(Enqueue(Message(rcpts)));
    for (const auto& r : m.recipients()) all.insert(r.key());
  }
  ASSERT_EQ(all.size(), 300u);
  std::mutex mu;
  std::multiset<uint64_t> got;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      v1::ClaimRequest c;
      c.set_worker("claimer-" + std::to_string(t));
      c.set_route(v1::ROUTE_LOCAL);
      c.set_limit(7);
      c.set_lease_seconds(600);
      for (;;) {
        auto r = Q().Claim(c);
        std::lock_guard lk(mu);
        if (!r) {
          errors.push_back(r.error().message);
          return;
        }
        auto keys = Keys(*r);
        if (keys.empty()) return;
        got.insert(keys.begin(), keys.end());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(got.size(), all.size()) << "every recipient claimed exactly once";
  EXPECT_EQ(std::set<uint64_t>(got.begin(), got.end()), all);
  EXPECT_EQ(Claim("late", v1::ROUTE_LOCAL).messages_size(), 0);
}

// ------------------------------------------------------------ complete

TEST_F(PgQueueTest, CompleteRecordsOutcomesAndDeletesTheMessageWhenNothingIsPending) {
  std::string id = Enqueue(Message({{"ok@local.test", v1::ROUTE_LOCAL},
                                    {"later@local.test", v1::ROUTE_LOCAL},
                                    {"gone@local.test", v1::ROUTE_LOCAL}}));
  auto c = Claim("w", v1::ROUTE_LOCAL);
  auto keys = Keys(c);
  ASSERT_EQ(keys.size(), 3u);
  int64_t t0 = Now();
  auto res = MUST(Complete(id, "w",
                           {Result_(keys[0], v1::OUTCOME_DELIVERED, "250 2.0.0 ok"),
                            Result_(keys[1], v1::OUTCOME_DEFERRED, "452 4.2.2 mailbox full", 3600),
                            Result_(keys[2], v1::OUTCOME_FAILED, "550 5.1.1 no such user")}));
  EXPECT_FALSE(res.finished());
  EXPECT_EQ(res.pending(), 1u);

  auto m = Get(id);
  ASSERT_EQ(m.recipients_size(), 3);
  EXPECT_EQ(m.recipients(0).state(), v1::RECIPIENT_DELIVERED);
  EXPECT_EQ(m.recipients(0).last_error(), "");
  EXPECT_EQ(m.recipients(1).state(), v1::RECIPIENT_DEFERRED);
  EXPECT_EQ(m.recipients(1).last_error(), "452 4.2.2 mailbox full");
  EXPECT_GE(m.recipients(1).next_attempt_at(), t0 + 3599);
  EXPECT_EQ(m.recipients(2).state(), v1::RECIPIENT_FAILED);
  EXPECT_EQ(m.recipients(2).last_error(), "550 5.1.1 no such user");
  for (const auto& r : m.recipients()) {
    EXPECT_EQ(r.attempts(), 1u) << r.address();
    EXPECT_EQ(r.leased_by(), "") << r.address();
    EXPECT_EQ(r.lease_until(), 0) << r.address();
  }
  EXPECT_EQ(m.next_attempt_at(), m.recipients(1).next_attempt_at()) << "only the pending recipient counts";
  EXPECT_EQ(m.last_error(), "550 5.1.1 no such user");
  EXPECT_EQ(Claim("w", v1::ROUTE_LOCAL).messages_size(), 0) << "deferred for an hour";

  // Done recipients cannot be reported again.
  EXPECT_TRUE(FailsWith(Complete(id, "w", {Result_(keys[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kConflict));

  // A short deferral becomes due again; the second attempt delivers and the message goes.
  std::string id2 = Enqueue(Message({{"retry@local.test", v1::ROUTE_LOCAL}}));
  auto k2 = Keys(Claim("w", v1::ROUTE_LOCAL));
  ASSERT_EQ(k2.size(), 1u);
  MUST(Complete(id2, "w", {Result_(k2[0], v1::OUTCOME_DEFERRED, "421 try later", 1)}));
  auto again = ClaimWithin("w2", v1::ROUTE_LOCAL, std::chrono::seconds(5));
  ASSERT_EQ(Keys(again), k2) << "a 1 s deferral was not due again within 5 s";
  EXPECT_EQ(again.messages(0).message().recipients(0).attempts(), 1u);
  EXPECT_EQ(again.messages(0).message().recipients(0).state(), v1::RECIPIENT_DEFERRED);
  auto fin = MUST(Complete(id2, "w2", {Result_(k2[0], v1::OUTCOME_DELIVERED)}));
  EXPECT_TRUE(fin.finished());
  EXPECT_EQ(fin.pending(), 0u);
  EXPECT_TRUE(FailsWith(TryGet(id2), ErrorKind::kNotFound));

  // The first message finishes when its deferred recipient fails for good; nothing is left.
  {
    pqxx::connection conn(db_->uri());
    pqxx::work w(conn);
    w.exec_params("UPDATE queue_recipients SET next_attempt_at = now() WHERE recipient_id = $1", keys[1]);
    w.commit();  // (instead of waiting an hour)
  }
  auto k3 = Keys(Claim("w3", v1::ROUTE_LOCAL));
  ASSERT_EQ(k3, std::vector<uint64_t>{keys[1]});
  auto last = MUST(Complete(id, "w3", {Result_(keys[1], v1::OUTCOME_FAILED, "552 too many retries")}));
  EXPECT_TRUE(last.finished());
  EXPECT_EQ(Count("queue_messages"), 0);
  EXPECT_EQ(Count("queue_recipients"), 0);
}

TEST_F(PgQueueTest, CompleteRefusesStrangersAndBadInputAndChangesNothing) {
  std::string id = Enqueue(Message({{"a@local.test", v1::ROUTE_LOCAL}, {"b@local.test", v1::ROUTE_LOCAL}}));
  std::string other = Enqueue(Message({{"c@example.net", v1::ROUTE_REMOTE}}));
  auto keys = Keys(Claim("w", v1::ROUTE_LOCAL));
  ASSERT_EQ(keys.size(), 2u);
  auto other_key = Keys(Claim("relay", v1::ROUTE_REMOTE));
  ASSERT_EQ(other_key.size(), 1u);

  // Another worker; a key of another message; one good key with one bad: all refused.
  EXPECT_TRUE(FailsWith(Complete(id, "intruder", {Result_(keys[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kConflict));
  EXPECT_TRUE(FailsWith(Complete(id, "w", {Result_(other_key[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kConflict));
  EXPECT_TRUE(FailsWith(Complete(id, "w", {Result_(keys[0], v1::OUTCOME_DELIVERED), Result_(999999, v1::OUTCOME_DELIVERED)}),
                        ErrorKind::kConflict));
  // Bad input.
  EXPECT_TRUE(FailsWith(Complete("0000000000000000", "w", {Result_(keys[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(Complete("bad", "w", {Result_(keys[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(Complete(id, "", {Result_(keys[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(Complete(id, "w", {}), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(Complete(id, "w", {Result_(keys[0], v1::OUTCOME_UNSPECIFIED)}), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(Complete(id, "w", {Result_(keys[0], v1::OUTCOME_DELIVERED), Result_(keys[0], v1::OUTCOME_FAILED)}),
                        ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(Complete(id, "w", {Result_(keys[0], v1::OUTCOME_DEFERRED, "", 31 * 86400)}),
                        ErrorKind::kInvalidInput));
  auto m = Get(id);
  for (const auto& r : m.recipients()) {
    EXPECT_EQ(r.state(), v1::RECIPIENT_QUEUED);
    EXPECT_EQ(r.attempts(), 0u);
    EXPECT_EQ(r.leased_by(), "w");
  }
  // A long, binary error is kept cut and cleaned, never refused.
  std::string noisy = "451 4.3.0 " + std::string("\xff\r\n") + std::string(2000, 'x');
  MUST(Complete(id, "w", {Result_(keys[0], v1::OUTCOME_DEFERRED, noisy, 60), Result_(keys[1], v1::OUTCOME_DELIVERED)}));
  auto after = Get(id);
  EXPECT_EQ(after.recipients(0).last_error().size(), QueueLimits::kMaxError);
  EXPECT_EQ(after.recipients(0).last_error().substr(0, 14), "451 4.3.0 ?  x");
  // A deleted message: the runner's Complete gets NOT_FOUND.
  v1::DeleteQueuedRequest d;
  d.set_queue_id(other);
  MUST(Q().DeleteQueued(d));
  EXPECT_TRUE(FailsWith(Complete(other, "relay", {Result_(other_key[0], v1::OUTCOME_DELIVERED)}), ErrorKind::kNotFound));
}

}  // namespace
}  // namespace columba::pg
