// retrieve.cc - RETR and TOP (RFC 1939 7): the message from the blob store,
// streamed in bounded chunks through lib/pop3's MultilineWriter (dot-stuffing,
// CRLF line ends, the terminating "."; for TOP the header block and n body
// lines, reading no more of the blob than that needs).
//
// NEVER
//   Never holds more than one chunk (kChunk) of a message plus the socket
//   buffer; never sends "+OK" before the first chunk was read (a blob store
//   failure then is a clean -ERR [SYS/TEMP]); once part of a message is on the
//   wire a failure closes the connection (a truncated response must not look
//   complete).
#include "lib/base/log.h"
#include "lib/pop3/response.h"
#include "services/pop3d/commands.h"

namespace columba::pop3d {

namespace {

constexpr uint64_t kChunk = 64 * 1024;

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
  std::string out;
  uint64_t done = 0;
  bool started = false;
  while (true) {
    const uint64_t at = done;
    auto chunk = co_await ctx.pool.Run([&ctx, &blob, at]() { return ctx.blobs.Read(blob, at, kChunk); });
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
    out.clear();
    const bool more = writer.Write(*chunk, out);
    s.Queue(out);
    if (!more || chunk->size() < kChunk) break;
    bool flushed = co_await s.FlushIfLarge();
    if (!flushed) co_return;
  }
  out.clear();
  writer.Finish(out);
  s.Queue(out);
  ctx.metrics.retrieved.Add({{"command", top_lines ? "TOP" : "RETR"}}).Increment();
}

}  // namespace

asio::awaitable<void> CmdRetr(Session& s, const pop3::Command& cmd) { co_await Send(s, *cmd.msg, std::nullopt); }

asio::awaitable<void> CmdTop(Session& s, const pop3::Command& cmd) { co_await Send(s, *cmd.msg, cmd.lines); }

}  // namespace columba::pop3d
