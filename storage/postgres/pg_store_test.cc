// pg_store_test.cc - the mailstore against a real PostgreSQL: what IMAP/POP3/LMTP
// clients observe through metad.
//
// NAME
//   pg_store_test - integration tests of storage/postgres (PgStore, ApplyMigrations).
// SYNOPSIS
//   tests/infra up DIR && COLUMBA_TEST_STATE=DIR build/storage/postgres/pg_store_test
//   (ctest does this through the `infra` fixture; label `integration`).
// DESCRIPTION
//   Every test gets its own database (CREATE DATABASE t_<random> OWNER columba through
//   the admin URI), applies the migrations, talks to it through PgStore and drops it
//   afterwards (WITH (FORCE)), so tests are independent and can run in any order.
//   The test databases run with synchronous_commit = off: it only changes what a crash
//   of the test cluster could lose, never what a client can observe, and keeps the
//   thousands of appends below fast.
//   Covered: migrations (idempotent, concurrent), accounts and default mailboxes,
//   APPEND (UIDs, MODSEQs, fallback, quota), FETCH paging / UID sets / CHANGEDSINCE,
//   STORE (modes, UNCHANGEDSINCE), COPY/MOVE, EXPUNGE and QRESYNC changes, mailbox
//   CREATE/RENAME/DELETE/SUBSCRIBE/LIST, SEARCH, account isolation, two metad
//   replicas appending concurrently, and the NOTIFY change feed.
// DIAGNOSTICS
//   Without COLUMBA_TEST_STATE (or with the infrastructure down) every test FAILS with
//   the reason; nothing is skipped.
// NEVER
//   Touches the `columba` database itself or any database it did not create.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iomanip>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgres/migrations.h"
#include "storage/postgres/pg_store.h"
#include "tests/lib/test_env.h"

namespace columba::pg {
namespace {

using columba::testing::TestEnv;

// ------------------------------------------------------------ helpers

// `uri` with its database (the URI path) replaced by `db`.
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

std::string RandomDatabaseName() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}() ^
                             static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::lock_guard lk(mu);
  std::ostringstream s;
  s << "t_" << std::hex << std::setw(16) << std::setfill('0') << rng();
  return s.str();
}

// A private database owned by `columba`, dropped on destruction.
class TestDatabase {
 public:
  // `create_options` is appended to CREATE DATABASE (e.g. a collation).
  explicit TestDatabase(const std::string& create_options = "") {
    admin_ = TestEnv("COLUMBA_PG_ADMIN");
    std::string base = TestEnv("COLUMBA_PG_URI");
    name_ = RandomDatabaseName();
    pqxx::connection c(admin_);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + name_ + " OWNER columba " + create_options);
    n.exec("ALTER DATABASE " + name_ + " SET synchronous_commit = off");
    uri_ = WithDatabase(base, name_);
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

// The value of a Result that must have succeeded; otherwise the test fails (by
// exception, so it also works inside helpers and threads' callers).
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

v1::UidSet Uids(std::initializer_list<std::pair<uint32_t, uint32_t>> ranges) {
  v1::UidSet s;
  for (auto [a, b] : ranges) {
    auto* r = s.add_ranges();
    r->set_first(a);
    r->set_last(b);
  }
  return s;
}
v1::UidSet All() { return Uids({{1, 0}}); }
v1::UidSet One(uint32_t uid) { return Uids({{uid, uid}}); }

std::vector<uint32_t> UidsOf(const std::vector<v1::MessageMeta>& msgs) {
  std::vector<uint32_t> out;
  for (const auto& m : msgs) out.push_back(m.uid());
  return out;
}
template <class Repeated>
std::vector<uint32_t> Vec(const Repeated& r) {
  return std::vector<uint32_t>(r.begin(), r.end());
}
std::vector<std::string> Keywords(const v1::MessageMeta& m) {
  return std::vector<std::string>(m.keywords().begin(), m.keywords().end());
}
std::vector<uint32_t> Range(uint32_t first, uint32_t last) {
  std::vector<uint32_t> v;
  for (uint32_t u = first; u <= last; ++u) v.push_back(u);
  return v;
}

v1::ParsedFields Parsed(const std::string& subject, const std::string& from, const std::string& body,
                        const std::string& extra_headers = "") {
  v1::ParsedFields p;
  p.set_subject(subject);
  p.set_from(from);
  p.set_to("Bob <bob@example.org>");
  p.set_body_text(body);
  p.set_headers("Subject: " + subject + "\r\nFrom: " + from + "\r\nTo: Bob <bob@example.org>\r\n" + extra_headers +
                "\r\n");
  p.set_header_size(static_cast<uint32_t>(p.headers().size()));
  return p;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    MUST(ApplyMigrations(db_->uri()));
    store_ = std::make_unique<PgStore>(std::make_shared<ConnectionPool>(db_->uri(), 8));
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  PgStore& S() { return *store_; }

  uint64_t NewAccount(const std::string& address, uint64_t storage_limit = 0, uint64_t message_limit = 0) {
    v1::EnsureAccountRequest r;
    r.set_address(address);
    r.set_storage_limit(storage_limit);
    r.set_message_limit(message_limit);
    return MUST(S().EnsureAccount(r)).account().account_id();
  }
  uint64_t MailboxId(uint64_t account, const std::string& name) {
    v1::GetMailboxRequest r;
    r.set_account_id(account);
    r.set_name(name);
    return MUST(S().GetMailbox(r)).mailbox().mailbox_id();
  }
  v1::Mailbox Mailbox(uint64_t account, uint64_t mailbox_id) {
    v1::GetMailboxRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    r.set_with_counts(true);
    return MUST(S().GetMailbox(r)).mailbox();
  }
  Result<v1::GetMailboxResponse> TryMailbox(uint64_t account, const std::string& name) {
    v1::GetMailboxRequest r;
    r.set_account_id(account);
    r.set_name(name);
    r.set_with_counts(true);
    return S().GetMailbox(r);
  }
  v1::Quota Quota(uint64_t account) {
    v1::GetQuotaRequest r;
    r.set_account_id(account);
    return MUST(S().GetQuota(r)).quota();
  }
  v1::AppendRequest AppendReq(uint64_t account, uint64_t mailbox_id, uint64_t size, uint32_t flags = 0,
                              std::vector<std::string> keywords = {}) {
    static std::atomic<uint64_t> blob{1};
    v1::AppendRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    r.set_blob_id(BlobId(blob++));
    r.set_size(size);
    r.set_flags(flags);
    for (auto& k : keywords) r.add_keywords(k);
    return r;
  }
  v1::AppendResponse Put(uint64_t account, uint64_t mailbox_id, uint64_t size = 100, uint32_t flags = 0,
                         std::vector<std::string> keywords = {}) {
    return MUST(S().Append(AppendReq(account, mailbox_id, size, flags, std::move(keywords))));
  }
  // A whole FETCH, page by page, as metad's Fetch stream does it.
  Result<std::vector<v1::MessageMeta>> TryFetch(uint64_t account, uint64_t mailbox_id, const v1::UidSet& uids,
                                                bool with_parsed = false, uint64_t changed_since = 0,
                                                uint32_t page_size = 1000) {
    v1::FetchRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    *r.mutable_uids() = uids;
    r.set_with_parsed(with_parsed);
    r.set_changed_since(changed_since);
    r.set_page_size(page_size);
    std::vector<v1::MessageMeta> out;
    uint32_t after = 0;
    for (;;) {
      auto page = S().FetchPage(r, after);
      if (!page) return tl::unexpected(page.error());
      for (const auto& m : page->messages()) out.push_back(m);
      if (static_cast<uint32_t>(page->messages_size()) < page_size) return out;
      after = page->messages(page->messages_size() - 1).uid();
    }
  }
  std::vector<v1::MessageMeta> Fetch(uint64_t account, uint64_t mailbox_id, const v1::UidSet& uids = All(),
                                     bool with_parsed = false, uint64_t changed_since = 0) {
    return MUST(TryFetch(account, mailbox_id, uids, with_parsed, changed_since));
  }
  v1::MessageMeta FetchOne(uint64_t account, uint64_t mailbox_id, uint32_t uid) {
    auto msgs = Fetch(account, mailbox_id, One(uid));
    if (msgs.size() != 1) throw std::runtime_error("message " + std::to_string(uid) + " not found");
    return msgs[0];
  }
  v1::StoreFlagsRequest StoreReq(uint64_t account, uint64_t mailbox_id, const v1::UidSet& uids, v1::StoreMode mode,
                                 uint32_t flags, std::vector<std::string> keywords = {}, uint64_t unchanged_since = 0) {
    v1::StoreFlagsRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    *r.mutable_uids() = uids;
    r.set_mode(mode);
    r.set_flags(flags);
    for (auto& k : keywords) r.add_keywords(k);
    r.set_unchanged_since(unchanged_since);
    return r;
  }
  v1::StoreFlagsResponse Store(uint64_t account, uint64_t mailbox_id, const v1::UidSet& uids, v1::StoreMode mode,
                               uint32_t flags, std::vector<std::string> keywords = {}, uint64_t unchanged_since = 0) {
    return MUST(S().StoreFlags(StoreReq(account, mailbox_id, uids, mode, flags, std::move(keywords), unchanged_since)));
  }
  v1::CopyMessagesRequest CopyReq(uint64_t account, uint64_t from, const v1::UidSet& uids, uint64_t to, bool move) {
    v1::CopyMessagesRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(from);
    *r.mutable_uids() = uids;
    r.set_dest_mailbox_id(to);
    r.set_move(move);
    return r;
  }
  v1::ExpungeRequest ExpungeReq(uint64_t account, uint64_t mailbox_id, std::optional<v1::UidSet> uids = std::nullopt,
                                bool force = false) {
    v1::ExpungeRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    if (uids) *r.mutable_uids() = *uids;
    r.set_force(force);
    return r;
  }
  v1::ChangesResponse Changes(uint64_t account, uint64_t mailbox_id, uint64_t since) {
    v1::ChangesRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    r.set_since_modseq(since);
    r.set_with_count(true);
    return MUST(S().Changes(r));
  }
  v1::Mailbox Create(uint64_t account, const std::string& name, v1::SpecialUse use = v1::SPECIAL_USE_NONE,
                     bool subscribe = false) {
    v1::CreateMailboxRequest r;
    r.set_account_id(account);
    r.set_name(name);
    r.set_special_use(use);
    r.set_subscribe(subscribe);
    return MUST(S().CreateMailbox(r)).mailbox();
  }
  std::map<std::string, v1::Mailbox> List(uint64_t account, bool subscribed_only = false, bool with_counts = true) {
    v1::ListMailboxesRequest r;
    r.set_account_id(account);
    r.set_subscribed_only(subscribed_only);
    r.set_with_counts(with_counts);
    std::map<std::string, v1::Mailbox> out;
    auto resp = MUST(S().ListMailboxes(r));
    for (const auto& m : resp.mailboxes()) out[m.name()] = m;
    return out;
  }
  std::vector<uint32_t> SearchUids(uint64_t account, uint64_t mailbox_id, std::vector<v1::SearchKey> keys) {
    v1::SearchRequest r;
    r.set_account_id(account);
    r.set_mailbox_id(mailbox_id);
    for (auto& k : keys) *r.add_keys() = k;
    return Vec(MUST(S().Search(r)).uids());
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgStore> store_;
};

// ------------------------------------------------------------ migrations

std::vector<int> AllVersions() {
  std::vector<int> v;
  for (const auto& m : AllMigrations()) v.push_back(m.version);
  return v;
}

TEST(Migrations, SecondRunAppliesNothingAndReportsTheVersion) {
  TestDatabase db;
  ASSERT_FALSE(AllMigrations().empty());
  const int latest = AllMigrations().back().version;
  auto first = MUST(ApplyMigrations(db.uri()));
  EXPECT_EQ(first.applied, AllVersions());
  EXPECT_EQ(first.current, latest);
  auto second = MUST(ApplyMigrations(db.uri()));
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.current, latest);

  // The schema is usable afterwards.
  PgStore store(std::make_shared<ConnectionPool>(db.uri(), 2));
  v1::EnsureAccountRequest r;
  r.set_address("m@example.com");
  EXPECT_TRUE(MUST(store.EnsureAccount(r)).created());
  EXPECT_TRUE(store.Ping().has_value());
}

TEST(Migrations, FourConcurrentRunnersAllSucceedAndApplyEachVersionOnce) {
  TestDatabase db;
  std::vector<Result<MigrateReport>> results(4, Fail(ErrorKind::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] { results[i] = ApplyMigrations(db.uri()); });
  for (auto& t : threads) t.join();
  std::vector<int> applied;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->current, AllMigrations().back().version);
    applied.insert(applied.end(), r->applied.begin(), r->applied.end());
  }
  std::sort(applied.begin(), applied.end());
  EXPECT_EQ(applied, AllVersions()) << "every migration applied exactly once";
}

// ------------------------------------------------------------ accounts

TEST_F(PgStoreTest, EnsureAccountCreatesDefaultMailboxesOnceAndUpdatesLimits) {
  v1::EnsureAccountRequest req;
  req.set_address("alice@example.com");
  req.set_storage_limit(1000000);
  req.set_message_limit(100);
  auto first = MUST(S().EnsureAccount(req));
  EXPECT_TRUE(first.created());
  const uint64_t id = first.account().account_id();
  EXPECT_NE(id, 0u);
  EXPECT_EQ(first.account().address(), "alice@example.com");
  EXPECT_EQ(first.account().quota().storage_limit(), 1000000u);
  EXPECT_EQ(first.account().quota().message_limit(), 100u);
  EXPECT_EQ(first.account().quota().storage_used(), 0u);
  EXPECT_EQ(first.account().quota().message_used(), 0u);

  const std::map<std::string, v1::SpecialUse> expected = {
      {"INBOX", v1::SPECIAL_USE_NONE},  {"Sent", v1::SPECIAL_USE_SENT}, {"Drafts", v1::SPECIAL_USE_DRAFTS},
      {"Trash", v1::SPECIAL_USE_TRASH}, {"Junk", v1::SPECIAL_USE_JUNK}, {"Archive", v1::SPECIAL_USE_ARCHIVE}};
  auto boxes = List(id);
  ASSERT_EQ(boxes.size(), expected.size());
  std::set<uint64_t> ids;
  for (const auto& [name, use] : expected) {
    ASSERT_TRUE(boxes.count(name)) << name;
    const auto& mb = boxes[name];
    EXPECT_EQ(mb.special_use(), use) << name;
    EXPECT_TRUE(mb.subscribed()) << name;
    EXPECT_EQ(mb.uidnext(), 1u) << name;
    EXPECT_NE(mb.uidvalidity(), 0u) << name;
    EXPECT_EQ(mb.messages(), 0u) << name;
    EXPECT_FALSE(mb.has_children()) << name;
    ids.insert(mb.mailbox_id());
  }
  EXPECT_EQ(ids.size(), expected.size());
  EXPECT_EQ(List(id, /*subscribed_only=*/true).size(), expected.size());

  auto second = MUST(S().EnsureAccount(req));
  EXPECT_FALSE(second.created());
  EXPECT_EQ(second.account().account_id(), id);
  EXPECT_EQ(List(id).size(), expected.size()) << "second call must not add mailboxes";

  req.set_storage_limit(2000000);
  req.set_message_limit(0);
  auto third = MUST(S().EnsureAccount(req));
  EXPECT_FALSE(third.created());
  EXPECT_EQ(third.account().account_id(), id);
  EXPECT_EQ(third.account().quota().storage_limit(), 2000000u);
  EXPECT_EQ(third.account().quota().message_limit(), 0u);
  EXPECT_EQ(Quota(id).storage_limit(), 2000000u);
  EXPECT_EQ(Quota(id).message_limit(), 0u);

  v1::GetAccountRequest get;
  get.set_address("alice@example.com");
  EXPECT_EQ(MUST(S().GetAccount(get)).account().account_id(), id);
  get.set_account_id(id);
  EXPECT_EQ(MUST(S().GetAccount(get)).account().address(), "alice@example.com");
  get.set_address("nobody@example.com");
  EXPECT_TRUE(FailsWith(S().GetAccount(get), ErrorKind::kNotFound));

  v1::EnsureAccountRequest bad;
  bad.set_address("no-at-sign");
  EXPECT_TRUE(FailsWith(S().EnsureAccount(bad), ErrorKind::kInvalidInput));

  // A second account is a different account with its own mailboxes.
  uint64_t other = NewAccount("bob@example.com");
  EXPECT_NE(other, id);
  EXPECT_NE(MailboxId(other, "INBOX"), MailboxId(id, "INBOX"));
}

TEST_F(PgStoreTest, ConcurrentEnsureAccountCreatesOneAccount) {
  std::vector<Result<v1::EnsureAccountResponse>> results(4, Fail(ErrorKind::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      v1::EnsureAccountRequest r;
      r.set_address("race@example.com");
      results[i] = S().EnsureAccount(r);
    });
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().message;
    created += r->created();
    EXPECT_EQ(r->account().account_id(), results[0]->account().account_id());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(List(results[0]->account().account_id()).size(), 6u);
}

// ------------------------------------------------------------ append

TEST_F(PgStoreTest, AppendAssignsAscendingUidsAndModseqs) {
  uint64_t a = NewAccount("a@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  auto before = Mailbox(a, inbox);
  uint64_t last = before.highestmodseq();
  for (uint32_t i = 1; i <= 3; ++i) {
    auto r = Put(a, inbox, 100 * i, i == 2 ? uint32_t{v1::FLAG_SEEN} : 0u, {"$Label" + std::to_string(i)});
    EXPECT_EQ(r.uid(), i);
    EXPECT_GT(r.modseq(), last);
    last = r.modseq();
    EXPECT_EQ(r.uidvalidity(), before.uidvalidity());
    EXPECT_EQ(r.mailbox_id(), inbox);
    EXPECT_EQ(r.mailbox_name(), "INBOX");
  }
  auto after = Mailbox(a, inbox);
  EXPECT_EQ(after.uidnext(), 4u);
  EXPECT_EQ(after.highestmodseq(), last);
  EXPECT_EQ(after.uidvalidity(), before.uidvalidity());
  EXPECT_EQ(after.messages(), 3u);
  EXPECT_EQ(after.unseen(), 2u);
  EXPECT_EQ(after.size(), 600u);
  EXPECT_EQ(Quota(a).storage_used(), 600u);
  EXPECT_EQ(Quota(a).message_used(), 3u);

  auto msgs = Fetch(a, inbox);
  ASSERT_EQ(UidsOf(msgs), Range(1, 3));
  std::set<uint64_t> email_ids;
  for (const auto& m : msgs) {
    EXPECT_EQ(m.size(), 100u * m.uid());
    EXPECT_EQ(m.flags(), m.uid() == 2 ? uint32_t{v1::FLAG_SEEN} : 0u);
    EXPECT_EQ(Keywords(m), std::vector<std::string>{"$Label" + std::to_string(m.uid())});
    EXPECT_EQ(m.blob_id().size(), 64u);
    EXPECT_NE(m.email_id(), 0u);
    email_ids.insert(m.email_id());
    EXPECT_FALSE(m.has_parsed()) << "parsed only when asked for";
  }
  EXPECT_EQ(email_ids.size(), 3u);

  // By name, case-insensitive INBOX.
  auto req = AppendReq(a, 0, 10);
  req.set_mailbox_name("inbox");
  EXPECT_EQ(MUST(S().Append(req)).uid(), 4u);
  // fallback_to_inbox (LMTP user+detail to a folder that does not exist).
  req = AppendReq(a, 0, 10);
  req.set_mailbox_name("Lists/none");
  req.set_fallback_to_inbox(true);
  auto fb = MUST(S().Append(req));
  EXPECT_EQ(fb.mailbox_id(), inbox);
  EXPECT_EQ(fb.mailbox_name(), "INBOX");
  EXPECT_EQ(fb.uid(), 5u);
  // An existing folder wins over the fallback.
  req = AppendReq(a, 0, 10);
  req.set_mailbox_name("Sent");
  req.set_fallback_to_inbox(true);
  fb = MUST(S().Append(req));
  EXPECT_EQ(fb.mailbox_name(), "Sent");
  EXPECT_EQ(fb.uid(), 1u);

  auto q = Quota(a);
  auto hm = Mailbox(a, inbox).highestmodseq();
  req = AppendReq(a, 0, 10);
  req.set_mailbox_name("Lists/none");
  EXPECT_TRUE(FailsWith(S().Append(req), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, 987654321, 10)), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(987654321, inbox, 10)), ErrorKind::kNotFound));
  auto bad = AppendReq(a, inbox, 10);
  bad.set_blob_id("not-a-hash");
  EXPECT_TRUE(FailsWith(S().Append(bad), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, inbox, 10, 0, {"two words"})), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, inbox, 10, 0, {"\\Seen"})), ErrorKind::kInvalidInput));
  EXPECT_EQ(Quota(a).SerializeAsString(), q.SerializeAsString()) << "failed appends must not count";
  EXPECT_EQ(Mailbox(a, inbox).uidnext(), 6u);
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), hm);

  // Internal date: given, or "now" when 0.
  auto dated = AppendReq(a, inbox, 10);
  dated.set_internal_date_unix(1700000000);
  auto d = MUST(S().Append(dated));
  EXPECT_EQ(FetchOne(a, inbox, d.uid()).internal_date_unix(), 1700000000);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(static_cast<double>(FetchOne(a, inbox, 1).internal_date_unix()), static_cast<double>(now), 120.0);
}

TEST_F(PgStoreTest, AppendOverQuotaStoresNothing) {
  uint64_t a = NewAccount("q@example.com", /*storage_limit=*/1000, /*message_limit=*/3);
  uint64_t inbox = MailboxId(a, "INBOX");
  Put(a, inbox, 400);
  Put(a, inbox, 400);
  auto mb = Mailbox(a, inbox);

  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, inbox, 300)), ErrorKind::kQuotaExceeded));
  EXPECT_EQ(Quota(a).storage_used(), 800u);
  EXPECT_EQ(Quota(a).message_used(), 2u);
  EXPECT_EQ(Mailbox(a, inbox).SerializeAsString(), mb.SerializeAsString()) << "no UID, no MODSEQ consumed";
  EXPECT_EQ(UidsOf(Fetch(a, inbox)), Range(1, 2));

  // Exactly at the limit is allowed (RFC 9208: usage may reach the limit).
  EXPECT_EQ(Put(a, inbox, 200).uid(), 3u);
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, inbox, 1)), ErrorKind::kQuotaExceeded));

  // Storage unlimited now; the message-count limit (3) still holds.
  v1::EnsureAccountRequest lim;
  lim.set_address("q@example.com");
  lim.set_storage_limit(0);
  lim.set_message_limit(3);
  MUST(S().EnsureAccount(lim));
  mb = Mailbox(a, inbox);
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, inbox, 1)), ErrorKind::kQuotaExceeded));
  auto mid = AppendReq(a, 0, 1);
  mid.set_mailbox_name("Archive");
  EXPECT_TRUE(FailsWith(S().Append(mid), ErrorKind::kQuotaExceeded)) << "quota is per account, not per mailbox";
  EXPECT_EQ(Quota(a).message_used(), 3u);
  EXPECT_EQ(Quota(a).storage_used(), 1000u);
  EXPECT_EQ(Mailbox(a, inbox).SerializeAsString(), mb.SerializeAsString());
  EXPECT_EQ(Mailbox(a, MailboxId(a, "Archive")).uidnext(), 1u);
  EXPECT_EQ(Fetch(a, inbox).size(), 3u);

  // Expunging frees the quota again.
  MUST(S().Expunge(ExpungeReq(a, inbox, One(1), /*force=*/true)));
  EXPECT_EQ(Quota(a).message_used(), 2u);
  EXPECT_EQ(Quota(a).storage_used(), 600u);
  EXPECT_EQ(Put(a, inbox, 1).uid(), 4u);
}

// Raw 8-bit header bytes (unencoded Latin-1 subjects are common in real mail) must not
// make delivery fail: `headers` is `bytes` in the contract.
TEST_F(PgStoreTest, AppendAcceptsRawEightBitHeaders) {
  uint64_t a = NewAccount("h@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  auto req = AppendReq(a, inbox, 500);
  auto p = Parsed("caf\xc3\xa9", "Ren\xc3\xa9 <rene@example.com>", "plain text");
  // Latin-1, stray continuation bytes, a surrogate, an overlong, a NUL, and valid UTF-8.
  static const char kHeaders[] =
      "Subject: caf\xe9 cr\xe8me\r\nX-Bin: \x80\xff\xed\xa0\x80\xc0\xaf \0 z\r\nX-Utf8: \xe2\x82\xac\r\n\r\n";
  p.set_headers(std::string(kHeaders, sizeof(kHeaders) - 1));
  *req.mutable_parsed() = p;
  auto r = MUST(S().Append(req));
  auto msgs = Fetch(a, inbox, One(r.uid()), /*with_parsed=*/true);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].parsed().headers(), p.headers()) << "FETCH must return the raw header bytes unchanged";
  v1::SearchKey k;
  k.set_subject("CAF");
  EXPECT_EQ(SearchUids(a, inbox, {k}), std::vector<uint32_t>{r.uid()});
  // SEARCH HEADER still works: 8-bit bytes read as Latin-1, valid UTF-8 kept.
  k.mutable_header()->set_name("Subject");
  k.mutable_header()->set_value("cr\xc3\xa8me");
  EXPECT_EQ(SearchUids(a, inbox, {k}), std::vector<uint32_t>{r.uid()});
  k.mutable_header()->set_name("X-Utf8");
  k.mutable_header()->set_value("\xe2\x82\xac");
  EXPECT_EQ(SearchUids(a, inbox, {k}), std::vector<uint32_t>{r.uid()});
  // A copy carries the same searchable text.
  auto cp = MUST(S().CopyMessages(CopyReq(a, inbox, One(r.uid()), MailboxId(a, "Archive"), false)));
  ASSERT_EQ(cp.dest_uids_size(), 1);
  EXPECT_EQ(FetchOne(a, MailboxId(a, "Archive"), cp.dest_uids(0)).blob_id(), req.blob_id());
  EXPECT_EQ(Fetch(a, MailboxId(a, "Archive"), All(), true)[0].parsed().headers(), p.headers());
  EXPECT_EQ(SearchUids(a, MailboxId(a, "Archive"), {k}), std::vector<uint32_t>{cp.dest_uids(0)});
}

// ------------------------------------------------------------ fetch

TEST_F(PgStoreTest, FetchPagesThroughALargeMailboxAndHonoursUidSets) {
  uint64_t a = NewAccount("big@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  constexpr uint32_t kCount = 2500;
  for (uint32_t i = 1; i <= kCount; ++i) ASSERT_EQ(Put(a, inbox, 10 + i % 7).uid(), i);

  v1::FetchRequest r;
  r.set_account_id(a);
  r.set_mailbox_id(inbox);
  *r.mutable_uids() = All();
  r.set_page_size(1000);
  auto p1 = MUST(S().FetchPage(r, 0));
  ASSERT_EQ(p1.messages_size(), 1000);
  EXPECT_EQ(p1.messages(0).uid(), 1u);
  EXPECT_EQ(p1.messages(999).uid(), 1000u);
  auto p2 = MUST(S().FetchPage(r, 1000));
  ASSERT_EQ(p2.messages_size(), 1000);
  EXPECT_EQ(p2.messages(0).uid(), 1001u);
  EXPECT_EQ(p2.messages(999).uid(), 2000u);
  auto p3 = MUST(S().FetchPage(r, 2000));
  ASSERT_EQ(p3.messages_size(), 500);
  EXPECT_EQ(p3.messages(0).uid(), 2001u);
  EXPECT_EQ(p3.messages(499).uid(), 2500u);
  EXPECT_EQ(MUST(S().FetchPage(r, 2500)).messages_size(), 0);
  r.set_page_size(0);  // default page size
  EXPECT_EQ(MUST(S().FetchPage(r, 0)).messages_size(), 1000);

  auto all = Fetch(a, inbox);
  EXPECT_EQ(UidsOf(all), Range(1, kCount));
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].modseq(), all[i - 1].modseq());

  // 2:4,10,2495:*  and a reversed range 20:18 and a range past the end.
  std::vector<uint32_t> want = {2, 3, 4, 10, 2495, 2496, 2497, 2498, 2499, 2500};
  EXPECT_EQ(UidsOf(Fetch(a, inbox, Uids({{2, 4}, {10, 10}, {2495, 0}}))), want);
  EXPECT_EQ(UidsOf(Fetch(a, inbox, Uids({{20, 18}}))), Range(18, 20));
  EXPECT_EQ(UidsOf(Fetch(a, inbox, Uids({{2500, 0}}))), std::vector<uint32_t>{2500});
  EXPECT_TRUE(Fetch(a, inbox, Uids({{3000, 4000}})).empty());
  // Overlapping ranges return each message once, ascending.
  EXPECT_EQ(UidsOf(Fetch(a, inbox, Uids({{5, 8}, {1, 6}}))), Range(1, 8));
  // Small pages through a sparse set.
  EXPECT_EQ(UidsOf(MUST(TryFetch(a, inbox, Uids({{2, 4}, {10, 10}, {2495, 0}}), false, 0, 3))), want);

  EXPECT_TRUE(FailsWith(TryFetch(a, inbox, v1::UidSet()), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(TryFetch(a, inbox, Uids({{0, 5}})), ErrorKind::kInvalidInput));
  EXPECT_TRUE(FailsWith(TryFetch(a, 987654321, All()), ErrorKind::kNotFound));
}

TEST_F(PgStoreTest, GetMailboxWithViewGivesUidRunsAndFirstUnseen) {
  uint64_t a = NewAccount("view@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  v1::GetMailboxRequest g;
  g.set_account_id(a);
  g.set_mailbox_id(inbox);
  g.set_with_view(true);
  auto empty = MUST(S().GetMailbox(g));
  EXPECT_EQ(empty.view().ranges_size(), 0);
  EXPECT_EQ(empty.first_unseen_uid(), 0u);
  for (int i = 1; i <= 9; ++i) Put(a, inbox, 100, i <= 4 || i == 6 ? v1::FLAG_SEEN : 0);
  MUST(S().Expunge(ExpungeReq(a, inbox, Uids({{3, 3}, {5, 5}, {9, 9}}), /*force=*/true)));
  auto v = MUST(S().GetMailbox(g));
  // 1 2 4 6 7 8 left; unseen among them: 7 and 8 (5 and 9 are gone).
  ASSERT_EQ(v.view().ranges_size(), 3);
  EXPECT_EQ(v.view().ranges(0).first(), 1u);
  EXPECT_EQ(v.view().ranges(0).last(), 2u);
  EXPECT_EQ(v.view().ranges(1).first(), 4u);
  EXPECT_EQ(v.view().ranges(1).last(), 4u);
  EXPECT_EQ(v.view().ranges(2).first(), 6u);
  EXPECT_EQ(v.view().ranges(2).last(), 8u);
  EXPECT_EQ(v.first_unseen_uid(), 7u);
  g.set_with_view(false);
  EXPECT_EQ(MUST(S().GetMailbox(g)).view().ranges_size(), 0) << "only on request";
}

TEST_F(PgStoreTest, FetchChangedSinceAndParsedFieldsRoundTrip) {
  uint64_t a = NewAccount("p@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  v1::ParsedFields p;
  p.set_envelope("(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"Hi\" NIL NIL NIL NIL NIL NIL NIL \"<x@y>\")");
  p.set_bodystructure("(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL)");
  p.set_body("(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 1)");
  p.set_subject("Gr\xc3\xbc\xc3\x9f" "e");
  p.set_from("Alice <alice@example.com>");
  p.set_to("Bob <bob@example.org>");
  p.set_cc("Carol <carol@example.net>");
  p.set_bcc("Dave <dave@example.net>");
  p.set_message_id("<x@y>");
  p.set_in_reply_to("<w@y>");
  p.set_references("<v@y> <w@y>");
  p.set_sent_unix(1704067200);
  p.set_headers("Subject: Hi\r\nMessage-ID: <x@y>\r\n\r\n");
  p.set_header_size(static_cast<uint32_t>(p.headers().size()));
  p.set_body_text("hello");
  p.set_part_offsets(std::string("\x00\x01\x02\xff", 4));

  for (int i = 0; i < 5; ++i) {
    auto req = AppendReq(a, inbox, 100);
    if (i == 2) *req.mutable_parsed() = p;
    MUST(S().Append(req));
  }
  auto with = Fetch(a, inbox, One(3), /*with_parsed=*/true);
  ASSERT_EQ(with.size(), 1u);
  EXPECT_EQ(with[0].parsed().SerializeAsString(), p.SerializeAsString());
  EXPECT_EQ(with[0].parsed().subject(), p.subject());
  EXPECT_EQ(with[0].parsed().part_offsets(), p.part_offsets());
  auto without = Fetch(a, inbox, One(3));
  EXPECT_FALSE(without[0].has_parsed());
  // without_text: everything but the bulky body text and raw header block.
  v1::FetchRequest lean;
  lean.set_account_id(a);
  lean.set_mailbox_id(inbox);
  *lean.mutable_uids() = One(3);
  lean.set_with_parsed(true);
  lean.set_without_text(true);
  auto page = MUST(S().FetchPage(lean, 0));
  ASSERT_EQ(page.messages_size(), 1);
  v1::ParsedFields expect = p;
  expect.clear_body_text();
  expect.clear_headers();
  EXPECT_EQ(page.messages(0).parsed().SerializeAsString(), expect.SerializeAsString());
  EXPECT_EQ(page.messages(0).parsed().envelope(), p.envelope());

  uint64_t hm = Mailbox(a, inbox).highestmodseq();
  auto st = Store(a, inbox, Uids({{2, 2}, {4, 4}}), v1::STORE_ADD, v1::FLAG_SEEN);
  auto changed = Fetch(a, inbox, All(), false, /*changed_since=*/hm);
  EXPECT_EQ(UidsOf(changed), (std::vector<uint32_t>{2, 4}));
  for (const auto& m : changed) {
    EXPECT_GT(m.modseq(), hm);
    EXPECT_EQ(m.modseq(), st.highestmodseq());
  }
  EXPECT_EQ(Fetch(a, inbox, All(), false, /*changed_since=*/0).size(), 5u) << "0 = no CHANGEDSINCE";
  EXPECT_TRUE(Fetch(a, inbox, All(), false, st.highestmodseq()).empty());
  EXPECT_EQ(UidsOf(Fetch(a, inbox, Uids({{3, 0}}), false, hm)), std::vector<uint32_t>{4});
}

// ------------------------------------------------------------ store

TEST_F(PgStoreTest, StoreFlagsChangesOnlyWhatDiffersAndBumpsModseqOnlyThere) {
  uint64_t a = NewAccount("s@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  for (int i = 0; i < 5; ++i) Put(a, inbox);
  auto modseqs = [&] {
    std::map<uint32_t, uint64_t> m;
    for (const auto& x : Fetch(a, inbox)) m[x.uid()] = x.modseq();
    return m;
  };

  uint64_t hm0 = Mailbox(a, inbox).highestmodseq();
  auto r = Store(a, inbox, Uids({{1, 3}}), v1::STORE_ADD, v1::FLAG_SEEN);
  EXPECT_EQ(UidsOf({r.updated().begin(), r.updated().end()}), Range(1, 3));
  EXPECT_GT(r.highestmodseq(), hm0);
  for (const auto& m : r.updated()) {
    EXPECT_EQ(m.flags(), uint32_t{v1::FLAG_SEEN});
    EXPECT_EQ(m.modseq(), r.highestmodseq());
  }
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), r.highestmodseq());

  auto before = modseqs();
  auto r2 = Store(a, inbox, All(), v1::STORE_ADD, v1::FLAG_SEEN);
  EXPECT_EQ(UidsOf({r2.updated().begin(), r2.updated().end()}), (std::vector<uint32_t>{4, 5}));
  EXPECT_GT(r2.highestmodseq(), r.highestmodseq());
  auto after = modseqs();
  for (uint32_t u : {1u, 2u, 3u}) EXPECT_EQ(after[u], before[u]) << "unchanged message " << u << " kept its MODSEQ";
  for (uint32_t u : {4u, 5u}) EXPECT_EQ(after[u], r2.highestmodseq());

  // A STORE that changes nothing changes no MODSEQ at all.
  auto r3 = Store(a, inbox, All(), v1::STORE_ADD, v1::FLAG_SEEN);
  EXPECT_EQ(r3.updated_size(), 0);
  EXPECT_EQ(r3.highestmodseq(), r2.highestmodseq());
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), r2.highestmodseq());
  EXPECT_EQ(modseqs(), after);

  auto r4 = Store(a, inbox, One(2), v1::STORE_REMOVE, v1::FLAG_SEEN);
  ASSERT_EQ(r4.updated_size(), 1);
  EXPECT_EQ(r4.updated(0).uid(), 2u);
  EXPECT_EQ(r4.updated(0).flags(), 0u);
  EXPECT_EQ(Mailbox(a, inbox).unseen(), 1u);

  auto r5 = Store(a, inbox, One(1), v1::STORE_REPLACE, v1::FLAG_FLAGGED | v1::FLAG_ANSWERED);
  ASSERT_EQ(r5.updated_size(), 1);
  EXPECT_EQ(FetchOne(a, inbox, 1).flags(), uint32_t{v1::FLAG_FLAGGED | v1::FLAG_ANSWERED});
  EXPECT_EQ(Store(a, inbox, One(1), v1::STORE_REPLACE, v1::FLAG_FLAGGED | v1::FLAG_ANSWERED).updated_size(), 0);
  EXPECT_EQ(FetchOne(a, inbox, 3).flags(), uint32_t{v1::FLAG_SEEN}) << "untouched by the REPLACE on 1";

  // Keywords.
  auto k1 = Store(a, inbox, Uids({{1, 2}}), v1::STORE_ADD, 0, {"$Label1", "Work"});
  EXPECT_EQ(k1.updated_size(), 2);
  EXPECT_EQ(Keywords(FetchOne(a, inbox, 1)), (std::vector<std::string>{"$Label1", "Work"}));
  EXPECT_EQ(FetchOne(a, inbox, 1).flags(), uint32_t{v1::FLAG_FLAGGED | v1::FLAG_ANSWERED}) << "flags kept";
  uint64_t hm = Mailbox(a, inbox).highestmodseq();
  EXPECT_EQ(Store(a, inbox, Uids({{1, 2}}), v1::STORE_ADD, 0, {"Work"}).updated_size(), 0);
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), hm);
  auto k2 = Store(a, inbox, All(), v1::STORE_REMOVE, 0, {"$Label1"});
  EXPECT_EQ(UidsOf({k2.updated().begin(), k2.updated().end()}), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(Keywords(FetchOne(a, inbox, 2)), std::vector<std::string>{"Work"});
  auto k3 = Store(a, inbox, One(3), v1::STORE_REPLACE, v1::FLAG_SEEN, {"b", "a"});
  ASSERT_EQ(k3.updated_size(), 1);
  EXPECT_EQ(Keywords(k3.updated(0)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Store(a, inbox, One(3), v1::STORE_REPLACE, v1::FLAG_SEEN, {"a", "b"}).updated_size(), 0);
  auto k4 = Store(a, inbox, One(3), v1::STORE_REPLACE, v1::FLAG_SEEN);
  ASSERT_EQ(k4.updated_size(), 1);
  EXPECT_TRUE(Keywords(FetchOne(a, inbox, 3)).empty());

  // Invalid keywords are refused and change nothing.
  auto snapshot = Fetch(a, inbox);
  hm = Mailbox(a, inbox).highestmodseq();
  for (const char* bad : {"\\Seen", "two words", "paren(", "", "quote\""})
    EXPECT_TRUE(FailsWith(S().StoreFlags(StoreReq(a, inbox, All(), v1::STORE_ADD, 0, {bad})), ErrorKind::kInvalidInput))
        << bad;
  EXPECT_TRUE(FailsWith(S().StoreFlags(StoreReq(a, inbox, v1::UidSet(), v1::STORE_ADD, v1::FLAG_SEEN)),
                        ErrorKind::kInvalidInput));
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), hm);
  auto now = Fetch(a, inbox);
  ASSERT_EQ(now.size(), snapshot.size());
  for (size_t i = 0; i < now.size(); ++i) EXPECT_EQ(now[i].SerializeAsString(), snapshot[i].SerializeAsString());

  // UIDs that do not exist: nothing to do, no error.
  EXPECT_EQ(Store(a, inbox, Uids({{100, 200}}), v1::STORE_ADD, v1::FLAG_DELETED).updated_size(), 0);
}

TEST_F(PgStoreTest, StoreUnchangedSinceReportsModifiedAndLeavesThemAlone) {
  uint64_t a = NewAccount("u@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  for (int i = 0; i < 4; ++i) Put(a, inbox);
  // The client last saw the mailbox at `seen`; then another session changes 2 and 4.
  uint64_t seen = Mailbox(a, inbox).highestmodseq();
  Store(a, inbox, One(2), v1::STORE_ADD, v1::FLAG_FLAGGED);
  Store(a, inbox, One(4), v1::STORE_ADD, 0, {"Other"});
  auto m2 = FetchOne(a, inbox, 2), m4 = FetchOne(a, inbox, 4);

  auto r = Store(a, inbox, Uids({{1, 4}}), v1::STORE_ADD, v1::FLAG_DELETED, {}, /*unchanged_since=*/seen);
  EXPECT_EQ(Vec(r.failed_uids()), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(UidsOf({r.updated().begin(), r.updated().end()}), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(FetchOne(a, inbox, 2).SerializeAsString(), m2.SerializeAsString());
  EXPECT_EQ(FetchOne(a, inbox, 4).SerializeAsString(), m4.SerializeAsString());
  EXPECT_EQ(FetchOne(a, inbox, 1).flags(), uint32_t{v1::FLAG_DELETED});
  EXPECT_EQ(FetchOne(a, inbox, 3).flags(), uint32_t{v1::FLAG_DELETED});

  // With the current modseq everything passes.
  uint64_t cur = Mailbox(a, inbox).highestmodseq();
  auto r2 = Store(a, inbox, Uids({{1, 4}}), v1::STORE_ADD, v1::FLAG_SEEN, {}, cur);
  EXPECT_EQ(r2.failed_uids_size(), 0);
  EXPECT_EQ(r2.updated_size(), 4);
}

// Keyword lists are compared and sorted in SQL; under a non-C collation (what a
// default Debian cluster uses) a STORE that adds a keyword already present must still
// be a no-op, and REPLACE with the same set too.
TEST(PgStoreCollation, NoOpKeywordStoreUnderIcuCollationKeepsModseq) {
  TestDatabase db("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
  MUST(ApplyMigrations(db.uri()));
  PgStore store(std::make_shared<ConnectionPool>(db.uri(), 2));
  v1::EnsureAccountRequest ea;
  ea.set_address("c@example.com");
  uint64_t a = MUST(store.EnsureAccount(ea)).account().account_id();
  v1::GetMailboxRequest gm;
  gm.set_account_id(a);
  gm.set_name("INBOX");
  uint64_t inbox = MUST(store.GetMailbox(gm)).mailbox().mailbox_id();
  v1::AppendRequest ap;
  ap.set_account_id(a);
  ap.set_mailbox_id(inbox);
  ap.set_blob_id(BlobId(1));
  ap.set_size(1);
  ap.add_keywords("bar");
  ap.add_keywords("Foo");
  MUST(store.Append(ap));
  auto store_kw = [&](v1::StoreMode mode, std::vector<std::string> kws) {
    v1::StoreFlagsRequest r;
    r.set_account_id(a);
    r.set_mailbox_id(inbox);
    *r.mutable_uids() = One(1);
    r.set_mode(mode);
    for (auto& k : kws) r.add_keywords(k);
    return MUST(store.StoreFlags(r));
  };
  EXPECT_EQ(store_kw(v1::STORE_ADD, {"bar"}).updated_size(), 0) << "adding a present keyword changes nothing";
  EXPECT_EQ(store_kw(v1::STORE_REPLACE, {"Foo", "bar"}).updated_size(), 0) << "same set, same message";
  EXPECT_EQ(store_kw(v1::STORE_ADD, {"baz"}).updated_size(), 1);
  EXPECT_EQ(store_kw(v1::STORE_ADD, {"Foo"}).updated_size(), 0);
  EXPECT_EQ(store_kw(v1::STORE_REMOVE, {"nothere"}).updated_size(), 0);
}

// ------------------------------------------------------------ copy, move

TEST_F(PgStoreTest, CopyAndMoveReportCopyUidAndKeepMetadata) {
  uint64_t a = NewAccount("c@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  auto dest = Create(a, "Dest");
  Put(a, inbox, 100, v1::FLAG_SEEN, {"Work"});
  Put(a, inbox, 200, v1::FLAG_FLAGGED);
  Put(a, inbox, 300);
  auto src_before = Fetch(a, inbox);

  auto c1 = MUST(S().CopyMessages(CopyReq(a, inbox, Uids({{1, 2}}), dest.mailbox_id(), false)));
  EXPECT_EQ(c1.dest_uidvalidity(), dest.uidvalidity());
  EXPECT_EQ(Vec(c1.source_uids()), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(Vec(c1.dest_uids()), (std::vector<uint32_t>{1, 2}));
  auto copied = Fetch(a, dest.mailbox_id());
  ASSERT_EQ(copied.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(copied[i].flags(), src_before[i].flags());
    EXPECT_EQ(Keywords(copied[i]), Keywords(src_before[i]));
    EXPECT_EQ(copied[i].size(), src_before[i].size());
    EXPECT_EQ(copied[i].blob_id(), src_before[i].blob_id());
    EXPECT_EQ(copied[i].email_id(), src_before[i].email_id()) << "same email across copies";
    EXPECT_EQ(copied[i].internal_date_unix(), src_before[i].internal_date_unix());
  }
  EXPECT_EQ(Quota(a).message_used(), 5u);
  EXPECT_EQ(Quota(a).storage_used(), 900u);
  auto dmb = Mailbox(a, dest.mailbox_id());
  EXPECT_EQ(dmb.uidnext(), 3u);
  EXPECT_EQ(dmb.highestmodseq(), copied[1].modseq());
  // The source is untouched by COPY.
  auto src_now = Fetch(a, inbox);
  ASSERT_EQ(src_now.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(src_now[i].SerializeAsString(), src_before[i].SerializeAsString());

  auto c2 = MUST(S().CopyMessages(CopyReq(a, inbox, Uids({{3, 2}}), dest.mailbox_id(), false)));
  EXPECT_EQ(Vec(c2.source_uids()), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(Vec(c2.dest_uids()), (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(FetchOne(a, dest.mailbox_id(), 4).size(), 300u) << "dest uid 4 is the copy of source uid 3";

  // MOVE: copy + expunge in one transaction, tombstone in the source.
  uint64_t src_hm = Mailbox(a, inbox).highestmodseq();
  auto q = Quota(a);
  auto mv = MUST(S().CopyMessages(CopyReq(a, inbox, One(1), dest.mailbox_id(), true)));
  EXPECT_EQ(Vec(mv.source_uids()), std::vector<uint32_t>{1});
  EXPECT_EQ(Vec(mv.dest_uids()), std::vector<uint32_t>{5});
  EXPECT_EQ(UidsOf(Fetch(a, inbox)), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(FetchOne(a, dest.mailbox_id(), 5).blob_id(), src_before[0].blob_id());
  EXPECT_EQ(Quota(a).SerializeAsString(), q.SerializeAsString()) << "MOVE does not change usage";
  auto ch = Changes(a, inbox, src_hm);
  EXPECT_EQ(Vec(ch.expunged_uids()), std::vector<uint32_t>{1});
  EXPECT_GT(ch.highestmodseq(), src_hm);
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), ch.highestmodseq());
  EXPECT_EQ(ch.messages(), 2u);

  // Copy into the same mailbox (IMAP allows it): new UIDs.
  auto self = MUST(S().CopyMessages(CopyReq(a, inbox, All(), inbox, false)));
  EXPECT_EQ(Vec(self.dest_uids()), (std::vector<uint32_t>{4, 5}));
  EXPECT_EQ(UidsOf(Fetch(a, inbox)), (std::vector<uint32_t>{2, 3, 4, 5}));
  EXPECT_TRUE(FailsWith(S().CopyMessages(CopyReq(a, inbox, All(), inbox, true)), ErrorKind::kInvalidInput));

  // Nothing matched: an empty COPYUID, but still the destination's UIDVALIDITY.
  auto none = MUST(S().CopyMessages(CopyReq(a, inbox, Uids({{500, 600}}), dest.mailbox_id(), false)));
  EXPECT_EQ(none.source_uids_size(), 0);
  EXPECT_EQ(none.dest_uidvalidity(), dest.uidvalidity());
  EXPECT_TRUE(FailsWith(S().CopyMessages(CopyReq(a, inbox, All(), 987654321, false)), ErrorKind::kNotFound));
}

TEST_F(PgStoreTest, CopyOverQuotaCopiesNothing) {
  uint64_t a = NewAccount("cq@example.com", /*storage_limit=*/1000, /*message_limit=*/10);
  uint64_t inbox = MailboxId(a, "INBOX");
  uint64_t archive = MailboxId(a, "Archive");
  Put(a, inbox, 300);
  Put(a, inbox, 300);
  auto q = Quota(a);
  auto amb = Mailbox(a, archive);
  EXPECT_TRUE(FailsWith(S().CopyMessages(CopyReq(a, inbox, All(), archive, false)), ErrorKind::kQuotaExceeded));
  EXPECT_EQ(Quota(a).SerializeAsString(), q.SerializeAsString());
  EXPECT_EQ(Mailbox(a, archive).SerializeAsString(), amb.SerializeAsString());
  EXPECT_TRUE(Fetch(a, archive).empty());
  // MOVE needs no extra quota.
  auto mv = MUST(S().CopyMessages(CopyReq(a, inbox, All(), archive, true)));
  EXPECT_EQ(mv.dest_uids_size(), 2);
  EXPECT_EQ(Quota(a).SerializeAsString(), q.SerializeAsString());
  // A copy that fits.
  EXPECT_EQ(MUST(S().CopyMessages(CopyReq(a, archive, One(1), inbox, false))).dest_uids_size(), 1);
  EXPECT_EQ(Quota(a).storage_used(), 900u);
  EXPECT_EQ(Quota(a).message_used(), 3u);
}

// ------------------------------------------------------------ expunge, changes

TEST_F(PgStoreTest, ExpungeRemovesDeletedAndChangesReportsVanished) {
  uint64_t a = NewAccount("e@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  for (int i = 0; i < 6; ++i) Put(a, inbox, 100);
  uint64_t s0 = Mailbox(a, inbox).highestmodseq();
  Store(a, inbox, Uids({{2, 2}, {4, 4}}), v1::STORE_ADD, v1::FLAG_DELETED);
  EXPECT_EQ(Mailbox(a, inbox).deleted(), 2u);

  auto e1 = MUST(S().Expunge(ExpungeReq(a, inbox)));
  EXPECT_EQ(Vec(e1.expunged_uids()), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), e1.highestmodseq());
  EXPECT_EQ(UidsOf(Fetch(a, inbox)), (std::vector<uint32_t>{1, 3, 5, 6}));
  EXPECT_EQ(Quota(a).message_used(), 4u);
  EXPECT_EQ(Quota(a).storage_used(), 400u);
  EXPECT_EQ(Mailbox(a, inbox).deleted(), 0u);

  // UID EXPUNGE: only the given UIDs, and only when \Deleted.
  Store(a, inbox, Uids({{1, 1}, {3, 3}}), v1::STORE_ADD, v1::FLAG_DELETED);
  auto e2 = MUST(S().Expunge(ExpungeReq(a, inbox, Uids({{3, 5}}))));
  EXPECT_EQ(Vec(e2.expunged_uids()), std::vector<uint32_t>{3});
  EXPECT_GT(e2.highestmodseq(), e1.highestmodseq());
  EXPECT_EQ(UidsOf(Fetch(a, inbox)), (std::vector<uint32_t>{1, 5, 6}));
  // force: without \Deleted (MOVE, POP3 DELE).
  auto e3 = MUST(S().Expunge(ExpungeReq(a, inbox, One(5), /*force=*/true)));
  EXPECT_EQ(Vec(e3.expunged_uids()), std::vector<uint32_t>{5});
  // Nothing to expunge: no change, no MODSEQ.
  auto e4 = MUST(S().Expunge(ExpungeReq(a, inbox, One(6))));
  EXPECT_EQ(e4.expunged_uids_size(), 0);
  EXPECT_EQ(e4.highestmodseq(), e3.highestmodseq());
  EXPECT_EQ(Mailbox(a, inbox).highestmodseq(), e3.highestmodseq());
  EXPECT_EQ(UidsOf(Fetch(a, inbox)), (std::vector<uint32_t>{1, 6}));
  EXPECT_EQ(Mailbox(a, inbox).uidnext(), 7u) << "expunged UIDs are never reused";
  EXPECT_EQ(Put(a, inbox).uid(), 7u);
  uint64_t hm = Mailbox(a, inbox).highestmodseq();

  // QRESYNC: everything since s0.
  auto c0 = Changes(a, inbox, s0);
  EXPECT_EQ(Vec(c0.expunged_uids()), (std::vector<uint32_t>{2, 3, 4, 5}));
  EXPECT_EQ(UidsOf({c0.changed().begin(), c0.changed().end()}), (std::vector<uint32_t>{1, 7}));
  EXPECT_EQ(c0.highestmodseq(), hm);
  EXPECT_EQ(c0.uidnext(), 8u);
  EXPECT_EQ(c0.messages(), 3u);
  // Tombstones carry the modseq of their expunge: since e1 only 3 and 5 vanished.
  auto c1 = Changes(a, inbox, e1.highestmodseq());
  EXPECT_EQ(Vec(c1.expunged_uids()), (std::vector<uint32_t>{3, 5}));
  auto c2 = Changes(a, inbox, e2.highestmodseq());
  EXPECT_EQ(Vec(c2.expunged_uids()), std::vector<uint32_t>{5});
  EXPECT_EQ(UidsOf({c2.changed().begin(), c2.changed().end()}), std::vector<uint32_t>{7});
  auto c3 = Changes(a, inbox, hm);
  EXPECT_EQ(c3.expunged_uids_size(), 0);
  EXPECT_EQ(c3.changed_size(), 0);
  // From 0: every message, all tombstones.
  auto call = Changes(a, inbox, 0);
  EXPECT_EQ(call.changed_size(), 3);
  EXPECT_EQ(call.expunged_uids_size(), 4);
  // The changed list is ordered by modseq, so a paged resync can resume.
  for (int i = 1; i < call.changed_size(); ++i) EXPECT_LE(call.changed(i - 1).modseq(), call.changed(i).modseq());
}

// Migration v6: texts live once per email_id in message_texts, shared by copies,
// and go with the last message that names them, whichever way it goes.
TEST_F(PgStoreTest, CopiesShareTheirTextsAndTheLastMessageTakesThemAlong) {
  uint64_t a = NewAccount("texts@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  auto texts = [&] {
    pqxx::connection c(db_->uri());
    pqxx::nontransaction n(c);
    return n.exec_params1("SELECT count(*) FROM message_texts WHERE account_id = $1", a)[0].as<int>();
  };
  auto subject_in = [&](uint64_t mailbox) {
    v1::SearchKey k;
    k.set_subject("QUARTERLY");
    return SearchUids(a, mailbox, {k});
  };
  auto req = AppendReq(a, inbox, 100);
  req.mutable_parsed()->set_subject("Quarterly report");
  req.mutable_parsed()->set_body_text("the numbers are in");
  MUST(S().Append(req));
  Put(a, inbox);  // uid 2: a message of its own
  EXPECT_EQ(texts(), 2);

  uint64_t arch = Create(a, "Arch").mailbox_id();
  MUST(S().CopyMessages(CopyReq(a, inbox, One(1), arch, false)));
  EXPECT_EQ(texts(), 2) << "a copy shares its original's texts";
  EXPECT_EQ(subject_in(arch), std::vector<uint32_t>{1});
  auto copy = Fetch(a, arch, All(), /*with_parsed=*/true);
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0].parsed().subject(), "Quarterly report");
  EXPECT_EQ(copy[0].parsed().body_text(), "the numbers are in");

  MUST(S().Expunge(ExpungeReq(a, inbox, One(1), /*force=*/true)));
  EXPECT_EQ(texts(), 2) << "the copy in Arch still names them";
  EXPECT_EQ(Fetch(a, arch, All(), true)[0].parsed().subject(), "Quarterly report");

  MUST(S().CopyMessages(CopyReq(a, arch, One(1), inbox, /*move=*/true)));
  EXPECT_EQ(texts(), 2) << "MOVE keeps them";
  EXPECT_EQ(subject_in(inbox), std::vector<uint32_t>{3});
  EXPECT_TRUE(subject_in(arch).empty());

  MUST(S().CopyMessages(CopyReq(a, inbox, One(3), arch, false)));
  MUST(S().Expunge(ExpungeReq(a, inbox, One(3), true)));
  EXPECT_EQ(texts(), 2);
  v1::DeleteMailboxRequest d;
  d.set_account_id(a);
  d.set_name("Arch");
  MUST(S().DeleteMailbox(d));
  EXPECT_EQ(texts(), 1) << "deleting the mailbox with the last copy drops the texts";
  MUST(S().Expunge(ExpungeReq(a, inbox, One(2), true)));
  EXPECT_EQ(texts(), 0);
}

// ------------------------------------------------------------ mailboxes

TEST_F(PgStoreTest, CreateMakesParentsAndRefusesDuplicates) {
  uint64_t a = NewAccount("m@example.com");
  auto c = Create(a, "a/b/c", v1::SPECIAL_USE_NONE, /*subscribe=*/true);
  EXPECT_EQ(c.name(), "a/b/c");
  EXPECT_EQ(c.uidnext(), 1u);
  EXPECT_TRUE(c.subscribed());
  auto boxes = List(a);
  ASSERT_TRUE(boxes.count("a"));
  ASSERT_TRUE(boxes.count("a/b"));
  ASSERT_TRUE(boxes.count("a/b/c"));
  EXPECT_TRUE(boxes["a"].has_children());
  EXPECT_TRUE(boxes["a/b"].has_children());
  EXPECT_FALSE(boxes["a/b/c"].has_children());
  EXPECT_FALSE(boxes["a"].subscribed()) << "auto-created parents are not subscribed";
  EXPECT_TRUE(boxes["a/b/c"].subscribed());

  v1::CreateMailboxRequest r;
  r.set_account_id(a);
  r.set_name("a/b/c");
  EXPECT_TRUE(FailsWith(S().CreateMailbox(r), ErrorKind::kAlreadyExists));
  r.set_name("a");
  EXPECT_TRUE(FailsWith(S().CreateMailbox(r), ErrorKind::kAlreadyExists));
  r.set_name("inbox");
  EXPECT_TRUE(FailsWith(S().CreateMailbox(r), ErrorKind::kAlreadyExists));
  r.set_name("x//y");
  EXPECT_TRUE(FailsWith(S().CreateMailbox(r), ErrorKind::kInvalidInput));
  r.set_name("ok");
  r.set_account_id(987654321);
  EXPECT_TRUE(FailsWith(S().CreateMailbox(r), ErrorKind::kNotFound));

  auto inbox_child = Create(a, "Inbox/Lists");
  EXPECT_EQ(inbox_child.name(), "INBOX/Lists");
  EXPECT_TRUE(List(a)["INBOX"].has_children());
  auto flagged = Create(a, "Important", v1::SPECIAL_USE_FLAGGED);
  EXPECT_EQ(flagged.special_use(), v1::SPECIAL_USE_FLAGGED);
  EXPECT_EQ(List(a)["Important"].special_use(), v1::SPECIAL_USE_FLAGGED);
  // A "prefix" that is not a hierarchy parent does not count as a child.
  Create(a, "ab");
  EXPECT_FALSE(List(a)["ab"].has_children());

  // UIDVALIDITY: fixed for a mailbox's life, different for a re-created name.
  uint64_t id = c.mailbox_id();
  uint32_t uv = c.uidvalidity();
  v1::DeleteMailboxRequest d;
  d.set_account_id(a);
  d.set_name("a/b/c");
  MUST(S().DeleteMailbox(d));
  auto again = Create(a, "a/b/c");
  EXPECT_NE(again.mailbox_id(), id);
  EXPECT_NE(again.uidvalidity(), uv) << "a re-created mailbox must not repeat the old UIDVALIDITY";
}

TEST_F(PgStoreTest, RenameMovesChildrenAndKeepsIdentity) {
  uint64_t a = NewAccount("r@example.com");
  auto c = Create(a, "a/b/c");
  uint64_t b_id = MailboxId(a, "a/b");
  uint32_t b_uv = Mailbox(a, b_id).uidvalidity();
  Put(a, c.mailbox_id(), 123);

  v1::RenameMailboxRequest r;
  r.set_account_id(a);
  r.set_old_name("a/b");
  r.set_new_name("x/y");
  auto renamed = MUST(S().RenameMailbox(r));
  EXPECT_EQ(renamed.mailbox().name(), "x/y");
  EXPECT_EQ(renamed.mailbox().mailbox_id(), b_id);
  EXPECT_EQ(renamed.mailbox().uidvalidity(), b_uv);
  auto boxes = List(a);
  EXPECT_TRUE(boxes.count("x"));
  EXPECT_TRUE(boxes.count("x/y"));
  EXPECT_TRUE(boxes.count("x/y/c"));
  EXPECT_FALSE(boxes.count("a/b"));
  EXPECT_FALSE(boxes.count("a/b/c"));
  EXPECT_TRUE(boxes.count("a")) << "the old parent stays";
  EXPECT_FALSE(boxes["a"].has_children());
  EXPECT_EQ(boxes["x/y/c"].mailbox_id(), c.mailbox_id());
  EXPECT_EQ(boxes["x/y/c"].messages(), 1u) << "messages travel with the mailbox";
  EXPECT_EQ(Fetch(a, c.mailbox_id()).size(), 1u);

  r.set_old_name("a");
  r.set_new_name("x");
  EXPECT_TRUE(FailsWith(S().RenameMailbox(r), ErrorKind::kAlreadyExists));
  r.set_old_name("x");
  r.set_new_name("x/y/z");
  EXPECT_TRUE(FailsWith(S().RenameMailbox(r), ErrorKind::kInvalidInput));
  r.set_old_name("nope");
  r.set_new_name("n");
  EXPECT_TRUE(FailsWith(S().RenameMailbox(r), ErrorKind::kNotFound));
  EXPECT_EQ(List(a).size(), boxes.size());
}

TEST_F(PgStoreTest, RenameInboxMovesItsMessagesAndLeavesItEmpty) {
  uint64_t a = NewAccount("ri@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  Create(a, "INBOX/child");
  uint32_t inbox_uv = Mailbox(a, inbox).uidvalidity();
  Put(a, inbox, 100, 1 /* \Seen */, {"work"});
  Put(a, inbox, 200);
  auto before = Quota(a);

  v1::RenameMailboxRequest r;
  r.set_account_id(a);
  r.set_old_name("inbox");
  r.set_new_name("Old/Mail");
  auto renamed = MUST(S().RenameMailbox(r));
  EXPECT_EQ(renamed.mailbox().name(), "Old/Mail");
  EXPECT_NE(renamed.mailbox().mailbox_id(), inbox);

  auto moved = Fetch(a, renamed.mailbox().mailbox_id());
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].uid(), 1u);
  EXPECT_EQ(moved[0].flags(), 1u);
  ASSERT_EQ(moved[0].keywords_size(), 1);
  EXPECT_EQ(moved[0].keywords(0), "work");
  EXPECT_EQ(moved[1].size(), 200u);

  auto now_inbox = Mailbox(a, inbox);
  EXPECT_EQ(now_inbox.name(), "INBOX");
  EXPECT_EQ(now_inbox.messages(), 0u);
  EXPECT_EQ(now_inbox.uidvalidity(), inbox_uv) << "INBOX keeps its identity";
  EXPECT_EQ(now_inbox.uidnext(), 3u) << "UIDs are never reused";
  auto boxes = List(a);
  EXPECT_TRUE(boxes.count("INBOX/child")) << "INBOX's children are not renamed";
  EXPECT_TRUE(boxes.count("Old"));
  auto after = Quota(a);
  EXPECT_EQ(after.storage_used(), before.storage_used()) << "a move changes no usage";
  EXPECT_EQ(after.message_used(), before.message_used());

  r.set_new_name("Old/Mail");
  EXPECT_TRUE(FailsWith(S().RenameMailbox(r), ErrorKind::kAlreadyExists));
}

TEST_F(PgStoreTest, DeleteRefusesInboxAndParentsAndFreesQuota) {
  uint64_t a = NewAccount("d@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  auto leaf = Create(a, "p/leaf");
  Put(a, inbox, 50);
  Put(a, leaf.mailbox_id(), 100);
  Put(a, leaf.mailbox_id(), 200, v1::FLAG_DELETED);
  EXPECT_EQ(Quota(a).storage_used(), 350u);

  v1::DeleteMailboxRequest d;
  d.set_account_id(a);
  d.set_name("p");
  EXPECT_TRUE(FailsWith(S().DeleteMailbox(d), ErrorKind::kConflict)) << "has children";
  EXPECT_TRUE(TryMailbox(a, "p").has_value());
  d.set_name("inbox");
  EXPECT_FALSE(S().DeleteMailbox(d).has_value());
  d.set_name("INBOX");
  EXPECT_FALSE(S().DeleteMailbox(d).has_value());
  EXPECT_EQ(Fetch(a, inbox).size(), 1u) << "INBOX survives";

  d.set_name("p/leaf");
  MUST(S().DeleteMailbox(d));
  EXPECT_TRUE(FailsWith(TryMailbox(a, "p/leaf"), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(TryFetch(a, leaf.mailbox_id(), All()), ErrorKind::kNotFound));
  EXPECT_EQ(Quota(a).storage_used(), 50u);
  EXPECT_EQ(Quota(a).message_used(), 1u);
  EXPECT_FALSE(List(a)["p"].has_children());
  d.set_name("p");
  MUST(S().DeleteMailbox(d));
  EXPECT_TRUE(FailsWith(S().DeleteMailbox(d), ErrorKind::kNotFound));
  // Special-use mailboxes may be deleted (and re-created).
  d.set_name("Junk");
  MUST(S().DeleteMailbox(d));
  EXPECT_FALSE(List(a).count("Junk"));
}

TEST_F(PgStoreTest, SubscriptionsAndCounts) {
  uint64_t a = NewAccount("l@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  Create(a, "Lists");
  Put(a, inbox, 100, v1::FLAG_SEEN);
  Put(a, inbox, 200, v1::FLAG_DELETED);
  Put(a, inbox, 300, v1::FLAG_SEEN | v1::FLAG_DELETED);
  Put(a, inbox, 400);

  v1::SubscribeRequest s;
  s.set_account_id(a);
  s.set_name("Lists");
  s.set_subscribed(true);
  MUST(S().Subscribe(s));
  s.set_name("Junk");
  s.set_subscribed(false);
  MUST(S().Subscribe(s));
  s.set_name("Nope");
  s.set_subscribed(true);
  EXPECT_TRUE(FailsWith(S().Subscribe(s), ErrorKind::kNotFound));

  auto subs = List(a, /*subscribed_only=*/true);
  std::vector<std::string> names;
  for (const auto& [n, mb] : subs) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Lists", "Sent", "Trash"}));

  auto all = List(a, false, /*with_counts=*/true);
  EXPECT_EQ(all.size(), 7u);
  const auto& in = all["INBOX"];
  EXPECT_EQ(in.messages(), 4u);
  EXPECT_EQ(in.unseen(), 2u);
  EXPECT_EQ(in.size(), 1000u);
  EXPECT_EQ(in.deleted(), 2u);
  EXPECT_EQ(in.uidnext(), 5u);
  EXPECT_EQ(all["Lists"].messages(), 0u);
  auto viaget = Mailbox(a, inbox);
  EXPECT_EQ(viaget.messages(), 4u);
  EXPECT_EQ(viaget.unseen(), 2u);
  EXPECT_EQ(viaget.size(), 1000u);
  EXPECT_EQ(viaget.deleted(), 2u);
}

// ------------------------------------------------------------ search

TEST_F(PgStoreTest, SearchMatchesCachedFields) {
  uint64_t a = NewAccount("find@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  struct M {
    v1::ParsedFields p;
    uint64_t size;
    uint32_t flags;
    std::vector<std::string> kw;
    int64_t date;
  };
  std::vector<M> ms = {
      {Parsed("Quarterly report", "Alice <alice@example.com>", "numbers look good", "X-Spam-Flag: NO\r\n"), 1000,
       v1::FLAG_SEEN, {"$Work"}, 1700000000},
      {Parsed("Lunch?", "Bob <bob@example.org>", "pizza at noon",
              "X-Spam-Flag: YES\r\nX-Long: first\r\n folded-value\r\n"),
       200, v1::FLAG_FLAGGED, {}, 1700100000},
      {Parsed("Re: Quarterly REPORT", "Carol <carol@example.net>", "see attached"), 5000, 0, {"$Work", "Later"},
       1700200000},
      {Parsed("Gr\xc3\xbc\xc3\x9f" "e", "Dieter <d@example.de>", "Viele Gr\xc3\xbc\xc3\x9f" "e aus Berlin"), 50,
       v1::FLAG_SEEN | v1::FLAG_DELETED, {}, 1700300000},
  };
  for (auto& m : ms) {
    auto req = AppendReq(a, inbox, m.size, m.flags, m.kw);
    *req.mutable_parsed() = m.p;
    req.set_internal_date_unix(m.date);
    MUST(S().Append(req));
  }
  auto key = [](auto setter) {
    v1::SearchKey k;
    setter(k);
    return k;
  };
  using V = std::vector<uint32_t>;
  auto q = [&](std::vector<v1::SearchKey> keys) { return SearchUids(a, inbox, std::move(keys)); };

  EXPECT_EQ(q({}), (V{1, 2, 3, 4})) << "no keys = ALL";
  EXPECT_EQ(q({key([](auto& k) { k.set_subject("quarterly"); })}), (V{1, 3}));
  // UTF-8 text matches as a substring. (Case folding beyond ASCII depends on the
  // database's LC_CTYPE: the test cluster is initdb --locale=C, so it is not asserted.)
  EXPECT_EQ(q({key([](auto& k) { k.set_subject("r\xc3\xbc\xc3\x9f"); })}), (V{4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_body("GR\xc3\xbc\xc3\x9f" "E AUS"); })}), (V{4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_from("ALICE"); })}), (V{1}));
  EXPECT_EQ(q({key([](auto& k) { k.set_from("example.net"); })}), (V{3}));
  EXPECT_EQ(q({key([](auto& k) { k.set_to("bob@"); })}), (V{1, 2, 3, 4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_body("pizza"); })}), (V{2}));
  EXPECT_EQ(q({key([](auto& k) { k.set_body("quarterly"); })}), V{}) << "BODY does not look at headers";
  EXPECT_EQ(q({key([](auto& k) { k.set_text("quarterly"); })}), (V{1, 3})) << "TEXT covers headers";
  EXPECT_EQ(q({key([](auto& k) { k.set_text("attached"); })}), (V{3})) << "TEXT covers the body";
  EXPECT_EQ(q({key([](auto& k) {
              k.mutable_header()->set_name("x-spam-flag");
              k.mutable_header()->set_value("yes");
            })}),
            (V{2}));
  EXPECT_EQ(q({key([](auto& k) {
              k.mutable_header()->set_name("X-Spam-Flag");
              k.mutable_header()->set_value("");
            })}),
            (V{1, 2}))
      << "HEADER name \"\" matches every message with that field";
  EXPECT_EQ(q({key([](auto& k) {
              k.mutable_header()->set_name("X-Long");
              k.mutable_header()->set_value("folded-value");
            })}),
            (V{2}))
      << "folded header lines belong to their field";
  EXPECT_EQ(q({key([](auto& k) { k.set_flags_set(v1::FLAG_SEEN); })}), (V{1, 4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_flags_set(v1::FLAG_SEEN | v1::FLAG_DELETED); })}), (V{4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_flags_unset(v1::FLAG_SEEN); })}), (V{2, 3}));
  EXPECT_EQ(q({key([](auto& k) { k.set_keyword("$Work"); })}), (V{1, 3}));
  EXPECT_EQ(q({key([](auto& k) { k.set_unkeyword("$Work"); })}), (V{2, 4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_larger(999); })}), (V{1, 3}));
  EXPECT_EQ(q({key([](auto& k) { k.set_larger(1000); })}), (V{3})) << "LARGER is strict";
  EXPECT_EQ(q({key([](auto& k) { k.set_smaller(201); })}), (V{2, 4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_smaller(200); })}), (V{4})) << "SMALLER is strict";
  EXPECT_EQ(q({key([](auto& k) { *k.mutable_uids() = Uids({{2, 3}}); })}), (V{2, 3}));
  EXPECT_EQ(q({key([](auto& k) { *k.mutable_uids() = Uids({{3, 0}}); })}), (V{3, 4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_since_unix(1700100000); })}), (V{2, 3, 4}));
  EXPECT_EQ(q({key([](auto& k) { k.set_before_unix(1700100000); })}), (V{1}));
  // AND of keys.
  EXPECT_EQ(q({key([](auto& k) { k.set_keyword("$Work"); }), key([](auto& k) { k.set_flags_set(v1::FLAG_SEEN); })}),
            (V{1}));
  // OR.
  EXPECT_EQ(q({key([](auto& k) {
              *k.mutable_any_of()->add_keys() = [] {
                v1::SearchKey x;
                x.set_subject("lunch");
                return x;
              }();
              k.mutable_any_of()->add_keys()->set_from("carol");
            })}),
            (V{2, 3}));
  // NOT (one key) and "none of" (several keys: matches messages that match none).
  EXPECT_EQ(q({key([](auto& k) { k.mutable_none_of()->add_keys()->set_flags_set(v1::FLAG_SEEN); })}), (V{2, 3}));
  EXPECT_EQ(q({key([](auto& k) {
              k.mutable_none_of()->add_keys()->set_subject("quarterly");
              k.mutable_none_of()->add_keys()->set_body("pizza");
            })}),
            (V{4}));
  // Nested: NOT (OR subject lunch keyword Later) AND UNSEEN.
  EXPECT_EQ(q({key([](auto& k) {
                 auto* any = k.mutable_none_of()->add_keys()->mutable_any_of();
                 any->add_keys()->set_subject("lunch");
                 any->add_keys()->set_keyword("Later");
               }),
               key([](auto& k) { k.set_flags_unset(v1::FLAG_SEEN); })}),
            V{});
  // MODSEQ.
  uint64_t hm = Mailbox(a, inbox).highestmodseq();
  Store(a, inbox, One(1), v1::STORE_ADD, v1::FLAG_ANSWERED);
  EXPECT_EQ(q({key([&](auto& k) { k.set_modseq_at_least(hm + 1); })}), (V{1}));
  // Input that could be SQL is just text.
  EXPECT_EQ(q({key([](auto& k) { k.set_subject("' OR 1=1 --"); })}), V{});
  EXPECT_EQ(q({key([](auto& k) { k.set_keyword("x') OR TRUE OR ('"); })}), V{});

  v1::SearchRequest bad;
  bad.set_account_id(a);
  bad.set_mailbox_id(inbox);
  bad.add_keys();  // empty key
  EXPECT_TRUE(FailsWith(S().Search(bad), ErrorKind::kInvalidInput));
  v1::SearchRequest deep;
  deep.set_account_id(a);
  deep.set_mailbox_id(inbox);
  v1::SearchKey* cur = deep.add_keys();
  for (int i = 0; i < 40; ++i) cur = cur->mutable_any_of()->add_keys();
  cur->set_subject("x");
  EXPECT_TRUE(FailsWith(S().Search(deep), ErrorKind::kLimitExceeded));
  v1::SearchRequest missing;
  missing.set_account_id(a);
  missing.set_mailbox_id(987654321);
  EXPECT_TRUE(FailsWith(S().Search(missing), ErrorKind::kNotFound));
}

// ------------------------------------------------------------ account isolation

TEST_F(PgStoreTest, NoCallReachesAnotherAccountsMailbox) {
  uint64_t A = NewAccount("alice@example.com");
  uint64_t B = NewAccount("bob@example.com");
  uint64_t a_inbox = MailboxId(A, "INBOX");
  uint64_t b_inbox = MailboxId(B, "INBOX");
  uint64_t b_sent = MailboxId(B, "Sent");
  Put(A, a_inbox, 10);
  for (int i = 0; i < 3; ++i) {
    auto req = AppendReq(B, b_inbox, 100 + i, i == 0 ? uint32_t{v1::FLAG_DELETED} : 0u, {"Secret"});
    *req.mutable_parsed() = Parsed("bob's secret", "Eve <eve@example.com>", "the body");
    MUST(S().Append(req));
  }
  Put(B, b_sent, 5);

  auto snapshot = [&](uint64_t acct) {
    std::string s;
    for (const auto& [name, mb] : List(acct)) s += mb.SerializeAsString();
    for (const auto& [name, mb] : List(acct)) {
      for (const auto& m : Fetch(acct, mb.mailbox_id(), All(), true)) s += m.SerializeAsString();
      s += Changes(acct, mb.mailbox_id(), 0).SerializeAsString();
    }
    s += Quota(acct).SerializeAsString();
    return s;
  };
  const std::string b_before = snapshot(B);

  v1::GetMailboxRequest gm;
  gm.set_account_id(A);
  gm.set_mailbox_id(b_inbox);
  EXPECT_TRUE(FailsWith(S().GetMailbox(gm), ErrorKind::kNotFound));

  EXPECT_TRUE(FailsWith(S().Append(AppendReq(A, b_inbox, 10)), ErrorKind::kNotFound));

  v1::FetchRequest fr;
  fr.set_account_id(A);
  fr.set_mailbox_id(b_inbox);
  *fr.mutable_uids() = All();
  EXPECT_TRUE(FailsWith(S().FetchPage(fr, 0), ErrorKind::kNotFound));
  // A later page (no mailbox check there) must still return nothing.
  auto later = S().FetchPage(fr, 1);
  EXPECT_TRUE(!later.has_value() || later->messages_size() == 0);
  fr.set_with_parsed(true);
  later = S().FetchPage(fr, 1);
  EXPECT_TRUE(!later.has_value() || later->messages_size() == 0);

  for (auto mode : {v1::STORE_ADD, v1::STORE_REMOVE, v1::STORE_REPLACE})
    EXPECT_TRUE(FailsWith(S().StoreFlags(StoreReq(A, b_inbox, All(), mode, v1::FLAG_SEEN, {"Pwned"})),
                          ErrorKind::kNotFound));
  for (bool move : {false, true}) {
    EXPECT_TRUE(FailsWith(S().CopyMessages(CopyReq(A, b_inbox, All(), a_inbox, move)), ErrorKind::kNotFound))
        << "B -> A, move=" << move;
    EXPECT_TRUE(FailsWith(S().CopyMessages(CopyReq(A, a_inbox, All(), b_inbox, move)), ErrorKind::kNotFound))
        << "A -> B, move=" << move;
    EXPECT_TRUE(FailsWith(S().CopyMessages(CopyReq(A, b_inbox, All(), b_sent, move)), ErrorKind::kNotFound))
        << "B -> B with A's account, move=" << move;
  }
  EXPECT_TRUE(FailsWith(S().Expunge(ExpungeReq(A, b_inbox)), ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(S().Expunge(ExpungeReq(A, b_inbox, All(), /*force=*/true)), ErrorKind::kNotFound));
  v1::ChangesRequest cr;
  cr.set_account_id(A);
  cr.set_mailbox_id(b_inbox);
  EXPECT_TRUE(FailsWith(S().Changes(cr), ErrorKind::kNotFound));
  v1::SearchRequest sr;
  sr.set_account_id(A);
  sr.set_mailbox_id(b_inbox);
  EXPECT_TRUE(FailsWith(S().Search(sr), ErrorKind::kNotFound));
  sr.add_keys()->set_subject("secret");
  EXPECT_TRUE(FailsWith(S().Search(sr), ErrorKind::kNotFound));

  // Name-based calls resolve names inside A only.
  auto via_name = AppendReq(A, 0, 10);
  via_name.set_mailbox_name("Sent");
  auto r = MUST(S().Append(via_name));
  EXPECT_NE(r.mailbox_id(), b_sent);
  EXPECT_EQ(r.mailbox_id(), MailboxId(A, "Sent"));
  v1::DeleteMailboxRequest dm;
  dm.set_account_id(A);
  dm.set_name("Drafts");
  MUST(S().DeleteMailbox(dm));
  EXPECT_TRUE(TryMailbox(B, "Drafts").has_value());

  EXPECT_EQ(snapshot(B), b_before) << "B's mailboxes, messages, flags, modseqs, tombstones and quota unchanged";
  // A changed only by its own two name-based calls above.
  auto a_boxes = List(A);
  EXPECT_FALSE(a_boxes.count("Drafts"));
  EXPECT_EQ(a_boxes["INBOX"].messages(), 1u);
  EXPECT_EQ(a_boxes["INBOX"].uidnext(), 2u);
  EXPECT_EQ(Quota(A).message_used(), 2u);
  EXPECT_EQ(Quota(A).storage_used(), 20u);
}

// ------------------------------------------------------------ concurrency

// Two metad replicas (separate pools), 8 appenders plus a flag setter and an
// expunger, all on one mailbox. IMAP invariants must hold afterwards.
TEST_F(PgStoreTest, TwoReplicasAppendingConcurrentlyKeepImapInvariants) {
  uint64_t a = NewAccount("busy@example.com");
  uint64_t inbox = MailboxId(a, "INBOX");
  PgStore replica2(std::make_shared<ConnectionPool>(db_->uri(), 8));
  PgStore* replicas[2] = {store_.get(), &replica2};

  constexpr int kThreads = 8, kPerThread = 200;
  struct Rec {
    uint32_t uid;
    uint64_t modseq, size, started, finished;
  };
  std::atomic<uint64_t> clock{0};
  std::atomic<uint32_t> max_uid{0};
  std::atomic<bool> appending{true};
  std::mutex mu;
  std::vector<std::string> errors;
  auto error = [&](std::string e) {
    std::lock_guard lk(mu);
    errors.push_back(std::move(e));
  };
  std::vector<std::vector<Rec>> recs(kThreads);
  std::vector<uint64_t> other_modseqs;  // MODSEQs of STORE/EXPUNGE changes
  std::vector<uint32_t> expunged;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      PgStore& s = *replicas[t % 2];
      for (int i = 0; i < kPerThread; ++i) {
        auto req = AppendReq(a, inbox, 100 + static_cast<uint64_t>((t * kPerThread + i) % 900));
        Rec rec{0, 0, req.size(), clock.fetch_add(1), 0};
        auto r = s.Append(req);
        rec.finished = clock.fetch_add(1);
        if (!r) return error("append: " + r.error().message);
        rec.uid = r->uid();
        rec.modseq = r->modseq();
        recs[t].push_back(rec);
        uint32_t prev = max_uid.load();
        while (prev < rec.uid && !max_uid.compare_exchange_weak(prev, rec.uid)) {
        }
      }
    });
  std::thread flagger([&] {
    std::mt19937 rng(1);
    while (appending.load()) {
      uint32_t hi = max_uid.load();
      if (hi < 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      uint32_t lo = 1 + rng() % (hi - 5);
      auto mode = rng() % 2 ? v1::STORE_ADD : v1::STORE_REMOVE;
      v1::StoreFlagsRequest r;
      r.set_account_id(a);
      r.set_mailbox_id(inbox);
      *r.mutable_uids() = Uids({{lo, lo + 4}});
      r.set_mode(mode);
      r.set_flags(v1::FLAG_SEEN);
      auto res = replica2.StoreFlags(r);
      if (!res) return error("store: " + res.error().message);
      if (res->updated_size() > 0) {
        std::lock_guard lk(mu);
        other_modseqs.push_back(res->highestmodseq());
      }
    }
  });
  std::thread expunger([&] {
    uint32_t next = 7;
    while (appending.load()) {
      if (max_uid.load() < next) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      auto res = store_->Expunge(ExpungeReq(a, inbox, One(next), /*force=*/true));
      if (!res) return error("expunge: " + res.error().message);
      if (res->expunged_uids_size() != 1) return error("expunge of " + std::to_string(next) + " expunged nothing");
      std::lock_guard lk(mu);
      expunged.push_back(next);
      other_modseqs.push_back(res->highestmodseq());
      next += 13;
    }
  });
  for (auto& t : threads) t.join();
  appending = false;
  flagger.join();
  expunger.join();
  for (const auto& e : errors) ADD_FAILURE() << e;
  ASSERT_TRUE(errors.empty());

  std::vector<Rec> all;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(recs[t].size(), size_t{kPerThread});
    for (size_t i = 1; i < recs[t].size(); ++i) {
      EXPECT_GT(recs[t][i].uid, recs[t][i - 1].uid) << "thread " << t;
      EXPECT_GT(recs[t][i].modseq, recs[t][i - 1].modseq) << "thread " << t;
    }
    all.insert(all.end(), recs[t].begin(), recs[t].end());
  }
  constexpr uint32_t kTotal = kThreads * kPerThread;
  std::sort(all.begin(), all.end(), [](const Rec& x, const Rec& y) { return x.uid < y.uid; });
  std::vector<uint32_t> uids;
  for (const auto& r : all) uids.push_back(r.uid);
  EXPECT_EQ(uids, Range(1, kTotal)) << "unique UIDs without gaps";
  // Commit order: an append that finished before another started has the lower UID and MODSEQ.
  size_t order_violations = 0;
  for (const auto& x : all)
    for (const auto& y : all)
      if (x.finished < y.started && (x.uid >= y.uid || x.modseq >= y.modseq)) ++order_violations;
  EXPECT_EQ(order_violations, 0u);

  std::set<uint64_t> modseqs;
  uint64_t max_modseq = 0;
  for (const auto& r : all) {
    modseqs.insert(r.modseq);
    max_modseq = std::max(max_modseq, r.modseq);
  }
  EXPECT_EQ(modseqs.size(), all.size()) << "every append has its own MODSEQ";
  for (uint64_t m : other_modseqs) {
    EXPECT_TRUE(modseqs.insert(m).second) << "MODSEQ " << m << " of a STORE/EXPUNGE reused";
    max_modseq = std::max(max_modseq, m);
  }
  EXPECT_FALSE(expunged.empty());

  auto mb = Mailbox(a, inbox);
  EXPECT_EQ(mb.uidnext(), kTotal + 1);
  EXPECT_EQ(mb.highestmodseq(), max_modseq);
  auto msgs = Fetch(a, inbox);
  std::set<uint32_t> present, gone(expunged.begin(), expunged.end());
  uint64_t bytes = 0;
  for (const auto& m : msgs) {
    present.insert(m.uid());
    bytes += m.size();
    EXPECT_LE(m.modseq(), mb.highestmodseq());
    EXPECT_FALSE(gone.count(m.uid())) << "expunged " << m.uid() << " still present";
  }
  EXPECT_EQ(present.size() + gone.size(), size_t{kTotal}) << "the only gaps are expunged UIDs";
  auto ch = Changes(a, inbox, 0);
  EXPECT_EQ(std::set<uint32_t>(ch.expunged_uids().begin(), ch.expunged_uids().end()), gone);
  EXPECT_EQ(ch.messages(), msgs.size());
  auto q = Quota(a);
  EXPECT_EQ(q.message_used(), msgs.size());
  EXPECT_EQ(q.storage_used(), bytes);
  EXPECT_EQ(mb.messages(), msgs.size());
  EXPECT_EQ(mb.size(), bytes);
}

// ------------------------------------------------------------ notify

class NoticeCollector : public pqxx::notification_receiver {
 public:
  explicit NoticeCollector(pqxx::connection_base& c) : pqxx::notification_receiver(c, kChangeChannel) {}
  void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
  std::vector<std::string> payloads;
};

// Waits until `n` notices arrived (or 5 s passed).
void AwaitNotices(pqxx::connection& c, NoticeCollector& col, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (col.payloads.size() < n && std::chrono::steady_clock::now() < deadline) c.await_notification(0, 100000);
}

TEST_F(PgStoreTest, CommittedChangesNotifyOtherReplicasAndFailuresDoNot) {
  uint64_t a = NewAccount("n@example.com", /*storage_limit=*/1000, 0);
  uint64_t inbox = MailboxId(a, "INBOX");
  uint64_t sent = MailboxId(a, "Sent");
  pqxx::connection listener(db_->uri());
  NoticeCollector col(listener);
  listener.get_notifs();

  auto r = Put(a, inbox, 100);
  AwaitNotices(listener, col, 1);
  ASSERT_EQ(col.payloads.size(), 1u);
  ChangeNotice n;
  ASSERT_TRUE(ParseNotice(col.payloads[0], n)) << col.payloads[0];
  EXPECT_EQ(n.account_id, a);
  EXPECT_EQ(n.mailbox_id, inbox);
  EXPECT_EQ(n.highestmodseq, r.modseq());
  EXPECT_EQ(n.uidnext, r.uid() + 1);
  EXPECT_FALSE(n.list_changed);

  // A refused append commits nothing and announces nothing. Notices arrive in commit
  // order, so once the marker's notice is here the failed one would have been too.
  col.payloads.clear();
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, inbox, 5000)), ErrorKind::kQuotaExceeded));
  EXPECT_TRUE(FailsWith(S().Append(AppendReq(a, 987654321, 1)), ErrorKind::kNotFound));
  auto marker = Put(a, sent, 1);
  AwaitNotices(listener, col, 1);
  listener.await_notification(0, 200000);
  ASSERT_EQ(col.payloads.size(), 1u) << "only the marker's notice";
  ASSERT_TRUE(ParseNotice(col.payloads[0], n));
  EXPECT_EQ(n.mailbox_id, sent);
  EXPECT_EQ(n.highestmodseq, marker.modseq());

  // Flag changes and expunges are announced with the new HIGHESTMODSEQ; no-op ones are not.
  col.payloads.clear();
  auto st = Store(a, inbox, All(), v1::STORE_ADD, v1::FLAG_SEEN);
  Store(a, inbox, All(), v1::STORE_ADD, v1::FLAG_SEEN);  // no-op
  auto ex = MUST(S().Expunge(ExpungeReq(a, inbox, All(), /*force=*/true)));
  AwaitNotices(listener, col, 2);
  listener.await_notification(0, 200000);
  ASSERT_EQ(col.payloads.size(), 2u);
  ASSERT_TRUE(ParseNotice(col.payloads[0], n));
  EXPECT_EQ(n.highestmodseq, st.highestmodseq());
  ASSERT_TRUE(ParseNotice(col.payloads[1], n));
  EXPECT_EQ(n.highestmodseq, ex.highestmodseq());

  // Mailbox list changes say so.
  col.payloads.clear();
  auto created = Create(a, "New");
  AwaitNotices(listener, col, 1);
  ASSERT_EQ(col.payloads.size(), 1u);
  ASSERT_TRUE(ParseNotice(col.payloads[0], n));
  EXPECT_EQ(n.account_id, a);
  EXPECT_EQ(n.mailbox_id, created.mailbox_id());
  EXPECT_TRUE(n.list_changed);
}

}  // namespace
}  // namespace columba::pg
