// op_stats.cc - the per-command table (see op_stats.h). Pure formatting.
#include "loadtest/op_stats.h"

#include <fmt/format.h>

namespace columba::loadtest {

namespace {

OpRow& Row(std::map<std::string, OpRow, std::less<>>& rows, std::string_view op) {
  auto it = rows.find(op);
  if (it == rows.end()) it = rows.emplace(std::string(op), OpRow()).first;
  return it->second;
}

double PerSecond(uint64_t n, double elapsed_s) { return elapsed_s > 0 ? static_cast<double>(n) / elapsed_s : 0; }

}  // namespace

void OpTable::Ok(std::string_view op, std::chrono::microseconds latency) {
  OpRow& r = Row(rows_, op);
  ++r.ok;
  r.latency.Add(latency);
}

void OpTable::Failed(std::string_view op, std::string_view error_key) {
  OpRow& r = Row(rows_, op);
  ++r.failed;
  ++r.errors[std::string(error_key)];
}

uint64_t OpTable::total_ok() const {
  uint64_t n = 0;
  for (const auto& [_, r] : rows_) n += r.ok;
  return n;
}

uint64_t OpTable::total_failed() const {
  uint64_t n = 0;
  for (const auto& [_, r] : rows_) n += r.failed;
  return n;
}

std::string OpTable::FormatText(double elapsed_s) const {
  std::string out = fmt::format("  {:<14}{:>9}{:>11}{:>9}{:>9}{:>9}{:>8}  {}\n", "command", "ok", "ops/s", "p50 ms",
                                "p99 ms", "max ms", "failed", "errors");
  for (const auto& [name, r] : rows_) {
    auto s = r.latency.Summarize();
    std::string errs;
    for (const auto& [k, n] : r.errors) errs += fmt::format("{}{}: {}", errs.empty() ? "" : ", ", k, n);
    out += fmt::format("  {:<14}{:>9}{:>11.1f}{:>9.2f}{:>9.2f}{:>9.2f}{:>8}  {}\n", name, r.ok,
                       PerSecond(r.ok, elapsed_s), s.p50_ms, s.p99_ms, s.max_ms, r.failed, errs);
  }
  out += fmt::format("  {:<14}{:>9}{:>11.1f}{:>36}\n", "total", total_ok(), PerSecond(total_ok(), elapsed_s),
                     total_failed());
  return out;
}

std::string OpTable::FormatJsonMembers(double elapsed_s) const {
  std::string cmds;
  for (const auto& [name, r] : rows_) {
    auto s = r.latency.Summarize();
    std::string errs;
    for (const auto& [k, n] : r.errors) errs += fmt::format("{}\"{}\":{}", errs.empty() ? "" : ",", k, n);
    cmds += fmt::format(
        "{}\"{}\":{{\"ok\":{},\"ops_per_s\":{:.2f},\"failed\":{},\"errors\":{{{}}},"
        "\"latency_ms\":{{\"count\":{},\"p50\":{:.3f},\"p95\":{:.3f},\"p99\":{:.3f},\"max\":{:.3f},\"mean\":{:.3f}}}}}",
        cmds.empty() ? "" : ",", name, r.ok, PerSecond(r.ok, elapsed_s), r.failed, errs, s.count, s.p50_ms, s.p95_ms,
        s.p99_ms, s.max_ms, s.mean_ms);
  }
  return fmt::format("\"commands\":{{{}}},\"ops_ok\":{},\"ops_failed\":{},\"ops_per_s\":{:.2f}", cmds, total_ok(),
                     total_failed(), PerSecond(total_ok(), elapsed_s));
}

}  // namespace columba::loadtest
