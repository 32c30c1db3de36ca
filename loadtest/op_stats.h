// op_stats.h - per-command counts and latencies for scenarios that run a mix of
// commands (imap): one row per command name, each with its own LatencySamples.
//
// Pure: no clocks, no I/O; the scenario passes latencies and the measured
// duration in, so the table and its text/JSON forms are unit tested. Only
// measured operations may be added (the scenario checks the Run's ticket); it
// never drops a sample (percentiles are nearest-rank over every sample).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loadtest/stats.h"

namespace columba::loadtest {

struct OpRow {
  uint64_t ok = 0;
  uint64_t failed = 0;
  std::map<std::string, uint64_t> errors;  // "NO", "BAD", "io", "timeout", ...
  LatencySamples latency;                  // successful operations only
};

class OpTable {
 public:
  void Ok(std::string_view op, std::chrono::microseconds latency);
  void Failed(std::string_view op, std::string_view error_key);
  // A sample that is not a command (e.g. delivery-to-EXISTS latency).
  const std::map<std::string, OpRow, std::less<>>& rows() const { return rows_; }
  uint64_t total_ok() const;
  uint64_t total_failed() const;

  // Text: one line per command (ops, ops/s, p50, p99, max, errors), then a total.
  std::string FormatText(double elapsed_s) const;
  // JSON object members (no braces): "commands":{"name":{"ok":..,"ops_per_s":..,
  // "failed":..,"errors":{..},"latency_ms":{..}},..},"ops_ok":N,"ops_failed":N,"ops_per_s":X
  std::string FormatJsonMembers(double elapsed_s) const;

 private:
  std::map<std::string, OpRow, std::less<>> rows_;
};

}  // namespace columba::loadtest
