// run.h - one load run: who may send the next message and when, and what was measured.
//
// Every session asks the Run for a Ticket before each message; the Run applies the
// stop conditions (--duration, --messages, SIGINT), the total --rate, and marks
// whether the message falls in the measured period (after --warmup). Scenarios
// report each message's outcome back. Single-threaded: the Run lives on the one
// io_context thread and must never be touched from another thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "lib/net/asio_compat.h"
#include "loadtest/options.h"
#include "loadtest/stats.h"

namespace columba::loadtest {

using Clock = std::chrono::steady_clock;

struct Ticket {
  uint64_t seq = 0;       // global message counter (warmup included)
  bool measured = false;  // issued after the warmup
};

class Run {
 public:
  Run(asio::any_io_executor ex, Options options);

  const Options& options() const { return options_; }
  // Unique per run (wall clock and pid): keeps Message-IDs unique across runs.
  const std::string& run_id() const { return run_id_; }

  // Waits for the rate limit; nullopt when the run is over (time, count or Stop()).
  asio::awaitable<std::optional<Ticket>> NextMessage();
  bool stopping() const;
  // True once the warmup is over: work that has no ticket (connection set-up) is
  // counted only then.
  bool measuring() const { return Clock::now() >= measure_start_; }
  // Ends the run: no more tickets; messages in flight finish.
  void Stop() { stop_requested_ = true; }

  // The next `n` recipients, round-robin over --rcpt / --rcpt-pattern (distinct when n <= count).
  std::vector<std::string> NextRecipients(int n);

  // Outcomes. Only measured tickets change the counts; errors without a ticket
  // (connect, greeting) are counted whenever they happen.
  void Delivered(const Ticket& t, Clock::duration latency, uint64_t bytes, int recipients);
  void Failed(const Ticket& t, const std::vector<std::string>& error_keys);
  void SessionError(std::string_view key);
  void Connected() { ++connects_; }
  // A session that could not connect at all gave up: the run is a failure.
  void SessionGaveUp() { ++sessions_gave_up_; }
  int sessions_gave_up() const { return sessions_gave_up_; }

  RunResult Result(std::string scenario, std::string target, std::string sizes) const;

 private:
  asio::any_io_executor ex_;
  Options options_;
  std::string run_id_;
  Clock::time_point start_;
  Clock::time_point measure_start_;
  std::optional<Clock::time_point> measure_end_;  // --duration
  Clock::duration interval_{0};                   // --rate
  Clock::time_point next_slot_;
  bool stop_requested_ = false;

  uint64_t seq_ = 0;
  uint64_t measured_issued_ = 0;
  uint64_t rcpt_cursor_ = 0;

  uint64_t delivered_ = 0, failed_ = 0, bytes_ = 0, recipients_ = 0, connects_ = 0;
  int sessions_gave_up_ = 0;
  std::optional<Clock::time_point> last_measured_done_;
  std::map<std::string, uint64_t> errors_;
  LatencySamples latency_;
};

}  // namespace columba::loadtest
