// faulty_blob_store_test.cc - the fault injector injects what it is told, only that,
// reproducibly; and a caller that acknowledges only on success loses nothing.
//
// Never let a test here depend on timing or on an unseeded random source.
#include "storage/blob/faulty_blob_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "storage/memory/memory_blob_store.h"

namespace columba::storage {
namespace {

class FaultyBlobStoreTest : public ::testing::Test {
 protected:
  FaultyBlobStoreTest() {
    auto inner = std::make_unique<MemoryBlobStore>();
    memory_ = inner.get();
    store_ = std::make_unique<FaultyBlobStore>(std::move(inner), /*seed=*/1234);
  }
  MemoryBlobStore* memory_;
  std::unique_ptr<FaultyBlobStore> store_;
};

TEST_F(FaultyBlobStoreTest, EveryNthPutFailsBeforeStoring) {
  store_->SetFault(BlobOp::kPut, {.every_nth = 3});
  std::vector<bool> ok;
  for (int i = 1; i <= 7; ++i) {
    auto r = store_->Put("msg " + std::to_string(i));
    ok.push_back(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
      EXPECT_TRUE(r.error().Temporary());
      // A fault before the call: nothing was stored.
      EXPECT_EQ(memory_->Size(Sha256Hex("msg " + std::to_string(i))).error().kind, ErrorKind::kNotFound);
    }
  }
  EXPECT_EQ(ok, (std::vector<bool>{true, true, false, true, true, false, true}));
  EXPECT_EQ(store_->Calls(BlobOp::kPut), 7u);
  EXPECT_EQ(store_->Failures(BlobOp::kPut), 2u);
}

TEST_F(FaultyBlobStoreTest, FaultAfterTheCallStoresButReportsFailure) {
  store_->SetFault(BlobOp::kPut, {.every_nth = 1, .after = true, .kind = ErrorKind::kInternal});
  auto r = store_->Put("lost ack");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
  EXPECT_EQ(memory_->Count(), 1u);
}

TEST_F(FaultyBlobStoreTest, FailedSinkWriteFailsTheCommit) {
  store_->SetFault(BlobOp::kSinkWrite, {.every_nth = 2});
  auto sink = store_->Create();
  ASSERT_TRUE(sink.has_value());
  EXPECT_TRUE((*sink)->Write("part one, ").has_value());
  EXPECT_FALSE((*sink)->Write("part two").has_value());
  // A caller that ignores the write error still cannot commit a body with a hole.
  EXPECT_FALSE((*sink)->Commit().has_value());
  EXPECT_EQ(memory_->Count(), 0u);
}

TEST_F(FaultyBlobStoreTest, CommitAndReadFaults) {
  auto id = store_->Put("body");
  ASSERT_TRUE(id.has_value());
  store_->SetFault(BlobOp::kSinkCommit, {.every_nth = 1});
  store_->SetFault(BlobOp::kRead, {.every_nth = 1});
  store_->SetFault(BlobOp::kStream, {.every_nth = 1});
  auto sink = store_->Create();
  ASSERT_TRUE(sink.has_value());
  ASSERT_TRUE((*sink)->Write("other").has_value());
  EXPECT_FALSE((*sink)->Commit().has_value());
  EXPECT_FALSE(store_->Read(*id, 0, 10).has_value());
  bool called = false;
  EXPECT_FALSE(store_->Stream(*id, 0, 10, [&](std::string_view) { return called = true; }).has_value());
  EXPECT_FALSE(called);
  store_->ClearFaults();
  EXPECT_EQ(ReadAll(*store_, *id).value_or(""), "body");
}

TEST_F(FaultyBlobStoreTest, InnerFailuresPassThrough) {
  store_->SetFault(BlobOp::kSize, {.every_nth = 1, .after = true});
  auto r = store_->Size("not an id");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);  // the inner error, not success
}

TEST_F(FaultyBlobStoreTest, RandomFaultsAreReproducible) {
  auto pattern = [](uint64_t seed) {
    FaultyBlobStore s(std::make_unique<MemoryBlobStore>(), seed);
    s.SetFault(BlobOp::kPut, {.probability = 0.3});
    std::vector<bool> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.Put(std::to_string(i)).has_value());
    return out;
  };
  auto a = pattern(7), b = pattern(7);
  EXPECT_EQ(a, b);
  const auto fails = std::count(a.begin(), a.end(), false);
  EXPECT_GT(fails, 30);
  EXPECT_LT(fails, 90);
}

// The pattern every caller must follow: acknowledge only after Put returned an id.
TEST_F(FaultyBlobStoreTest, AcknowledgedOnlyOnSuccessLosesNothing) {
  store_->SetFault(BlobOp::kPut, {.probability = 0.25});
  store_->SetFault(BlobOp::kSinkCommit, {.probability = 0.25, .after = true});
  std::vector<std::pair<std::string, std::string>> acknowledged;  // id, body
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string body = "message " + std::to_string(i);
    Result<std::string> id;
    if (i % 2 == 0) {
      id = store_->Put(body);
    } else if (auto sink = store_->Create(); sink && (*sink)->Write(body)) {
      id = (*sink)->Commit();
    } else {
      id = Fail(ErrorKind::kUnavailable, "create/write");
    }
    if (id) {
      acknowledged.emplace_back(*id, body);
    } else {
      ++refused;  // would be 451 / NO [UNAVAILABLE]; the sender retries
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(acknowledged.size() + refused, 200u);
  store_->ClearFaults();
  for (const auto& [id, body] : acknowledged) EXPECT_EQ(ReadAll(*store_, id).value_or(""), body);
}

}  // namespace
}  // namespace columba::storage
