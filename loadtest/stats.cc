// stats.cc - percentiles and the run report (see stats.h).
//
// Pure formatting: never reads a clock or writes to a stream itself.
#include "loadtest/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>

namespace columba::loadtest {

uint64_t Percentile(std::span<const uint64_t> sorted, double p) {
  assert(p >= 0 && p <= 100);
  assert(std::is_sorted(sorted.begin(), sorted.end()));
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least p% of the samples <= it.
  double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

void LatencySamples::Add(std::chrono::microseconds latency) {
  samples_.push_back(static_cast<uint64_t>(std::max<int64_t>(latency.count(), 0)));
}

LatencySummary LatencySamples::Summarize() const {
  LatencySummary s;
  s.count = samples_.size();
  if (samples_.empty()) return s;
  std::vector<uint64_t> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  auto ms = [](uint64_t us) { return static_cast<double>(us) / 1000.0; };
  s.p50_ms = ms(Percentile(sorted, 50));
  s.p95_ms = ms(Percentile(sorted, 95));
  s.p99_ms = ms(Percentile(sorted, 99));
  s.max_ms = ms(sorted.back());
  long double sum = 0;
  for (uint64_t v : sorted) sum += static_cast<long double>(v);
  s.mean_ms = static_cast<double>(sum / static_cast<long double>(sorted.size())) / 1000.0;
  return s;
}

namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string HumanBytes(double bytes_per_s) {
  if (bytes_per_s >= 1024.0 * 1024) return fmt::format("{:.2f} MiB/s", bytes_per_s / (1024.0 * 1024));
  if (bytes_per_s >= 1024.0) return fmt::format("{:.1f} KiB/s", bytes_per_s / 1024.0);
  return fmt::format("{:.0f} B/s", bytes_per_s);
}

}  // namespace

std::string FormatText(const RunResult& r) {
  std::string out;
  out += fmt::format("columba-load {}: {}, {} session{}, sizes {}, rate {}\n", r.scenario, r.target, r.sessions,
                     r.sessions == 1 ? "" : "s", r.sizes,
                     r.rate_limit > 0 ? fmt::format("{:g} msgs/s", r.rate_limit) : std::string("unlimited"));
  out += fmt::format("  measured     {:.2f} s (after {:.1f} s warmup), {} connection{}\n", r.elapsed_s, r.warmup_s,
                     r.connects, r.connects == 1 ? "" : "s");
  out += fmt::format("  delivered    {} msgs ({} recipients), {:.1f} msgs/s, {}\n", r.delivered,
                     r.recipients_delivered, r.msgs_per_s(), HumanBytes(r.bytes_per_s()));
  out += fmt::format("  failed       {} msgs\n", r.failed);
  std::string errs;
  for (const auto& [code, n] : r.errors) errs += fmt::format("{}{}: {}", errs.empty() ? "" : ", ", code, n);
  out += fmt::format("  errors       {}\n", errs.empty() ? "none" : errs);
  out += fmt::format("  latency ms   p50 {:.2f}  p95 {:.2f}  p99 {:.2f}  max {:.2f}  mean {:.2f}\n", r.latency.p50_ms,
                     r.latency.p95_ms, r.latency.p99_ms, r.latency.max_ms, r.latency.mean_ms);
  return out;
}

std::string FormatJson(const RunResult& r) {
  std::string errs;
  for (const auto& [code, n] : r.errors) errs += fmt::format("{}{}:{}", errs.empty() ? "" : ",", JsonString(code), n);
  return fmt::format(
      "{{\"scenario\":{},\"target\":{},\"sessions\":{},\"rate_limit\":{:g},\"sizes\":{},\"warmup_s\":{:.3f},"
      "\"elapsed_s\":{:.3f},\"delivered\":{},\"failed\":{},\"recipients_delivered\":{},\"connects\":{},"
      "\"msgs_per_s\":{:.2f},\"bytes_per_s\":{:.0f},\"bytes_delivered\":{},\"errors\":{{{}}},"
      "\"latency_ms\":{{\"count\":{},\"p50\":{:.3f},\"p95\":{:.3f},\"p99\":{:.3f},\"max\":{:.3f},\"mean\":{:.3f}}}}}\n",
      JsonString(r.scenario), JsonString(r.target), r.sessions, r.rate_limit, JsonString(r.sizes), r.warmup_s,
      r.elapsed_s, r.delivered, r.failed, r.recipients_delivered, r.connects, r.msgs_per_s(), r.bytes_per_s(),
      r.bytes_delivered, errs, r.latency.count, r.latency.p50_ms, r.latency.p95_ms, r.latency.p99_ms,
      r.latency.max_ms, r.latency.mean_ms);
}

}  // namespace columba::loadtest
