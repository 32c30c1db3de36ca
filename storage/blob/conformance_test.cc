// conformance_test.cc - the one BlobStore conformance suite (STYLE habit 7).
//
// Every BlobStore backend must pass the parameterized suite below unchanged: the fs
// store in a fresh temp directory, the in-memory twin, and the fault-injecting
// decorator with no faults set (it must be transparent). Backend-specific checks
// (files where the layout says, temp files never visible) follow at the end.
// Never weaken a check here to make one backend pass; fix the backend.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "storage/blob/faulty_blob_store.h"
#include "storage/blob/fs/fs_blob_store.h"
#include "storage/memory/memory_blob_store.h"

namespace columba::storage {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 * 1024;
const std::string kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbcSha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/columba-blob-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<BlobStore>(const fs::path&)> make;
};
void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

std::unique_ptr<BlobStore> MakeFs(const fs::path& dir) {
  auto store = FsBlobStore::Open(dir / "blobs");
  if (!store) ADD_FAILURE() << store.error().message;
  return store ? std::move(*store) : nullptr;
}

std::vector<Backend> Backends() {
  return {
      {"fs", MakeFs},
      {"memory", [](const fs::path&) -> std::unique_ptr<BlobStore> { return std::make_unique<MemoryBlobStore>(); }},
      {"faulty_fs_no_faults",
       [](const fs::path& dir) -> std::unique_ptr<BlobStore> {
         return std::make_unique<FaultyBlobStore>(MakeFs(dir));
       }},
  };
}

class BlobStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(dir_.path());
    ASSERT_NE(store_, nullptr);
  }

  std::set<std::string> Listed() {
    std::set<std::string> ids;
    auto r = store_->ForEach([&](std::string_view id) { EXPECT_TRUE(ids.emplace(id).second) << "listed twice"; });
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return ids;
  }

  std::string MustPut(std::string_view bytes) {
    auto id = store_->Put(bytes);
    EXPECT_TRUE(id.has_value()) << id.error().message;
    return id.value_or("");
  }

  TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_P(BlobStoreConformance, RoundTripEmptySmallAndLarge) {
  for (const std::string& bytes : {std::string(), std::string("abc"), std::string("a\0b\r\n.\r\n", 8),
                                   RandomBytes(5 * 1024 * 1024, 42)}) {
    std::string id = MustPut(bytes);
    EXPECT_EQ(id, Sha256Hex(bytes));
    auto size = store_->Size(id);
    ASSERT_TRUE(size.has_value()) << size.error().message;
    EXPECT_EQ(*size, bytes.size());
    auto back = ReadAll(*store_, id);
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_TRUE(*back == bytes) << "bytes differ for a blob of " << bytes.size() << " octets";
  }
}

TEST_P(BlobStoreConformance, IdIsSha256Hex) {
  EXPECT_EQ(MustPut(""), kEmptySha);
  EXPECT_EQ(MustPut("abc"), kAbcSha);
  auto sink = store_->Create();
  ASSERT_TRUE(sink.has_value());
  ASSERT_TRUE((*sink)->Write("a").has_value());
  ASSERT_TRUE((*sink)->Write("").has_value());
  ASSERT_TRUE((*sink)->Write("bc").has_value());
  auto id = (*sink)->Commit();
  ASSERT_TRUE(id.has_value()) << id.error().message;
  EXPECT_EQ(*id, kAbcSha);
}

TEST_P(BlobStoreConformance, DedupeStoresOnce) {
  const std::string bytes = RandomBytes(100000, 7);
  std::string a = MustPut(bytes);
  std::string b = MustPut(bytes);
  auto sink = store_->Create();
  ASSERT_TRUE(sink.has_value());
  ASSERT_TRUE((*sink)->Write(std::string_view(bytes).substr(0, 5000)).has_value());
  ASSERT_TRUE((*sink)->Write(std::string_view(bytes).substr(5000)).has_value());
  auto c = (*sink)->Commit();
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, *c);
  EXPECT_EQ(Listed(), std::set<std::string>{a});
  EXPECT_EQ(ReadAll(*store_, a).value_or(""), bytes);
}

TEST_P(BlobStoreConformance, RangeReads) {
  const std::string bytes = "0123456789";
  std::string id = MustPut(bytes);
  auto read = [&](uint64_t off, uint64_t len) {
    auto r = store_->Read(id, off, len);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or("<error>");
  };
  EXPECT_EQ(read(0, UINT64_MAX), bytes);
  EXPECT_EQ(read(2, 5), "23456");
  EXPECT_EQ(read(0, 0), "");
  EXPECT_EQ(read(7, 100), "789");         // length past the end is cut
  EXPECT_EQ(read(9, UINT64_MAX), "9");    // no overflow in offset + length
  EXPECT_EQ(read(10, 5), "");             // offset at the end
  EXPECT_EQ(read(11, 5), "");             // offset beyond the end
  EXPECT_EQ(read(UINT64_MAX, UINT64_MAX), "");
}

TEST_P(BlobStoreConformance, StreamChunksConcatenateAndStopEarly) {
  const std::string bytes = RandomBytes(5 * 1024 * 1024 + 123, 9);
  std::string id = MustPut(bytes);

  std::string joined;
  size_t calls = 0;
  auto r = store_->Stream(id, 0, UINT64_MAX, [&](std::string_view chunk) {
    ++calls;
    EXPECT_GT(chunk.size(), 0u);
    EXPECT_LE(chunk.size(), kChunk);
    joined.append(chunk);
    return true;
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(joined == bytes);
  EXPECT_EQ(calls, (bytes.size() + kChunk - 1) / kChunk);

  calls = 0;
  r = store_->Stream(id, 0, UINT64_MAX, [&](std::string_view) { return ++calls < 2; });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(calls, 2u);

  // A range: starts mid-chunk, ends past the end.
  joined.clear();
  r = store_->Stream(id, 100000, UINT64_MAX, [&](std::string_view c) { joined.append(c); return true; });
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(joined == bytes.substr(100000));
  joined.clear();
  r = store_->Stream(id, 70000, 3, [&](std::string_view c) { joined.append(c); return true; });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(joined, bytes.substr(70000, 3));

  // Empty blob and offset past the end: the consumer is never called.
  std::string empty = MustPut("");
  for (auto [sid, off] : {std::pair{empty, uint64_t{0}}, std::pair{id, uint64_t{bytes.size() + 1}}}) {
    r = store_->Stream(sid, off, UINT64_MAX, [&](std::string_view) {
      ADD_FAILURE() << "consumer called";
      return true;
    });
    EXPECT_TRUE(r.has_value());
  }
}

TEST_P(BlobStoreConformance, SinkWithoutCommitLeavesNothing) {
  {
    auto sink = store_->Create();
    ASSERT_TRUE(sink.has_value()) << sink.error().message;
    ASSERT_TRUE((*sink)->Write("half a message").has_value());
  }
  EXPECT_TRUE(Listed().empty());
  EXPECT_EQ(store_->Size(Sha256Hex("half a message")).error().kind, ErrorKind::kNotFound);
}

TEST_P(BlobStoreConformance, SinkIsSingleUse) {
  auto sink = store_->Create();
  ASSERT_TRUE(sink.has_value());
  ASSERT_TRUE((*sink)->Write("x").has_value());
  ASSERT_TRUE((*sink)->Commit().has_value());
  EXPECT_FALSE((*sink)->Write("y").has_value());
  EXPECT_FALSE((*sink)->Commit().has_value());
  EXPECT_EQ(ReadAll(*store_, Sha256Hex("x")).value_or(""), "x");
}

TEST_P(BlobStoreConformance, MissingBlobIsNotFound) {
  const std::string id = Sha256Hex("never stored");
  EXPECT_EQ(store_->Size(id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->Read(id, 0, 10).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->Stream(id, 0, 10, [](std::string_view) { return true; }).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->Remove(id).error().kind, ErrorKind::kNotFound);
}

TEST_P(BlobStoreConformance, Remove) {
  std::string keep = MustPut("keep");
  std::string drop = MustPut("drop");
  ASSERT_TRUE(store_->Remove(drop).has_value());
  EXPECT_EQ(store_->Read(drop, 0, 10).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->Remove(drop).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(Listed(), std::set<std::string>{keep});
  EXPECT_EQ(MustPut("drop"), drop);  // can be stored again
  EXPECT_EQ(ReadAll(*store_, drop).value_or(""), "drop");
}

TEST_P(BlobStoreConformance, ForEachListsExactlyWhatIsStored) {
  EXPECT_TRUE(Listed().empty());
  std::set<std::string> want;
  for (int i = 0; i < 40; ++i) want.insert(MustPut("blob " + std::to_string(i)));
  for (int i = 0; i < 40; i += 4) {
    std::string id = Sha256Hex("blob " + std::to_string(i));
    ASSERT_TRUE(store_->Remove(id).has_value());
    want.erase(id);
  }
  EXPECT_EQ(Listed(), want);
  // The callback may remove what it is handed (garbage collection does).
  auto r = store_->ForEach([&](std::string_view id) { EXPECT_TRUE(store_->Remove(id).has_value()); });
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(Listed().empty());
}

TEST_P(BlobStoreConformance, InvalidIdsAreRejected) {
  const std::string good = MustPut("target");
  std::string upper = good;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return std::toupper(c); });
  const std::string bad_ids[] = {
      "../../etc/passwd",
      upper,
      "abc",
      "",
      good + "0",
      good.substr(0, 63),
      good.substr(0, 2) + "/" + good.substr(3),
      "../" + good.substr(3),
      good.substr(0, 32) + std::string(1, '\0') + good.substr(33),
      std::string(64, 'g'),
      "tmp/" + good.substr(4),
  };
  for (const std::string& id : bad_ids) {
    SCOPED_TRACE(testing::Message() << "id of " << id.size() << " octets");
    EXPECT_EQ(store_->Size(id).error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(store_->Read(id, 0, 10).error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(store_->Stream(id, 0, 10, [](std::string_view) {
                       ADD_FAILURE() << "consumer called for an invalid id";
                       return true;
                     }).error().kind,
              ErrorKind::kInvalidInput);
    EXPECT_EQ(store_->Remove(id).error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_EQ(ReadAll(*store_, good).value_or(""), "target");
}

TEST_P(BlobStoreConformance, ConcurrentOverlappingPuts) {
  constexpr int kThreads = 8, kPerThread = 30, kDistinct = 12;
  std::vector<std::string> contents;
  for (int i = 0; i < kDistinct; ++i) contents.push_back(RandomBytes(1000 + i * 7919, 100 + i));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string& bytes = contents[(t + i) % kDistinct];
        Result<std::string> id;
        if (i % 3 == 0) {  // mix streaming writes in
          auto sink = store_->Create();
          if (!sink || !(*sink)->Write(bytes)) {
            ++failures;
            continue;
          }
          id = (*sink)->Commit();
        } else {
          id = store_->Put(bytes);
        }
        if (!id || *id != Sha256Hex(bytes)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> want;
  for (const auto& bytes : contents) {
    want.insert(Sha256Hex(bytes));
    auto back = ReadAll(*store_, Sha256Hex(bytes));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_TRUE(*back == bytes);
  }
  EXPECT_EQ(Listed(), want);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BlobStoreConformance, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// fs-only checks.

class FsBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "blobs";
    auto s = FsBlobStore::Open(root_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
  }

  // Every regular file under root_, relative paths.
  std::set<std::string> Files() {
    std::set<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(root_))
      if (e.is_regular_file()) out.insert(fs::relative(e.path(), root_).string());
    return out;
  }

  TempDir dir_;
  fs::path root_;
  std::unique_ptr<FsBlobStore> store_;
};

TEST_F(FsBlobStoreTest, FilesAreWhereTheLayoutSays) {
  auto id = store_->Put("hello");
  ASSERT_TRUE(id.has_value());
  const std::string rel = id->substr(0, 2) + "/" + id->substr(2, 2) + "/" + *id;
  EXPECT_EQ(store_->PathFor(*id), root_ / rel);
  EXPECT_EQ(Files(), std::set<std::string>{rel});
  std::ifstream in(root_ / rel, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "hello");
  EXPECT_TRUE(fs::is_directory(root_ / "tmp"));
  // Dedupe leaves one file and no temp file.
  ASSERT_TRUE(store_->Put("hello").has_value());
  auto sink = store_->Create();
  ASSERT_TRUE(sink.has_value());
  ASSERT_TRUE((*sink)->Write("hello").has_value());
  ASSERT_TRUE((*sink)->Commit().has_value());
  EXPECT_EQ(Files(), std::set<std::string>{rel});
}

TEST_F(FsBlobStoreTest, PrecreatedFanoutIsLaidOutOnceAndSurvivesADeletedDirectory) {
  auto id = store_->Put("before");
  ASSERT_TRUE(id.has_value());
  store_.reset();
  auto laid = FsBlobStore::Open(root_, true);
  ASSERT_TRUE(laid.has_value()) << laid.error().message;
  EXPECT_TRUE(fs::exists(root_ / ".fanout"));
  EXPECT_TRUE(fs::is_directory(root_ / "00" / "00"));
  EXPECT_TRUE(fs::is_directory(root_ / "ff" / "ff"));
  EXPECT_EQ(ReadAll(**laid, *id).value_or(""), "before");  // earlier blobs untouched
  // A directory removed by hand after the layout: the next Put makes it again.
  auto probe = (*laid)->Put("probe");
  ASSERT_TRUE(probe.has_value());
  const fs::path d2 = root_ / probe->substr(0, 2) / probe->substr(2, 2);
  fs::remove_all(d2);
  auto again = (*laid)->Put("probe");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(ReadAll(**laid, *again).value_or(""), "probe");
  // Opening again with the marker present does not redo the layout.
  auto reopened = FsBlobStore::Open(root_, true);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ(ReadAll(**reopened, *again).value_or(""), "probe");
}

TEST_F(FsBlobStoreTest, ReopenSeesEarlierBlobs) {
  auto id = store_->Put("persist me");
  ASSERT_TRUE(id.has_value());
  store_.reset();
  auto again = FsBlobStore::Open(root_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(ReadAll(**again, *id).value_or(""), "persist me");
}

TEST_F(FsBlobStoreTest, UncommittedSinkLeavesNoTempFile) {
  {
    auto sink = store_->Create();
    ASSERT_TRUE(sink.has_value());
    ASSERT_TRUE((*sink)->Write("abandoned").has_value());
    EXPECT_EQ(Files().size(), 1u);  // the temp file, while the sink lives
  }
  EXPECT_TRUE(Files().empty());
}

TEST_F(FsBlobStoreTest, StaleTempFileIsInvisibleAndRemoved) {
  // A crashed writer's leftovers: one old temp file, named like a blob too.
  const std::string fake_id = Sha256Hex("crash");
  for (const std::string& name : {std::string("4242.0.0011223344556677.tmp"), fake_id}) {
    std::ofstream(root_ / "tmp" / name) << "crash";
    fs::last_write_time(root_ / "tmp" / name, fs::file_time_type::clock::now() - std::chrono::hours(2));
  }
  // A live sink, whose temp file is fresh.
  auto live = store_->Create();
  ASSERT_TRUE(live.has_value());
  ASSERT_TRUE((*live)->Write("in flight").has_value());
  // Strays inside the fan-out that are not valid blob names.
  fs::create_directories(root_ / "ab" / "cd");
  std::ofstream(root_ / "ab" / "cd" / "notablob") << "x";

  std::set<std::string> listed;
  ASSERT_TRUE(store_->ForEach([&](std::string_view id) { listed.emplace(id); }).has_value());
  EXPECT_TRUE(listed.empty());
  EXPECT_EQ(store_->Size(fake_id).error().kind, ErrorKind::kNotFound);

  auto removed = store_->RemoveStaleTemp(std::chrono::hours(1));
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 2u);
  EXPECT_FALSE(fs::exists(root_ / "tmp" / fake_id));
  // The live write was left alone and still commits.
  auto id = (*live)->Commit();
  ASSERT_TRUE(id.has_value()) << id.error().message;
  EXPECT_EQ(ReadAll(*store_, *id).value_or(""), "in flight");
  EXPECT_EQ(store_->RemoveStaleTemp(std::chrono::hours(1)).value_or(99), 0u);
}

TEST_F(FsBlobStoreTest, InvalidIdNeverTouchesTheFilesystem) {
  // With the root gone, any filesystem access would report kNotFound; validation
  // must answer first.
  fs::remove_all(root_);
  for (const std::string& id : {std::string("../../etc/passwd"), std::string(64, 'A'), std::string("ab")}) {
    EXPECT_EQ(store_->Size(id).error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(store_->Read(id, 0, 1).error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(store_->Remove(id).error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_EQ(store_->Size(std::string(64, 'a')).error().kind, ErrorKind::kNotFound);
}

TEST_F(FsBlobStoreTest, EnvironmentFailuresAreUnavailable) {
  // The fan-out directory is a file: the write cannot be placed. Nothing may be
  // acknowledged and the temp file must not linger.
  const std::string bytes = "blocked";
  const std::string id = Sha256Hex(bytes);
  std::ofstream(root_ / id.substr(0, 2)) << "not a directory";
  auto r = store_->Put(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(r.error().message.find("Not a directory"), std::string::npos) << r.error().message;
  EXPECT_TRUE(fs::is_empty(root_ / "tmp"));
}

TEST_F(FsBlobStoreTest, OpenFailsOnAFile) {
  std::ofstream(dir_.path() / "file") << "x";
  auto s = FsBlobStore::Open(dir_.path() / "file");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace columba::storage
