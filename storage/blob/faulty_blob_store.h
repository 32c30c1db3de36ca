// faulty_blob_store.h - a BlobStore decorator that injects failures, for tests.
//
// NAME
//   FaultyBlobStore - in the spirit of Dovecot's fs-randomfail driver.
// SYNOPSIS
//   FaultyBlobStore store(std::make_unique<MemoryBlobStore>());
//   store.SetFault(BlobOp::kPut, {.every_nth = 3});        // calls 3, 6, 9... fail
//   store.SetFault(BlobOp::kSinkCommit, {.probability = 0.2, .after = true});
// DESCRIPTION
//   Wraps another store and makes chosen operations fail with a chosen ErrorKind
//   (kUnavailable by default): every Nth call, and/or at random with a seeded,
//   reproducible generator. A fault fires either before the inner call (nothing
//   happened) or `after` it (the inner store did the work but the caller is told it
//   failed, as when an fsync or an S3 acknowledgement is lost). Tests of callers use
//   it to prove they never acknowledge mail when the blob store reported failure.
//   Counters tell how many calls and injected failures each operation saw.
// NEVER
//   - belongs in a production wiring; it exists to make things fail;
//   - reports success for a call the inner store failed (faults only add failures).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>

#include "storage/api/blob_store.h"

namespace columba::storage {

enum class BlobOp { kPut, kCreate, kSinkWrite, kSinkCommit, kSize, kRead, kStream, kRemove, kForEach };
inline constexpr size_t kBlobOpCount = 9;

struct BlobFault {
  uint64_t every_nth = 0;     // 0: off; N: the Nth, 2Nth, ... call of this op fails (1: all)
  double probability = 0.0;   // independent chance per call, 0..1
  bool after = false;         // fail after the inner call succeeded instead of before it
  ErrorKind kind = ErrorKind::kUnavailable;
};

class FaultyBlobStore final : public BlobStore {
 public:
  explicit FaultyBlobStore(std::unique_ptr<BlobStore> inner, uint64_t seed = 1);

  void SetFault(BlobOp op, BlobFault fault);
  void ClearFaults();
  uint64_t Calls(BlobOp op) const;
  uint64_t Failures(BlobOp op) const;
  BlobStore& inner() { return *inner_; }

  Result<std::string> Put(std::string_view bytes) override;
  Result<std::unique_ptr<BlobSink>> Create() override;
  Result<uint64_t> Size(std::string_view id) override;
  Result<std::string> Read(std::string_view id, uint64_t offset, uint64_t length) override;
  Result<void> Stream(std::string_view id, uint64_t offset, uint64_t length,
                      const std::function<bool(std::string_view)>& consumer) override;
  Result<void> Remove(std::string_view id) override;
  Result<void> ForEach(const std::function<void(std::string_view)>& fn) override;

  // Shared with the sinks this store hands out, so a sink may outlive the store.
  struct State;

 private:
  std::unique_ptr<BlobStore> inner_;
  std::shared_ptr<State> state_;
};

}  // namespace columba::storage
