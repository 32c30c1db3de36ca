// run.cc - stop conditions, rate pacing and outcome counting (see run.h).
//
// Pacing is a shared schedule of send slots 1/rate apart. A session that arrives
// late takes the current time as its slot (no burst to catch up), so under
// overload the offered rate drops to what the server sustains; latency is timed
// from the MAIL command, not from the slot (see README: coordinated omission).
#include "loadtest/run.h"

#include <fmt/format.h>
#include <unistd.h>

namespace columba::loadtest {

using net::kNoThrow;

Run::Run(asio::any_io_executor ex, Options options) : ex_(std::move(ex)), options_(std::move(options)) {
  start_ = Clock::now();
  measure_start_ = start_ + options_.warmup;
  if (options_.duration.count() > 0) measure_end_ = measure_start_ + options_.duration;
  if (options_.rate > 0) {
    interval_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / options_.rate));
  }
  next_slot_ = start_;
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  run_id_ = fmt::format("{}.{}", std::chrono::duration_cast<std::chrono::microseconds>(wall).count(), getpid());
}

bool Run::stopping() const {
  if (stop_requested_) return true;
  if (measure_end_ && Clock::now() >= *measure_end_) return true;
  if (options_.messages > 0 && measured_issued_ >= options_.messages) return true;
  return false;
}

asio::awaitable<std::optional<Ticket>> Run::NextMessage() {
  if (stopping()) co_return std::nullopt;
  if (interval_.count() > 0) {
    auto now = Clock::now();
    auto slot = std::max(now, next_slot_);
    next_slot_ = slot + interval_;
    if (slot > now) {
      asio::steady_timer t(ex_);
      t.expires_at(slot);
      co_await t.async_wait(kNoThrow);
      if (stopping()) co_return std::nullopt;
    }
  }
  Ticket t;
  t.seq = ++seq_;
  t.measured = Clock::now() >= measure_start_;
  if (t.measured) ++measured_issued_;
  co_return t;
}

std::vector<std::string> Run::NextRecipients(int n) {
  std::vector<std::string> out;
  const auto& all = options_.rcpts;
  for (int i = 0; i < n; ++i) out.push_back(all[(rcpt_cursor_ + static_cast<uint64_t>(i)) % all.size()]);
  rcpt_cursor_ += static_cast<uint64_t>(n);
  return out;
}

void Run::Delivered(const Ticket& t, Clock::duration latency, uint64_t bytes, int recipients) {
  if (!t.measured) return;
  ++delivered_;
  bytes_ += bytes;
  recipients_ += static_cast<uint64_t>(recipients);
  latency_.Add(std::chrono::duration_cast<std::chrono::microseconds>(latency));
  last_measured_done_ = Clock::now();
}

void Run::Failed(const Ticket& t, const std::vector<std::string>& error_keys) {
  if (!t.measured) return;
  ++failed_;
  for (const auto& k : error_keys) ++errors_[k];
  last_measured_done_ = Clock::now();
}

void Run::SessionError(std::string_view key) { ++errors_[std::string(key)]; }

RunResult Run::Result(std::string scenario, std::string target, std::string sizes) const {
  RunResult r;
  r.scenario = std::move(scenario);
  r.target = std::move(target);
  r.sizes = std::move(sizes);
  r.sessions = options_.sessions;
  r.rate_limit = options_.rate;
  r.warmup_s = std::chrono::duration<double>(options_.warmup).count();
  auto end = last_measured_done_.value_or(Clock::now());
  r.elapsed_s = end > measure_start_ ? std::chrono::duration<double>(end - measure_start_).count() : 0;
  r.delivered = delivered_;
  r.failed = failed_;
  r.bytes_delivered = bytes_;
  r.recipients_delivered = recipients_;
  r.connects = connects_;
  r.errors = errors_;
  if (sessions_gave_up_ > 0) r.errors["sessions_gave_up"] = static_cast<uint64_t>(sessions_gave_up_);
  r.latency = latency_.Summarize();
  return r;
}

}  // namespace columba::loadtest
