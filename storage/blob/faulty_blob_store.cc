// faulty_blob_store.cc - FaultyBlobStore: decides per call whether to inject a fault.
//
// Must never turn an inner failure into success, and must be reproducible for a
// given seed and call order.
#include "storage/blob/faulty_blob_store.h"

#include <string>

namespace columba::storage {

struct FaultyBlobStore::State {
  std::mutex mu;
  std::mt19937_64 rng;
  std::array<BlobFault, kBlobOpCount> faults{};
  std::array<uint64_t, kBlobOpCount> calls{};
  std::array<uint64_t, kBlobOpCount> failures{};

  // Counts the call; returns the fault to inject, if any.
  std::optional<BlobFault> Decide(BlobOp op) {
    const size_t i = static_cast<size_t>(op);
    std::lock_guard lock(mu);
    const uint64_t n = ++calls[i];
    const BlobFault& f = faults[i];
    bool fire = f.every_nth != 0 && n % f.every_nth == 0;
    if (!fire && f.probability > 0) fire = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < f.probability;
    if (!fire) return std::nullopt;
    ++failures[i];
    return f;
  }
};

namespace {

const char* OpName(BlobOp op) {
  switch (op) {
    case BlobOp::kPut: return "put";
    case BlobOp::kCreate: return "create";
    case BlobOp::kSinkWrite: return "sink write";
    case BlobOp::kSinkCommit: return "sink commit";
    case BlobOp::kSize: return "size";
    case BlobOp::kRead: return "read";
    case BlobOp::kStream: return "stream";
    case BlobOp::kRemove: return "remove";
    case BlobOp::kForEach: return "foreach";
  }
  return "?";
}

tl::unexpected<Error> Injected(BlobOp op, const BlobFault& f) {
  return Fail(f.kind, std::string("blob store: injected failure (") + OpName(op) + (f.after ? ", after" : "") + ")");
}

// Runs `call` with the fault policy for `op` around it.
template <class T, class Call>
Result<T> Guard(FaultyBlobStore::State& state, BlobOp op, Call&& call) {
  auto fault = state.Decide(op);
  if (fault && !fault->after) return Injected(op, *fault);
  Result<T> r = call();
  if (fault && r) return Injected(op, *fault);
  return r;
}

class FaultySink final : public BlobSink {
 public:
  FaultySink(std::unique_ptr<BlobSink> inner, std::shared_ptr<FaultyBlobStore::State> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}

  Result<void> Write(std::string_view chunk) override {
    if (failed_) return Fail(ErrorKind::kInternal, "blob sink: write after failure");
    auto r = Guard<void>(*state_, BlobOp::kSinkWrite, [&] { return inner_->Write(chunk); });
    // Like a real sink, one failed write poisons it: a later Commit must not succeed
    // with a hole in the body.
    if (!r) failed_ = true;
    return r;
  }

  Result<std::string> Commit() override {
    if (failed_) return Fail(ErrorKind::kInternal, "blob sink: commit after failure");
    return Guard<std::string>(*state_, BlobOp::kSinkCommit, [&] { return inner_->Commit(); });
  }

 private:
  std::unique_ptr<BlobSink> inner_;
  std::shared_ptr<FaultyBlobStore::State> state_;
  bool failed_ = false;
};

}  // namespace

FaultyBlobStore::FaultyBlobStore(std::unique_ptr<BlobStore> inner, uint64_t seed)
    : inner_(std::move(inner)), state_(std::make_shared<State>()) {
  state_->rng.seed(seed);
}

void FaultyBlobStore::SetFault(BlobOp op, BlobFault fault) {
  std::lock_guard lock(state_->mu);
  state_->faults[static_cast<size_t>(op)] = fault;
}

void FaultyBlobStore::ClearFaults() {
  std::lock_guard lock(state_->mu);
  state_->faults.fill(BlobFault{});
}

uint64_t FaultyBlobStore::Calls(BlobOp op) const {
  std::lock_guard lock(state_->mu);
  return state_->calls[static_cast<size_t>(op)];
}

uint64_t FaultyBlobStore::Failures(BlobOp op) const {
  std::lock_guard lock(state_->mu);
  return state_->failures[static_cast<size_t>(op)];
}

Result<std::string> FaultyBlobStore::Put(std::string_view bytes) {
  return Guard<std::string>(*state_, BlobOp::kPut, [&] { return inner_->Put(bytes); });
}

Result<std::unique_ptr<BlobSink>> FaultyBlobStore::Create() {
  auto sink = Guard<std::unique_ptr<BlobSink>>(*state_, BlobOp::kCreate, [&] { return inner_->Create(); });
  if (!sink) return tl::unexpected(sink.error());
  return std::unique_ptr<BlobSink>(std::make_unique<FaultySink>(std::move(*sink), state_));
}

Result<uint64_t> FaultyBlobStore::Size(std::string_view id) {
  return Guard<uint64_t>(*state_, BlobOp::kSize, [&] { return inner_->Size(id); });
}

Result<std::string> FaultyBlobStore::Read(std::string_view id, uint64_t offset, uint64_t length) {
  return Guard<std::string>(*state_, BlobOp::kRead, [&] { return inner_->Read(id, offset, length); });
}

Result<void> FaultyBlobStore::Stream(std::string_view id, uint64_t offset, uint64_t length,
                                     const std::function<bool(std::string_view)>& consumer) {
  return Guard<void>(*state_, BlobOp::kStream, [&] { return inner_->Stream(id, offset, length, consumer); });
}

Result<void> FaultyBlobStore::Remove(std::string_view id) {
  return Guard<void>(*state_, BlobOp::kRemove, [&] { return inner_->Remove(id); });
}

Result<void> FaultyBlobStore::ForEach(const std::function<void(std::string_view)>& fn) {
  return Guard<void>(*state_, BlobOp::kForEach, [&] { return inner_->ForEach(fn); });
}

}  // namespace columba::storage
