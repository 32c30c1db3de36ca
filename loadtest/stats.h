// stats.h - what a load run measured, and the two ways it is reported (text, JSON).
//
// Pure: no clocks and no I/O here (the runner passes durations in), so percentiles
// and the report formats are unit tested. Percentiles use the nearest-rank method
// over every recorded sample: never interpolated, never estimated from buckets, so
// "p99" is a latency some message really had.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace columba::loadtest {

// Nearest-rank percentile (p in 0..100) of samples sorted ascending; 0 when empty.
// p = 0 gives the minimum, p = 100 the maximum.
uint64_t Percentile(std::span<const uint64_t> sorted, double p);

struct LatencySummary {
  uint64_t count = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
};

// Latency samples in microseconds. One instance per run (single-threaded runner).
class LatencySamples {
 public:
  void Add(std::chrono::microseconds latency);
  uint64_t count() const { return samples_.size(); }
  // Sorts a copy; the samples stay as they are.
  LatencySummary Summarize() const;

 private:
  std::vector<uint64_t> samples_;
};

struct RunResult {
  std::string scenario;
  std::string target;  // "127.0.0.1:2424" or "unix:/path"
  int sessions = 0;
  double rate_limit = 0;  // requested msgs/s, 0 = unlimited
  std::string sizes;      // "10k" or "2k:50,10k:40,100k:10" as given
  double warmup_s = 0;
  double elapsed_s = 0;  // measured period: end of warmup to the last measured reply

  uint64_t delivered = 0;        // messages with a 2xx for every recipient
  uint64_t failed = 0;           // messages with any non-2xx reply or an I/O error
  uint64_t bytes_delivered = 0;  // message octets (before dot-stuffing) of delivered messages
  uint64_t recipients_delivered = 0;
  uint64_t connects = 0;  // connections opened (reconnects after errors included)
  // Non-2xx replies by code ("451", "550") plus "connect", "io", "timeout",
  // "protocol" for failures that have no reply code.
  std::map<std::string, uint64_t> errors;
  LatencySummary latency;  // delivered messages only

  double msgs_per_s() const { return elapsed_s > 0 ? static_cast<double>(delivered) / elapsed_s : 0; }
  double bytes_per_s() const { return elapsed_s > 0 ? static_cast<double>(bytes_delivered) / elapsed_s : 0; }
};

std::string FormatText(const RunResult& r);
// One JSON object on one line, newline-terminated. Field names are the contract
// loadtest/compare/* scripts read; add fields, never rename them.
std::string FormatJson(const RunResult& r);

}  // namespace columba::loadtest
