// memory_blob_store.h - the in-memory twin of the blob store (STYLE habit 7).
//
// NAME
//   MemoryBlobStore - BlobStore kept in a map, for unit tests and local tools.
// DESCRIPTION
//   Same contract as storage/blob/fs (content-addressed, dedupe, range reads cut at
//   the end, 64 KiB Stream chunks, nothing visible before Commit), checked by the
//   same conformance suite (storage/blob/conformance_test.cc). Thread-safe: one
//   mutex guards the map; blobs are immutable and shared, so reads and streams run
//   outside the lock and callbacks may call back into the store.
// NEVER
//   - is durable: it loses everything on exit; never wire it into a service
//     that acknowledges mail;
//   - accepts an id that fails IsValidBlobId.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "storage/api/blob_store.h"

namespace columba::storage {

class MemoryBlobStore final : public BlobStore {
 public:
  MemoryBlobStore() = default;

  Result<std::string> Put(std::string_view bytes) override;
  // The sink refers to this store: drop it before the store.
  Result<std::unique_ptr<BlobSink>> Create() override;
  Result<uint64_t> Size(std::string_view id) override;
  Result<std::string> Read(std::string_view id, uint64_t offset, uint64_t length) override;
  Result<void> Stream(std::string_view id, uint64_t offset, uint64_t length,
                      const std::function<bool(std::string_view)>& consumer) override;
  Result<void> Remove(std::string_view id) override;
  Result<void> ForEach(const std::function<void(std::string_view)>& fn) override;

  // Number of distinct blobs held (tests).
  size_t Count() const;

 private:
  class Sink;
  using Blob = std::shared_ptr<const std::string>;

  Result<Blob> Find(std::string_view id) const;
  std::string Insert(std::string bytes);

  mutable std::mutex mu_;
  std::map<std::string, Blob, std::less<>> blobs_;
};

}  // namespace columba::storage
