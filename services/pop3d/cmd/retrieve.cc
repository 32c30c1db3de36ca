// retrieve.cc - RETR and TOP (RFC 1939 7): the message from the blob store,
// streamed in bounded chunks through lib/pop3's MultilineWriter (dot-stuffing,
// CRLF line ends, the terminating "."; for TOP the header block and n body
// lines, reading no more of the blob than that needs).
//
// Read-ahead: clients fetch a maildrop in order, and each worker-pool hop costs
// more than reading a small blob. So a message of at most kChunk octets is read
// together with the following small ones (up to pop3.read_ahead_bytes, 64
// messages) in one pool call; the others wait in the session until their RETR.
// Blobs never change, so what was read ahead is never stale.
//
// NEVER
//   Never holds more than one chunk (kChunk) of a large message, plus the
//   read-ahead (pop3.read_ahead_bytes) and the socket buffer; never sends "+OK" before the first chunk was read (a blob store
//   failure then is a clean -ERR [SYS/TEMP]); once part of a message is on the
//   wire a failure closes the connection (a truncated response must not look
//   complete).
#include <utility>
#include <vector>

#include "lib/base/log.h"
#include "lib/pop3/response.h"
#include "services/pop3d/commands.h"

namespace columba::pop3d {

namespace {

constexpr uint64_t kChunk = 64 * 1024;
constexpr size_t kMaxReadAhead = 64;  // messages per pool call

// Message `number` (at most kChunk octets) from the read-ahead, or read now
// with the next small messages of the maildrop.
asio::awaitable<Result<std::string>> ReadSmall(Session& s, uint32_t number) {
  ServerContext& ctx = s.ctx();
  auto& cache = s.read_ahead();
  Result<std::string> out = Fail(ErrorKind::kInternal, "not read");
  if (auto it = cache.find(number); it != cache.end()) {
    out = std::move(it->second);
    cache.erase(it);
    co_return out;
  }
  cache.clear();  // the client went its own way: start again from here
  std::vector<std::pair<uint32_t, std::string>> plan;  // number, blob id
  const auto& msgs = s.maildrop().messages;
  uint64_t total = 0;
  for (uint32_t n = number; n <= msgs.size() && plan.size() < kMaxReadAhead; ++n) {
    const auto& m = msgs[n - 1];
    if (m.deleted) continue;
    if (n != number && (m.size > kChunk || total + m.size > ctx.cfg.read_ahead_bytes)) break;
    plan.emplace_back(n, m.blob_id);
    total += m.size;
  }
  using Batch = std::vector<Result<std::string>>;
  Result<Batch> batch = co_await ctx.pool.Run([&ctx, &plan]() -> Result<Batch> {
    Batch b;
    b.reserve(plan.size());
    for (const auto& [n, blob] : plan) b.push_back(ctx.blobs.Read(blob, 0, kChunk));
    return b;
  });
  if (!batch) {
    out = tl::unexpected(batch.error());
  } else {
    for (size_t i = 1; i < batch->size(); ++i)
      if ((*batch)[i]) cache.emplace(plan[i].first, std::move(*(*batch)[i]));
    out = std::move((*batch)[0]);
  }
  co_return out;
}

asio::awaitable<void> Send(Session& s, uint32_t number, std::optional<uint32_t> top_lines) {
  ServerContext& ctx = s.ctx();
  const Maildrop::Message* m = s.maildrop().Find(number);
  if (!m) {
    s.Err("", "No such message.");
    co_return;
  }
  const std::string blob = m->blob_id;
  const uint64_t size = m->size;
  pop3::MultilineWriter writer(top_lines);
  uint64_t done = 0;
  bool started = false;
  while (true) {
    const uint64_t at = done;
    Result<std::string> chunk = Fail(ErrorKind::kInternal, "not read");
    if (size <= kChunk && ctx.cfg.read_ahead_bytes > 0) {
      chunk = co_await ReadSmall(s, number);
    } else {
      chunk = co_await ctx.pool.Run([&ctx, &blob, at]() { return ctx.blobs.Read(blob, at, kChunk); });
    }
    if (!chunk) {
      log::Warn("blob read failed", {{"blob", blob}, {"error", chunk.error().message}});
      ctx.metrics.Error("blob_store");
      if (started) {
        s.Close();  // part of the message is on the wire: it cannot be finished
      } else {
        s.Err("SYS/TEMP", "Cannot read the message now, try again later.");
      }
      co_return;
    }
    if (!started) {
      s.Ok(top_lines ? std::string("Top of message follows.") : std::to_string(size) + " octets");
      started = true;
    }
    done += chunk->size();
    const bool more = writer.Write(*chunk, s.output());  // stuffed straight into the output
    if (!more || chunk->size() < kChunk || size <= kChunk) break;
    bool flushed = co_await s.FlushIfLarge();
    if (!flushed) co_return;
  }
  writer.Finish(s.output());
  ctx.metrics.retrieved.Add({{"command", top_lines ? "TOP" : "RETR"}}).Increment();
}

}  // namespace

asio::awaitable<void> CmdRetr(Session& s, const pop3::Command& cmd) { co_await Send(s, *cmd.msg, std::nullopt); }

asio::awaitable<void> CmdTop(Session& s, const pop3::Command& cmd) { co_await Send(s, *cmd.msg, cmd.lines); }

}  // namespace columba::pop3d
