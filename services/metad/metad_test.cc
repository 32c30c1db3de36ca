// metad_test.cc - the real columba-metad binary, two replicas on one database, over gRPC.
//
// NAME
//   metad_test - integration test of columba-metad as a process (gRPC contract,
//   cross-replica Watch, error mapping, Fetch paging, kill -9, SIGTERM drain).
// SYNOPSIS
//   tests/infra up DIR
//   COLUMBA_TEST_STATE=DIR COLUMBA_BUILD_DIR=BUILD BUILD/services/metad/metad_test
//   (ctest does this through the `infra` fixture; label `integration`).
// DESCRIPTION
//   The suite creates its own database (CREATE DATABASE t_<random> OWNER columba via
//   COLUMBA_PG_ADMIN, migrations, DROP ... WITH (FORCE) at the end) and starts two
//   columba-metad processes, A and B, on free loopback ports with generated YAML
//   configs in a temp dir; it waits for both to answer /readyz 200. Tests that kill
//   or drain a process start their own extra replica on the same database, so every
//   test is independent of the others and of their order.
//   Covered:
//   - Watch across replicas: a Watch on B sees Append / StoreFlags / Expunge made on
//     A within 1 s, with highestmodseq and uidnext equal to what A answered (the
//     latency is measured and printed); changes of another account are not delivered.
//   - The first Watch message has ready = true; the mailbox_ids filter drops other
//     mailboxes but passes mailbox_list_changed (CreateMailbox).
//   - After the LISTEN connection of a replica is lost (pg_terminate_backend), its
//     streams get a resync (mailbox_id 0 + mailbox_list_changed) and keep working.
//   - Error mapping over the wire: quota -> RESOURCE_EXHAUSTED with details "quota"
//     (rpc::FromStatus: kQuotaExceeded), unknown mailbox -> NOT_FOUND, bad blob id
//     (wrong length, non-hex, upper-case) -> INVALID_ARGUMENT, duplicate
//     CreateMailbox -> ALREADY_EXISTS.
//   - Fetch streams pages: 2,500 messages appended concurrently through both
//     replicas come back from Fetch 1:* (page_size 1000) as 3 responses, all UIDs
//     ascending; FetchPage returns one page from after_uid and says `more` while full.
//   - kill -9 of a replica with an open Watch: the stream ends promptly with
//     UNAVAILABLE/CANCELLED; the other replica keeps serving (writes and Watch).
//   - SIGTERM: /readyz stops answering 200 at once, the process exits 0 within the
//     drain timeout (service.drain_timeout: 2s; plus teardown slack) even with an
//     open Watch stream, which is ended.
//   - A metrics port in use makes metad exit 1 at once (it used to hang).
//   - The Queue service (queue.proto) through rpc::QueueClient: a message enqueued
//     on A is visible on B; claims through both replicas split its recipients
//     (none twice); a Complete for another worker's lease is FAILED_PRECONDITION
//     (kConflict), one for the holder's lease is accepted on either replica and the
//     finished message is gone (NOT_FOUND). Bad Enqueue -> INVALID_ARGUMENT with
//     nothing stored; unknown id -> NOT_FOUND; a replica whose PostgreSQL is
//     unreachable answers Enqueue UNAVAILABLE (kUnavailable), never OK.
//   - columbactl queue list / show / delete, run as a subprocess against A, on
//     messages enqueued through metad (columbactl has no way to enqueue: nothing
//     but smtpd should): the list line (id, <sender> or <>, recipients, next
//     attempt, last error), every field of show, delete and its NOT_FOUND exit 1.
//   No correctness depends on a fixed sleep: every wait is a bounded poll for a
//   condition. "Not delivered" is shown with a marker change committed after the
//   unwanted one (PostgreSQL delivers notifications in commit order), plus a short
//   quiet period.
// DIAGNOSTICS
//   Without COLUMBA_TEST_STATE or COLUMBA_BUILD_DIR, or with the infrastructure
//   down, every test FAILS with the reason; nothing is skipped. On failure the tail
//   of each metad log is printed.
// NEVER
//   Leaves a process behind: every child is killed and reaped by its owner's
//   destructor, and gets PR_SET_PDEATHSIG so even a crash of the test kills it
//   (columbactl runs under popen and is waited for).
//   Touches any database it did not create.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "columba/v1/metadata.grpc.pb.h"
#include "columba/v1/queue.grpc.pb.h"
#include "lib/rpc/metad_client.h"
#include "lib/rpc/queue_client.h"
#include "storage/postgres/migrations.h"
#include "tests/lib/metad_process.h"
#include "tests/lib/test_env.h"

namespace columba {
namespace {

namespace v1 = ::columba::v1;
using columba::testing::TestEnv;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kDrainTimeout = columba::testing::kMetadDrainTimeout;  // service.drain_timeout of every replica
constexpr auto kWatchBound = seconds(1);     // DESIGN invariant 4: another node within a second
constexpr auto kQuiet = milliseconds(300);   // "nothing more arrives" after a marker

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

using columba::testing::BuildDir;
using columba::testing::Hex;
using columba::testing::MetadProcess;
using columba::testing::RandomU64;
using columba::testing::TempDir;
using columba::testing::TestDatabase;

std::string DescribeWaitStatus(int st) {
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("signal ") + strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

// ------------------------------------------------------------ a Watch stream

// Reads a Watch stream on its own thread; the test waits (bounded) for items.
class WatchStream {
 public:
  struct Item {
    v1::MailboxChange change;
    Clock::time_point at;
  };

  WatchStream(v1::Metadata::Stub& stub, uint64_t account_id, std::vector<uint64_t> mailbox_ids = {}) {
    v1::WatchRequest req;
    req.set_account_id(account_id);
    for (auto id : mailbox_ids) req.add_mailbox_ids(id);
    // A safety net only: the destructor cancels the stream long before this.
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    reader_ = stub.Watch(&ctx_, req);
    thread_ = std::thread([this] {
      v1::MailboxChange m;
      while (reader_->Read(&m)) {
        std::lock_guard lk(mu_);
        items_.push_back({m, Clock::now()});
        cv_.notify_all();
      }
      grpc::Status st = reader_->Finish();
      std::lock_guard lk(mu_);
      status_ = st;
      ended_at_ = Clock::now();
      cv_.notify_all();
    });
  }
  ~WatchStream() {
    ctx_.TryCancel();
    thread_.join();
  }
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // The next item, waiting up to `timeout`.
  std::optional<Item> Next(Clock::duration timeout) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return !items_.empty() || status_.has_value(); });
    if (items_.empty()) return std::nullopt;
    Item it = std::move(items_.front());
    items_.pop_front();
    return it;
  }

  // The first item matching `pred` within `timeout`; the items before it are
  // appended to *skipped.
  std::optional<Item> WaitFor(const std::function<bool(const v1::MailboxChange&)>& pred, Clock::duration timeout,
                              std::vector<Item>* skipped) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) return std::nullopt;
      auto it = Next(left);
      if (!it) return std::nullopt;
      if (pred(it->change)) return it;
      if (skipped) skipped->push_back(std::move(*it));
    }
  }

  // The final status once the stream ended, waiting up to `timeout`.
  std::optional<grpc::Status> WaitEnd(Clock::duration timeout) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return status_.has_value(); });
    return status_;
  }
  Clock::time_point ended_at() {
    std::lock_guard lk(mu_);
    return ended_at_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::MailboxChange>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  std::optional<grpc::Status> status_;
  Clock::time_point ended_at_;
};

std::string Describe(const v1::MailboxChange& c) {
  std::ostringstream s;
  s << "{mailbox " << c.mailbox_id() << ", highestmodseq " << c.highestmodseq() << ", uidnext " << c.uidnext()
    << (c.ready() ? ", ready" : "") << (c.mailbox_list_changed() ? ", list_changed" : "") << "}";
  return s.str();
}
std::string Describe(const std::vector<WatchStream::Item>& items) {
  std::string s = "[";
  for (const auto& i : items) s += Describe(i.change) + " ";
  return s + "]";
}
bool IsResync(const v1::MailboxChange& c) { return c.mailbox_id() == 0 && c.mailbox_list_changed(); }

// ------------------------------------------------------------ RPC helpers

template <class T>
T Must(Result<T> r, const char* what) {
  if (!r)
    throw std::runtime_error(std::string(what) + " failed: " + ErrorKindName(r.error().kind) + ": " + r.error().message);
  return std::move(*r);
}
#define MUST(expr) Must((expr), #expr)

// A raw unary call, for the status code and details exactly as they cross the wire.
template <class Req, class Resp>
grpc::Status Raw(v1::Metadata::Stub& stub,
                 grpc::Status (v1::Metadata::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                 Resp* resp = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
  Resp local;
  return (stub.*method)(&ctx, req, resp ? resp : &local);
}

std::string BlobId(uint64_t n) { return Hex(n, 64); }

v1::AppendRequest AppendTo(uint64_t account, uint64_t mailbox_id, uint64_t n) {
  v1::AppendRequest r;
  r.set_account_id(account);
  r.set_mailbox_id(mailbox_id);
  r.set_blob_id(BlobId(n));
  r.set_size(100 + n % 1000);
  r.mutable_parsed()->set_subject("message " + std::to_string(n));
  return r;
}

v1::UidSet OneUid(uint32_t uid) {
  v1::UidSet s;
  auto* r = s.add_ranges();
  r->set_first(uid);
  r->set_last(uid);
  return s;
}

// ------------------------------------------------------------ the suite

struct Cluster {
  TempDir dir;
  TestDatabase db;
  std::unique_ptr<MetadProcess> a, b;
  std::unique_ptr<rpc::MetadClient> ca, cb;
};

class MetadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_error_ = new std::string;
    try {
      columba::testing::MetadBinary();  // fails early and clearly without COLUMBA_BUILD_DIR or the binary
      auto c = std::make_unique<Cluster>();
      c->a = MetadProcess::Start("metad-a", c->dir.path(), c->db.uri());
      c->b = MetadProcess::Start("metad-b", c->dir.path(), c->db.uri());
      c->ca = std::make_unique<rpc::MetadClient>(c->a->target(), seconds(10));
      c->cb = std::make_unique<rpc::MetadClient>(c->b->target(), seconds(10));
      cluster_ = c.release();
    } catch (const std::exception& e) {
      *setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;  // kills A and B, then drops the database, then removes the dir
    cluster_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "suite setup failed: " << *setup_error_;
    ASSERT_TRUE(cluster_->a->Running()) << "replica A is not running";
    ASSERT_TRUE(cluster_->b->Running()) << "replica B is not running";
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      for (auto* p : {cluster_->a.get(), cluster_->b.get()})
        std::cerr << "---- " << p->name() << " log tail:\n" << p->LogTail(30);
      for (auto& p : extra_) std::cerr << "---- " << p->name() << " log tail:\n" << p->LogTail(30);
    }
    extra_.clear();  // kills and reaps what the test started
  }

  Cluster& C() { return *cluster_; }
  v1::Metadata::Stub& A() { return cluster_->ca->stub(); }
  v1::Metadata::Stub& B() { return cluster_->cb->stub(); }

  // Another replica on the same database (for kill/drain tests), stopped in TearDown.
  MetadProcess* StartExtra(const std::string& name) {
    extra_.push_back(MetadProcess::Start(name, C().dir.path(), C().db.uri()));
    return extra_.back().get();
  }

  uint64_t NewAccount(const std::string& tag, uint64_t message_limit = 0) {
    v1::EnsureAccountRequest r;
    r.set_address(tag + "-" + Hex(RandomU64(), 8) + "@metad-test.example");
    r.set_message_limit(message_limit);
    return MUST(C().ca->CallSync(&v1::Metadata::Stub::EnsureAccount, r)).account().account_id();
  }
  uint64_t MailboxId(uint64_t account, const std::string& name) {
    v1::GetMailboxRequest r;
    r.set_account_id(account);
    r.set_name(name);
    return MUST(C().ca->CallSync(&v1::Metadata::Stub::GetMailbox, r)).mailbox().mailbox_id();
  }
  v1::AppendResponse Append(rpc::MetadClient& c, uint64_t account, uint64_t mailbox_id) {
    return MUST(c.CallSync(&v1::Metadata::Stub::Append, AppendTo(account, mailbox_id, RandomU64())));
  }

  static Cluster* cluster_;
  static std::string* setup_error_;
  std::vector<std::unique_ptr<MetadProcess>> extra_;
};
Cluster* MetadTest::cluster_ = nullptr;
std::string* MetadTest::setup_error_ = nullptr;

// Waits for the first Watch message, which must be ready = true.
void ExpectReady(WatchStream& w) {
  auto first = w.Next(seconds(5));
  ASSERT_TRUE(first.has_value()) << "no first Watch message within 5 s";
  EXPECT_TRUE(first->change.ready()) << "first message: " << Describe(first->change);
  EXPECT_EQ(first->change.mailbox_id(), 0u);
}

// ------------------------------------------------------------ 1. Watch across replicas

TEST_F(MetadTest, WatchOnBSeesAppendStoreExpungeOnAWithinOneSecond) {
  uint64_t acct = NewAccount("watch");
  uint64_t other = NewAccount("other");
  uint64_t inbox = MailboxId(acct, "INBOX");
  uint64_t other_inbox = MailboxId(other, "INBOX");

  WatchStream w(B(), acct);
  ExpectReady(w);
  if (HasFatalFailure()) return;
  auto for_inbox_at = [&](uint64_t modseq) {
    return [=](const v1::MailboxChange& c) { return c.mailbox_id() == inbox && c.highestmodseq() >= modseq; };
  };

  // Append on A -> change on B with A's modseq and uid+1. Then more samples for the
  // latency distribution (Append start on A to arrival on B's stream).
  std::vector<double> latencies;
  v1::AppendResponse last;
  for (int i = 0; i < 20; ++i) {
    std::vector<WatchStream::Item> skipped;
    auto t0 = Clock::now();
    last = Append(*C().ca, acct, inbox);
    auto got = w.WaitFor(for_inbox_at(last.modseq()), seconds(5), &skipped);
    ASSERT_TRUE(got.has_value()) << "append " << i << " (modseq " << last.modseq()
                                 << ") not seen on B within 5 s; got " << Describe(skipped);
    EXPECT_EQ(got->change.highestmodseq(), last.modseq()) << Describe(got->change);
    EXPECT_EQ(got->change.uidnext(), last.uid() + 1) << Describe(got->change);
    EXPECT_FALSE(got->change.ready());
    for (auto& s : skipped) EXPECT_TRUE(IsResync(s.change)) << "unexpected change " << Describe(s.change);
    double ms = Ms(got->at - t0);
    EXPECT_LT(ms, Ms(kWatchBound)) << "append " << i << ": change reached B after " << ms << " ms";
    latencies.push_back(ms);
  }
  std::vector<double> sorted = latencies;
  std::sort(sorted.begin(), sorted.end());
  std::ostringstream report;
  report << std::fixed << std::setprecision(2) << "Watch latency (Append on A -> MailboxChange on B): first "
         << latencies.front() << " ms, median " << sorted[sorted.size() / 2] << " ms, max " << sorted.back()
         << " ms over " << sorted.size() << " appends";
  std::cout << "[ metad    ] " << report.str() << std::endl;
  RecordProperty("watch_latency_first_ms", std::to_string(latencies.front()));
  RecordProperty("watch_latency_median_ms", std::to_string(sorted[sorted.size() / 2]));
  RecordProperty("watch_latency_max_ms", std::to_string(sorted.back()));

  // StoreFlags on A -> change on B with the STORE's highestmodseq.
  {
    v1::StoreFlagsRequest s;
    s.set_account_id(acct);
    s.set_mailbox_id(inbox);
    *s.mutable_uids() = OneUid(last.uid());
    s.set_mode(v1::STORE_ADD);
    s.set_flags(v1::FLAG_SEEN | v1::FLAG_DELETED);
    auto t0 = Clock::now();
    auto r = MUST(C().ca->CallSync(&v1::Metadata::Stub::StoreFlags, s));
    ASSERT_EQ(r.updated_size(), 1);
    ASSERT_GT(r.highestmodseq(), last.modseq());
    auto got = w.WaitFor(for_inbox_at(r.highestmodseq()), seconds(5), nullptr);
    ASSERT_TRUE(got.has_value()) << "StoreFlags not seen on B";
    EXPECT_EQ(got->change.highestmodseq(), r.highestmodseq());
    EXPECT_EQ(got->change.uidnext(), last.uid() + 1);
    EXPECT_LT(got->at - t0, kWatchBound) << "StoreFlags reached B after " << Ms(got->at - t0) << " ms";
  }
  // Expunge on A -> change on B with the EXPUNGE's highestmodseq; uidnext unchanged.
  {
    v1::ExpungeRequest x;
    x.set_account_id(acct);
    x.set_mailbox_id(inbox);
    auto t0 = Clock::now();
    auto r = MUST(C().ca->CallSync(&v1::Metadata::Stub::Expunge, x));
    ASSERT_EQ(std::vector<uint32_t>(r.expunged_uids().begin(), r.expunged_uids().end()),
              std::vector<uint32_t>{last.uid()});
    auto got = w.WaitFor(for_inbox_at(r.highestmodseq()), seconds(5), nullptr);
    ASSERT_TRUE(got.has_value()) << "Expunge not seen on B";
    EXPECT_EQ(got->change.highestmodseq(), r.highestmodseq());
    EXPECT_EQ(got->change.uidnext(), last.uid() + 1);
    EXPECT_LT(got->at - t0, kWatchBound) << "Expunge reached B after " << Ms(got->at - t0) << " ms";
  }
  // A change of another account is not delivered: the marker (committed after it)
  // arrives first and nothing else, then nothing for a quiet period.
  {
    Append(*C().ca, other, other_inbox);
    Append(*C().cb, other, other_inbox);  // through B as well: B's own commits notify B too
    auto marker = Append(*C().ca, acct, inbox);
    std::vector<WatchStream::Item> skipped;
    auto got = w.WaitFor(for_inbox_at(marker.modseq()), seconds(5), &skipped);
    ASSERT_TRUE(got.has_value()) << "marker not seen on B";
    for (auto& s : skipped) EXPECT_TRUE(IsResync(s.change)) << "delivered to the wrong account: " << Describe(s.change);
    auto extra = w.Next(kQuiet);
    EXPECT_FALSE(extra.has_value()) << "unexpected change after the marker: " << Describe(extra->change);
  }
}

// ------------------------------------------------------------ 2. ready and the mailbox filter

TEST_F(MetadTest, WatchFilterDropsOtherMailboxesButPassesListChanges) {
  uint64_t acct = NewAccount("filter");
  uint64_t inbox = MailboxId(acct, "INBOX");
  uint64_t sent = MailboxId(acct, "Sent");

  WatchStream w(B(), acct, {inbox});
  ExpectReady(w);
  if (HasFatalFailure()) return;

  Append(*C().ca, acct, sent);  // filtered out
  auto marker = Append(*C().ca, acct, inbox);
  std::vector<WatchStream::Item> skipped;
  auto got = w.WaitFor([&](const v1::MailboxChange& c) { return c.mailbox_id() == inbox; }, seconds(5), &skipped);
  ASSERT_TRUE(got.has_value()) << "INBOX change not seen; got " << Describe(skipped);
  EXPECT_EQ(got->change.highestmodseq(), marker.modseq());
  EXPECT_EQ(got->change.uidnext(), marker.uid() + 1);
  for (auto& s : skipped) EXPECT_TRUE(IsResync(s.change)) << "filtered mailbox delivered: " << Describe(s.change);

  // CreateMailbox is a list change: delivered although the new mailbox is not in the filter.
  v1::CreateMailboxRequest cr;
  cr.set_account_id(acct);
  cr.set_name("Projects/Columba");
  auto t0 = Clock::now();
  auto created = MUST(C().ca->CallSync(&v1::Metadata::Stub::CreateMailbox, cr));
  skipped.clear();
  got = w.WaitFor([](const v1::MailboxChange& c) { return c.mailbox_list_changed(); }, seconds(5), &skipped);
  ASSERT_TRUE(got.has_value()) << "CreateMailbox not seen; got " << Describe(skipped);
  EXPECT_EQ(got->change.mailbox_id(), created.mailbox().mailbox_id()) << Describe(got->change);
  EXPECT_LT(got->at - t0, kWatchBound);
  EXPECT_TRUE(skipped.empty()) << Describe(skipped);

  // And a message in the new (unfiltered) mailbox is not delivered either.
  Append(*C().ca, acct, created.mailbox().mailbox_id());
  marker = Append(*C().ca, acct, inbox);
  skipped.clear();
  got = w.WaitFor([&](const v1::MailboxChange& c) { return c.mailbox_id() == inbox; }, seconds(5), &skipped);
  ASSERT_TRUE(got.has_value());
  for (auto& s : skipped) EXPECT_TRUE(IsResync(s.change)) << "filtered mailbox delivered: " << Describe(s.change);
  auto extra = w.Next(kQuiet);
  EXPECT_FALSE(extra.has_value()) << "unexpected change: " << Describe(extra->change);
}

// ------------------------------------------------------------ LISTEN reconnect -> resync

TEST_F(MetadTest, LostListenConnectionResyncsStreamsAndKeepsDelivering) {
  uint64_t acct = NewAccount("resync");
  uint64_t inbox = MailboxId(acct, "INBOX");
  WatchStream w(B(), acct);
  ExpectReady(w);
  if (HasFatalFailure()) return;

  // Cut every LISTEN connection to the suite's database (both replicas').
  int killed = 0;
  {
    pqxx::connection c(C().db.admin());
    pqxx::nontransaction n(c);
    auto r = n.exec_params(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
        C().db.name());
    killed = r[0][0].as<int>();
  }
  ASSERT_GE(killed, 2) << "expected the LISTEN connections of A and B";
  std::vector<WatchStream::Item> skipped;
  auto got = w.WaitFor(IsResync, seconds(10), &skipped);
  ASSERT_TRUE(got.has_value()) << "no resync after the LISTEN connection was lost; got " << Describe(skipped);
  EXPECT_TRUE(skipped.empty()) << Describe(skipped);
  // Both replicas are ready again, and B still hears A's changes.
  auto deadline = Clock::now() + seconds(10);
  while ((C().a->Readyz() != 200 || C().b->Readyz() != 200) && Clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20));
  ASSERT_EQ(C().a->Readyz(), 200);
  ASSERT_EQ(C().b->Readyz(), 200);
  auto r = Append(*C().ca, acct, inbox);
  got = w.WaitFor([&](const v1::MailboxChange& c) { return c.mailbox_id() == inbox; }, seconds(5), nullptr);
  ASSERT_TRUE(got.has_value()) << "no change after the LISTEN reconnect";
  EXPECT_EQ(got->change.highestmodseq(), r.modseq());
}

// ------------------------------------------------------------ 3. error mapping

TEST_F(MetadTest, ErrorsMapToGrpcCodesOverTheWire) {
  // Over quota: RESOURCE_EXHAUSTED with details "quota", and nothing stored.
  uint64_t acct = NewAccount("quota", /*message_limit=*/1);
  uint64_t inbox = MailboxId(acct, "INBOX");
  Append(*C().ca, acct, inbox);
  {
    auto req = AppendTo(acct, inbox, 2);
    grpc::Status s = Raw(A(), &v1::Metadata::Stub::Append, req);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_EQ(s.error_details(), "quota");
    EXPECT_EQ(rpc::FromStatus(s).kind, ErrorKind::kQuotaExceeded);
    auto r = C().cb->CallSync(&v1::Metadata::Stub::Append, req);  // the other replica, via MetadClient
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, ErrorKind::kQuotaExceeded) << r.error().message;
    v1::GetQuotaRequest q;
    q.set_account_id(acct);
    EXPECT_EQ(MUST(C().ca->CallSync(&v1::Metadata::Stub::GetQuota, q)).quota().message_used(), 1u);
  }
  // Unknown mailbox (by name, by id, and an id of another account): NOT_FOUND.
  // (An account with room: for a full account the quota refusal may come first.)
  {
    acct = NewAccount("notfound");
    uint64_t foreign_inbox = MailboxId(NewAccount("foreign"), "INBOX");
    std::vector<v1::AppendRequest> reqs;
    auto by_name = AppendTo(acct, 0, 3);
    by_name.set_mailbox_name("No/Such/Mailbox");
    reqs.push_back(by_name);
    reqs.push_back(AppendTo(acct, 987654321, 4));
    reqs.push_back(AppendTo(acct, foreign_inbox, 5));
    for (const auto& req : reqs) {
      grpc::Status s = Raw(A(), &v1::Metadata::Stub::Append, req);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << req.ShortDebugString() << ": " << s.error_message();
      EXPECT_EQ(rpc::FromStatus(s).kind, ErrorKind::kNotFound);
    }
    v1::GetMailboxRequest g;
    g.set_account_id(acct);
    g.set_name("Nope");
    EXPECT_EQ(Raw(B(), &v1::Metadata::Stub::GetMailbox, g).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // Bad blob ids: INVALID_ARGUMENT.
  {
    uint64_t acct2 = NewAccount("blob");
    uint64_t inbox2 = MailboxId(acct2, "INBOX");
    for (const std::string& bad : {std::string("not-a-blob-id"), std::string(), std::string(63, 'a'),
                                   std::string(65, 'a'), std::string(64, 'g'), std::string(64, 'A'),
                                   std::string("../../../../../../etc/passwd") + std::string(36, 'a')}) {
      auto req = AppendTo(acct2, inbox2, 6);
      req.set_blob_id(bad);
      grpc::Status s = Raw(A(), &v1::Metadata::Stub::Append, req);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "blob id '" << bad << "': " << s.error_message();
      EXPECT_EQ(rpc::FromStatus(s).kind, ErrorKind::kInvalidInput);
    }
  }
  // Duplicate CreateMailbox: ALREADY_EXISTS (also when the duplicate goes to the other replica).
  {
    v1::CreateMailboxRequest cr;
    cr.set_account_id(acct);
    cr.set_name("Receipts");
    MUST(C().ca->CallSync(&v1::Metadata::Stub::CreateMailbox, cr));
    grpc::Status s = Raw(B(), &v1::Metadata::Stub::CreateMailbox, cr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
    EXPECT_EQ(rpc::FromStatus(s).kind, ErrorKind::kAlreadyExists);
    cr.set_name("inbox");  // INBOX is case-insensitive
    EXPECT_EQ(Raw(A(), &v1::Metadata::Stub::CreateMailbox, cr).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  }
}

// ------------------------------------------------------------ 4. Fetch pages

TEST_F(MetadTest, FetchStreamsPagesOfAThousandAndFetchPageReadsOnePage) {
  constexpr uint32_t kMessages = 2500;
  uint64_t acct = NewAccount("fetch");
  uint64_t inbox = MailboxId(acct, "INBOX");

  // Concurrent unary Appends through both replicas.
  std::atomic<uint32_t> next{0};
  std::mutex mu;
  std::string first_error;
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int t = 0; t < 4; ++t) {
    rpc::MetadClient* client = t % 2 == 0 ? C().ca.get() : C().cb.get();
    threads.emplace_back([&, client] {
      for (;;) {
        uint32_t i = next.fetch_add(1);
        if (i >= kMessages) return;
        auto r = client->CallSync(&v1::Metadata::Stub::Append, AppendTo(acct, inbox, 1'000'000 + i));
        if (!r) {
          std::lock_guard lk(mu);
          if (first_error.empty()) first_error = r.error().message;
          next = kMessages;  // stop everyone
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(first_error, "") << "an Append failed";
  std::cout << "[ metad    ] " << kMessages << " appends over 4 threads / 2 replicas in "
            << std::fixed << std::setprecision(0) << Ms(Clock::now() - t0) << " ms" << std::endl;

  for (auto* stub : {&A(), &B()}) {
    v1::FetchRequest f;
    f.set_account_id(acct);
    f.set_mailbox_id(inbox);
    auto* range = f.mutable_uids()->add_ranges();
    range->set_first(1);
    range->set_last(0);  // 1:*
    f.set_page_size(1000);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
    auto reader = stub->Fetch(&ctx, f);
    v1::FetchResponse page;
    std::vector<int> sizes;
    std::vector<uint32_t> uids;
    while (reader->Read(&page)) {
      sizes.push_back(page.messages_size());
      for (const auto& m : page.messages()) uids.push_back(m.uid());
    }
    grpc::Status st = reader->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(sizes, (std::vector<int>{1000, 1000, 500}));
    ASSERT_EQ(uids.size(), kMessages);
    for (uint32_t i = 0; i < kMessages; ++i) ASSERT_EQ(uids[i], i + 1) << "at index " << i;
  }

  // FetchPage: one unary page, `more` while it is full; after_uid goes on from there
  // (imapd reads small FETCHes this way and streams the rest with Fetch(after_uid)).
  v1::FetchRequest f;
  f.set_account_id(acct);
  f.set_mailbox_id(inbox);
  auto* range = f.mutable_uids()->add_ranges();
  range->set_first(2);
  range->set_last(0);  // 2:*
  f.set_page_size(1000);
  f.set_after_uid(1500);
  grpc::ClientContext pctx;
  pctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
  v1::FetchResponse page;
  ASSERT_TRUE(A().FetchPage(&pctx, f, &page).ok());
  ASSERT_EQ(page.messages_size(), 1000);
  EXPECT_EQ(page.messages(0).uid(), 1501u);
  EXPECT_EQ(page.messages(999).uid(), 2500u);
  EXPECT_TRUE(page.more()) << "a full page may have more behind it";
  f.set_after_uid(2490);
  f.set_page_size(5000);  // capped at 1000
  grpc::ClientContext qctx;
  ASSERT_TRUE(B().FetchPage(&qctx, f, &page).ok());
  ASSERT_EQ(page.messages_size(), 10);
  EXPECT_EQ(page.messages(0).uid(), 2491u);
  EXPECT_FALSE(page.more());
  // The stream goes on after after_uid too.
  f.set_after_uid(1200);
  grpc::ClientContext sctx;
  auto reader = A().Fetch(&sctx, f);
  std::vector<uint32_t> rest;
  while (reader->Read(&page))
    for (const auto& m : page.messages()) rest.push_back(m.uid());
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(rest.size(), 1300u);
  EXPECT_EQ(rest.front(), 1201u);
  f.set_mailbox_id(inbox + 100000);
  f.set_after_uid(0);
  grpc::ClientContext rctx;
  EXPECT_EQ(A().FetchPage(&rctx, f, &page).error_code(), grpc::StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------ 5. kill -9 with an open Watch

TEST_F(MetadTest, KillNineEndsWatchPromptlyAndTheOtherReplicaServes) {
  uint64_t acct = NewAccount("kill");
  uint64_t inbox = MailboxId(acct, "INBOX");
  auto victim = StartExtra("metad-victim");
  rpc::MetadClient cv(victim->target(), seconds(10));

  {
    WatchStream w(cv.stub(), acct);
    ExpectReady(w);
    if (HasFatalFailure()) return;
    WatchStream on_a(A(), acct);
    ExpectReady(on_a);
    if (HasFatalFailure()) return;

    auto t0 = Clock::now();
    ::kill(victim->pid(), SIGKILL);
    auto st = w.WaitEnd(seconds(5));
    ASSERT_TRUE(st.has_value()) << "Watch stream still open 5 s after kill -9";
    double ms = Ms(w.ended_at() - t0);
    std::cout << "[ metad    ] Watch stream ended " << std::fixed << std::setprecision(1) << ms
              << " ms after kill -9: " << st->error_code() << " " << st->error_message() << std::endl;
    EXPECT_TRUE(st->error_code() == grpc::StatusCode::UNAVAILABLE || st->error_code() == grpc::StatusCode::CANCELLED)
        << "code " << st->error_code() << ": " << st->error_message();
    EXPECT_LT(ms, 2000.0);
    auto ws = victim->WaitExit(seconds(5));
    ASSERT_TRUE(ws.has_value());
    EXPECT_TRUE(WIFSIGNALED(*ws) && WTERMSIG(*ws) == SIGKILL) << DescribeWaitStatus(*ws);

    // A keeps serving: writes, reads and its own Watch streams.
    EXPECT_EQ(C().a->Readyz(), 200);
    auto r = Append(*C().ca, acct, inbox);
    EXPECT_EQ(r.uid(), 1u);
    auto got = on_a.WaitFor([&](const v1::MailboxChange& c) { return c.mailbox_id() == inbox; }, seconds(5), nullptr);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->change.highestmodseq(), r.modseq());
    // A call to the dead replica fails as "try again later".
    auto dead = cv.CallSync(&v1::Metadata::Stub::ListDomains, v1::ListDomainsRequest());
    ASSERT_FALSE(dead.has_value());
    EXPECT_EQ(dead.error().kind, ErrorKind::kUnavailable);
  }
}

// ------------------------------------------------------------ 6. SIGTERM drain

TEST_F(MetadTest, SigtermDrainsNotReadyThenExitsZeroWithinDrainTimeout) {
  uint64_t acct = NewAccount("drain");
  auto d = StartExtra("metad-drain");
  rpc::MetadClient cd(d->target(), seconds(10));
  ASSERT_EQ(d->Readyz(), 200);

  WatchStream w(cd.stub(), acct);
  ExpectReady(w);
  if (HasFatalFailure()) return;

  auto t0 = Clock::now();
  d->Signal(SIGTERM);
  // /readyz stops answering 200 (503 while draining, then nothing), and never comes back.
  bool saw_not_ready = false, saw_503 = false, ready_again = false;
  std::optional<Clock::duration> not_ready_after;
  std::optional<int> ws;
  auto limit = t0 + kDrainTimeout + seconds(5);
  while (Clock::now() < limit) {
    ws = d->WaitExit(milliseconds(0));
    if (ws) break;
    int code = d->Readyz(milliseconds(500));
    if (code != 200) {
      if (!saw_not_ready) not_ready_after = Clock::now() - t0;
      saw_not_ready = true;
      saw_503 = saw_503 || code == 503;
    } else if (saw_not_ready) {
      ready_again = true;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto exited_after = Clock::now() - t0;
  ASSERT_TRUE(ws.has_value()) << "still running " << Ms(exited_after) << " ms after SIGTERM";
  std::cout << "[ metad    ] SIGTERM: /readyz not 200 after "
            << (not_ready_after ? Ms(*not_ready_after) : -1.0) << " ms, exited (" << DescribeWaitStatus(*ws)
            << ") after " << Ms(exited_after) << " ms; drain_timeout " << Ms(kDrainTimeout) << " ms" << std::endl;
  EXPECT_TRUE(WIFEXITED(*ws) && WEXITSTATUS(*ws) == 0) << DescribeWaitStatus(*ws);
  EXPECT_TRUE(saw_not_ready) << "/readyz answered 200 until the process exited";
  EXPECT_TRUE(saw_503) << "/readyz never answered 503 while draining";
  EXPECT_FALSE(ready_again) << "/readyz answered 200 again during drain";
  ASSERT_TRUE(not_ready_after.has_value());
  EXPECT_LT(*not_ready_after, milliseconds(500)) << "readiness was withdrawn late";
  // Exit within the drain timeout; the slack covers process teardown (LISTEN thread,
  // worker pool) after the deadline ends the open Watch stream.
  EXPECT_LT(exited_after, kDrainTimeout + milliseconds(1500));
  // The open Watch stream was ended, not left hanging.
  auto st = w.WaitEnd(seconds(2));
  ASSERT_TRUE(st.has_value()) << "Watch stream still open after the process exited";
  EXPECT_FALSE(st->ok());
  // The rest of the cluster is unaffected.
  EXPECT_EQ(C().a->Readyz(), 200);
  EXPECT_EQ(C().b->Readyz(), 200);
}

// ------------------------------------------------------------ startup failure

TEST_F(MetadTest, MetricsPortInUseExitsOneAtOnce) {
  // Hold a listening socket on the port metad is told to use for /readyz.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto p = MetadProcess::Launch("metad-busy", C().dir.path(), C().db.uri(), ntohs(a.sin_port));
  auto ws = p->WaitExit(seconds(10));
  ::close(fd);
  ASSERT_TRUE(ws.has_value()) << "metad still running 10 s after its metrics endpoint failed; log:\n"
                              << p->LogTail(10);
  EXPECT_TRUE(WIFEXITED(*ws) && WEXITSTATUS(*ws) == 1) << DescribeWaitStatus(*ws);
}


// ------------------------------------------------------------ the outbound queue

v1::EnqueueRequest QueueMessage(const std::string& sender, std::vector<std::string> rcpts,
                                v1::Route route = v1::ROUTE_LOCAL) {
  v1::EnqueueRequest r;
  r.set_sender(sender);
  r.set_blob_id(BlobId(RandomU64()));
  r.set_size(321);
  r.set_body("8BITMIME");
  r.set_client_ip("198.51.100.4");
  r.set_helo("client.example");
  for (auto& a : rcpts) {
    auto* rc = r.add_recipients();
    rc->set_address(a);
    rc->set_route(route);
  }
  return r;
}

// Runs columbactl with `args` and only the given config (no inherited COLUMBA_*
// variables); returns its exit status and its stdout+stderr.
std::pair<int, std::string> RunColumbactl(const std::string& config, const std::string& args) {
  std::string binary = BuildDir() + "/services/columbactl/columbactl";
  if (::access(binary.c_str(), X_OK) != 0)
    throw std::runtime_error("no executable columbactl at " + binary + " (build the columbactl target)");
  std::string cmd = "env -i PATH=/usr/bin:/bin '" + binary + "' --config '" + config + "' " + args + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int st = ::pclose(f);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST_F(MetadTest, QueueOverGrpcEnqueueOnAClaimOnBothCompleteAnywhere) {
  rpc::QueueClient qa(C().a->target(), seconds(10));
  rpc::QueueClient qa_shared(C().ca->channel(), seconds(10));  // A again, over MetadClient's channel
  rpc::QueueClient qB(C().b->target(), seconds(10));
  std::vector<std::string> rcpts;
  for (int i = 0; i < 10; ++i) rcpts.push_back("q" + std::to_string(i) + "-" + Hex(RandomU64(), 6) + "@metad-test.example");
  std::string id = MUST(qa.Enqueue(QueueMessage("sender@example.org", rcpts)));
  ASSERT_EQ(id.size(), 16u);

  // The other replica sees it at once (committed before OK).
  auto m = MUST(qB.Get(id));
  EXPECT_EQ(m.sender(), "sender@example.org");
  EXPECT_EQ(m.recipients_size(), 10);
  EXPECT_EQ(MUST(qa_shared.Get(id)).id(), id);

  // Claims through both replicas split the recipients (other tests' messages may
  // be claimed too; only this message's recipients are counted).
  std::map<uint64_t, std::string> holder;
  for (int round = 0; round < 20; ++round) {
    bool any = false;
    for (auto [q, worker] : {std::pair<rpc::QueueClient*, const char*>{&qa, "wa"}, {&qB, "wb"}}) {
      v1::ClaimRequest c;
      c.set_worker(worker);
      c.set_route(v1::ROUTE_LOCAL);
      c.set_limit(3);
      c.set_lease_seconds(600);
      auto got = MUST(q->Claim(c));
      for (const auto& cm : got.messages()) {
        any = true;
        if (cm.message().id() != id) continue;
        for (const auto& r : cm.message().recipients())
          EXPECT_TRUE(holder.emplace(r.key(), worker).second) << "recipient " << r.key() << " claimed twice";
      }
    }
    if (!any) break;
  }
  ASSERT_EQ(holder.size(), 10u) << "all recipients claimed exactly once";

  // Complete on either replica; a report for another worker's lease is refused.
  v1::CompleteRequest wrong;
  wrong.set_queue_id(id);
  wrong.set_worker("wb");
  v1::CompleteRequest right_a, right_b;
  right_a.set_queue_id(id);
  right_a.set_worker("wa");
  right_b.set_queue_id(id);
  right_b.set_worker("wb");
  for (const auto& [key, worker] : holder) {
    auto* r = (worker == std::string("wa") ? right_a : right_b).add_results();
    r->set_key(key);
    r->set_outcome(v1::OUTCOME_DELIVERED);
    if (worker == std::string("wa") && wrong.results_size() == 0) *wrong.add_results() = *r;
  }
  if (wrong.results_size() > 0) {
    v1::CompleteResponse ignored;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    auto stub = v1::Queue::NewStub(C().cb->channel());
    grpc::Status s = stub->Complete(&ctx, wrong, &ignored);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    auto viaclient = qa.Complete(wrong);
    ASSERT_FALSE(viaclient.has_value());
    EXPECT_EQ(viaclient.error().kind, ErrorKind::kConflict) << viaclient.error().message;
  }
  bool finished = false;
  if (right_a.results_size() > 0) finished = MUST(qB.Complete(right_a)).finished();  // A's lease, reported via B
  if (right_b.results_size() > 0) finished = MUST(qa.Complete(right_b)).finished();
  EXPECT_TRUE(finished);
  auto gone = qa.Get(id);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
}

TEST_F(MetadTest, QueueErrorsMapToGrpcCodes) {
  auto stub = v1::Queue::NewStub(C().ca->channel());
  // INVALID_ARGUMENT: no recipients, a bad blob id; nothing stored.
  rpc::QueueClient q(C().a->target(), seconds(10));
  auto before = MUST(q.List(v1::ListQueueRequest()));
  for (auto req : {QueueMessage("s@example.org", {}), QueueMessage("s@example.org", {"a@b.example"})}) {
    if (req.recipients_size() > 0) req.set_blob_id("not-a-blob");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    v1::EnqueueResponse resp;
    grpc::Status s = stub->Enqueue(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_EQ(rpc::FromStatus(s).kind, ErrorKind::kInvalidInput);
  }
  auto after = MUST(q.List(v1::ListQueueRequest()));
  EXPECT_EQ(after.messages_size(), before.messages_size()) << "a refused Enqueue stored something";
  // NOT_FOUND: show / delete of an unknown id.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    v1::GetQueuedRequest g;
    g.set_queue_id("00000000deadbeef");
    v1::QueuedMessage out;
    EXPECT_EQ(stub->GetQueued(&ctx, g, &out).error_code(), grpc::StatusCode::NOT_FOUND);
    auto d = q.Delete("00000000deadbeef");
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error().kind, ErrorKind::kNotFound);
  }
  // UNAVAILABLE when PostgreSQL cannot be reached: a replica pointed at a closed
  // port answers gRPC but not ready; Enqueue must fail temporarily, never OK.
  extra_.push_back(MetadProcess::Launch("metad-nopg", C().dir.path(),
                                        "postgresql://columba:x@127.0.0.1:1/columba?connect_timeout=2"));
  auto* nopg = extra_.back().get();
  rpc::QueueClient down(nopg->target(), seconds(15));
  auto r = down.Enqueue(QueueMessage("s@example.org", {"a@b.example"}));
  ASSERT_FALSE(r.has_value()) << "Enqueue answered OK without PostgreSQL: " << *r;
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable) << r.error().message;
  EXPECT_TRUE(r.error().Temporary());
  EXPECT_NE(r.error().message.find("postgres"), std::string::npos) << r.error().message;
  EXPECT_TRUE(nopg->Running()) << nopg->LogTail(20);
}

TEST_F(MetadTest, ColumbactlQueueListShowDelete) {
  // Enqueued through metad (smtpd's path), inspected and deleted with the real
  // columbactl binary, as an operator would.
  rpc::QueueClient q(C().a->target(), seconds(10));
  std::string tag = Hex(RandomU64(), 6);
  std::string bob = "bob-" + tag + "@remote.example", carol = "carol-" + tag + "@metad-test.example";
  auto req = QueueMessage("alice-" + tag + "@example.org", {bob}, v1::ROUTE_REMOTE);
  auto* rc = req.add_recipients();
  rc->set_address(carol);
  rc->set_route(v1::ROUTE_LOCAL);
  rc->set_notify("FAILURE");
  rc->set_orcpt("rfc822;" + carol);
  std::string id = MUST(q.Enqueue(req));
  auto bounce = QueueMessage("", {"postmaster-" + tag + "@remote.example"}, v1::ROUTE_REMOTE);
  bounce.set_retry_after_seconds(3600);
  std::string bounce_id = MUST(q.Enqueue(bounce));
  // Give carol a deferral with an error; the runner name is unique to this test.
  std::string worker = "ctl-" + tag;
  bool deferred = false;
  for (int i = 0; i < 50 && !deferred; ++i) {
    v1::ClaimRequest c;
    c.set_worker(worker);
    c.set_route(v1::ROUTE_LOCAL);
    c.set_limit(1000);
    auto got = MUST(q.Claim(c));
    if (got.messages_size() == 0) break;
    for (const auto& cm : got.messages()) {
      v1::CompleteRequest done;
      done.set_queue_id(cm.message().id());
      done.set_worker(worker);
      for (const auto& r : cm.message().recipients()) {
        auto* res = done.add_results();
        res->set_key(r.key());
        bool ours = cm.message().id() == id;
        res->set_outcome(ours ? v1::OUTCOME_DEFERRED : v1::OUTCOME_DELIVERED);  // others: leave no lease behind
        res->set_error(ours ? "452 4.2.2 mailbox full" : "");
        res->set_retry_after_seconds(ours ? 3600 : 0);
        deferred = deferred || ours;
      }
      MUST(q.Complete(done));
    }
  }
  ASSERT_TRUE(deferred) << "could not claim carol's recipient";

  std::string config = C().dir.path() + "/columbactl.yaml";
  {
    std::ofstream f(config, std::ios::trunc);
    f << "metad:\n  address: '" << C().a->target() << "'\n";
  }
  auto [rc_list, list] = RunColumbactl(config, "queue list");
  EXPECT_EQ(rc_list, 0) << list;
  EXPECT_EQ(list.rfind("ID\tSENDER\tRECIPIENTS\tNEXT ATTEMPT\tLAST ERROR\n", 0), 0u) << list;
  std::string line, bounce_line;
  {
    std::istringstream in(list);
    for (std::string l; std::getline(in, l);) {
      if (l.rfind(id, 0) == 0) line = l;
      if (l.rfind(bounce_id, 0) == 0) bounce_line = l;
    }
  }
  EXPECT_EQ(line.rfind(id + "\t<" + req.sender() + ">\t", 0), 0u) << list;
  EXPECT_NE(line.find(bob + " +1 (2 pending)"), std::string::npos) << line;
  EXPECT_NE(line.find(" UTC\t452 4.2.2 mailbox full"), std::string::npos) << line;
  EXPECT_EQ(bounce_line.rfind(bounce_id + "\t<>\t", 0), 0u) << "null sender shown as <>: " << bounce_line;
  EXPECT_NE(bounce_line.find("(1 pending)"), std::string::npos) << bounce_line;
  EXPECT_EQ(bounce_line.substr(bounce_line.size() - 2), "\t-") << "no error yet: " << bounce_line;

  auto [rc_show, show] = RunColumbactl(config, "queue show " + id);
  EXPECT_EQ(rc_show, 0) << show;
  for (const std::string& want :
       {"id: " + id + "\n", "sender: <" + req.sender() + ">\n", "blob: " + req.blob_id() + "\n", std::string("size: 321\n"),
        std::string("body: 8BITMIME\n"), std::string("client-ip: 198.51.100.4\n"), std::string("helo: client.example\n"),
        std::string("last-error: 452 4.2.2 mailbox full\n"), "recipient: " + bob + "\n",
        std::string("  route: remote (smtp)\n  state: queued\n  attempts: 0\n"), "recipient: " + carol + "\n",
        std::string("  route: local (lmtp)\n  state: deferred\n  attempts: 1\n"),
        std::string("  notify: FAILURE\n  orcpt: rfc822;") + carol + "\n  leased-by: -\n"})
    EXPECT_NE(show.find(want), std::string::npos) << "missing '" << want << "' in:\n" << show;

  std::cout << "columbactl queue list:\n" << list << "columbactl queue show " << id << ":\n" << show;

  auto [rc_del, del] = RunColumbactl(config, "queue delete " + id);
  EXPECT_EQ(rc_del, 0) << del;
  EXPECT_EQ(del, "queued message " + id + " deleted\n");
  auto gone = q.Get(id);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
  auto [rc_again, again] = RunColumbactl(config, "queue delete " + id);
  EXPECT_EQ(rc_again, 1) << again;
  EXPECT_NE(again.find("no such queued message: " + id), std::string::npos) << again;
  auto [rc_show2, show2] = RunColumbactl(config, "queue show " + id);
  EXPECT_EQ(rc_show2, 1) << show2;
  auto [rc_list2, list2] = RunColumbactl(config, "queue list");
  EXPECT_EQ(rc_list2, 0) << list2;
  EXPECT_EQ(list2.find(id), std::string::npos) << list2;
  EXPECT_NE(list2.find(bounce_id), std::string::npos) << list2;
  auto cleanup = q.Delete(bounce_id);
  EXPECT_TRUE(cleanup.has_value()) << cleanup.error().message;
}

}  // namespace
}  // namespace columba
