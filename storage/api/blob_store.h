// blob_store.h - the interface to immutable message bodies (DESIGN: blob store).
//
// Blobs are addressed by the lowercase hex SHA-256 of their bytes, so a Put of
// bytes that already exist is a cheap no-op (dedupe) and a blob id can never point
// at different bytes. Put returns only after the bytes are durable (fs: fsync of the
// file and of its directory; s3: the object store acknowledged). Every call blocks:
// run it on a worker pool, never on an event-loop thread.
//
// Backends: storage/blob/fs (default), storage/memory (unit tests), S3 later. One
// conformance suite (storage/blob/conformance_test.cc) runs against each.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::storage {

// A blob id: 64 lowercase hex digits of SHA-256. IsValidBlobId guards every
// backend against path tricks in ids that came over the network.
bool IsValidBlobId(std::string_view id);
std::string Sha256Hex(std::string_view bytes);
// Lower-case hex of raw bytes (a digest into a blob id).
std::string HexEncode(const unsigned char* bytes, size_t n);

// Streaming writer for bodies too large to hold in memory. Nothing is visible
// under the id until Commit returns successfully; dropping the sink without
// Commit discards what was written.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual Result<void> Write(std::string_view chunk) = 0;
  // Makes the blob durable and returns its id.
  virtual Result<std::string> Commit() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores bytes durably; returns their id. Identical bytes are stored once.
  virtual Result<std::string> Put(std::string_view bytes) = 0;
  // Starts a streaming write.
  virtual Result<std::unique_ptr<BlobSink>> Create() = 0;
  // Size in octets; kNotFound when absent.
  virtual Result<uint64_t> Size(std::string_view id) = 0;
  // Reads up to `length` octets from `offset` (a range read; length may run past
  // the end and is then cut). kNotFound when absent.
  virtual Result<std::string> Read(std::string_view id, uint64_t offset, uint64_t length) = 0;
  // Streams the whole blob (or a range) to `consumer` in chunks, bounded memory.
  // The consumer returns false to stop early.
  virtual Result<void> Stream(std::string_view id, uint64_t offset, uint64_t length,
                              const std::function<bool(std::string_view)>& consumer) = 0;
  // Removes a blob (garbage collection only; callers must know it is unreferenced).
  virtual Result<void> Remove(std::string_view id) = 0;
  // Calls fn for every stored id (for garbage collection).
  virtual Result<void> ForEach(const std::function<void(std::string_view)>& fn) = 0;
};

// Reads the whole blob (convenience for small blobs and tests).
inline Result<std::string> ReadAll(BlobStore& store, std::string_view id) {
  return store.Read(id, 0, UINT64_MAX);
}

}  // namespace columba::storage
