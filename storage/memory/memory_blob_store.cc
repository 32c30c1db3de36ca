// memory_blob_store.cc - MemoryBlobStore: a map from SHA-256 id to shared bytes.
//
// Must keep exactly the semantics of FsBlobStore (the conformance suite checks),
// and never hold its mutex while calling a caller's callback.
#include "storage/memory/memory_blob_store.h"

#include <algorithm>
#include <vector>

namespace columba::storage {
namespace {

constexpr size_t kStreamChunk = 64 * 1024;

tl::unexpected<Error> InvalidId() {
  return Fail(ErrorKind::kInvalidInput, "blob store: invalid blob id (want 64 lowercase hex digits)");
}

}  // namespace

class MemoryBlobStore::Sink final : public BlobSink {
 public:
  explicit Sink(MemoryBlobStore& store) : store_(store) {}

  Result<void> Write(std::string_view chunk) override {
    if (committed_) return Fail(ErrorKind::kInternal, "blob sink: write after commit");
    buf_.append(chunk);
    return {};
  }

  Result<std::string> Commit() override {
    if (committed_) return Fail(ErrorKind::kInternal, "blob sink: commit after commit");
    committed_ = true;
    return store_.Insert(std::move(buf_));
  }

 private:
  MemoryBlobStore& store_;
  std::string buf_;
  bool committed_ = false;
};

std::string MemoryBlobStore::Insert(std::string bytes) {
  std::string id = Sha256Hex(bytes);
  auto blob = std::make_shared<const std::string>(std::move(bytes));
  std::lock_guard lock(mu_);
  blobs_.try_emplace(id, std::move(blob));  // dedupe: an existing entry is identical
  return id;
}

Result<MemoryBlobStore::Blob> MemoryBlobStore::Find(std::string_view id) const {
  if (!IsValidBlobId(id)) return InvalidId();
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return Fail(ErrorKind::kNotFound, "blob store: no blob " + std::string(id));
  return it->second;
}

Result<std::string> MemoryBlobStore::Put(std::string_view bytes) { return Insert(std::string(bytes)); }

Result<std::unique_ptr<BlobSink>> MemoryBlobStore::Create() {
  return std::unique_ptr<BlobSink>(std::make_unique<Sink>(*this));
}

Result<uint64_t> MemoryBlobStore::Size(std::string_view id) {
  auto blob = Find(id);
  if (!blob) return tl::unexpected(blob.error());
  return static_cast<uint64_t>((*blob)->size());
}

Result<std::string> MemoryBlobStore::Read(std::string_view id, uint64_t offset, uint64_t length) {
  auto blob = Find(id);
  if (!blob) return tl::unexpected(blob.error());
  const std::string& bytes = **blob;
  if (offset >= bytes.size()) return std::string();
  return bytes.substr(static_cast<size_t>(offset),
                      static_cast<size_t>(std::min<uint64_t>(length, bytes.size() - offset)));
}

Result<void> MemoryBlobStore::Stream(std::string_view id, uint64_t offset, uint64_t length,
                                     const std::function<bool(std::string_view)>& consumer) {
  auto blob = Find(id);
  if (!blob) return tl::unexpected(blob.error());
  const std::string_view bytes = **blob;
  if (offset >= bytes.size()) return {};
  uint64_t remaining = std::min<uint64_t>(length, bytes.size() - offset);
  while (remaining > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kStreamChunk, remaining));
    if (!consumer(bytes.substr(static_cast<size_t>(offset), n))) break;
    offset += n;
    remaining -= n;
  }
  return {};
}

Result<void> MemoryBlobStore::Remove(std::string_view id) {
  if (!IsValidBlobId(id)) return InvalidId();
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return Fail(ErrorKind::kNotFound, "blob store: no blob " + std::string(id));
  blobs_.erase(it);
  return {};
}

Result<void> MemoryBlobStore::ForEach(const std::function<void(std::string_view)>& fn) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    ids.reserve(blobs_.size());
    for (const auto& [id, blob] : blobs_) ids.push_back(id);
  }
  for (const auto& id : ids) fn(id);
  return {};
}

size_t MemoryBlobStore::Count() const {
  std::lock_guard lock(mu_);
  return blobs_.size();
}

}  // namespace columba::storage
