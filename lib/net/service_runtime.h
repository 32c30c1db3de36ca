// service_runtime.h - what every Columba daemon's main() shares: common config
// (log level, metrics address, drain deadline, threads), JSON logs, the
// /metrics /healthz /readyz endpoint, an asio event loop per core, and graceful
// drain on SIGTERM/SIGINT (stop accepting, let sessions finish up to the
// deadline, exit 0).
//
// Common keys (section `service`): log_level (info), metrics_listen
// (127.0.0.1:0 = off when empty), drain_timeout (30s), threads (0 = one per core).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio.hpp>
#include <prometheus/registry.h>

#include "lib/base/config.h"
#include "lib/obs/http_endpoint.h"

namespace columba::net {

struct CommonConfig {
  std::string log_level = "info";
  std::string metrics_listen;  // host:port; empty = no HTTP endpoint
  std::chrono::milliseconds drain_timeout{30'000};
  int threads = 0;
};

// Reads the `service` section.
CommonConfig ReadCommonConfig(ConfigReader& r, const std::string& default_metrics_listen);

class ServiceRuntime {
 public:
  explicit ServiceRuntime(std::string name);

  asio::io_context& io() { return io_; }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  const std::string& name() const { return name_; }

  // Service-specific readiness (dependencies); draining always makes it false.
  void SetReadiness(std::function<obs::Readiness()> fn) { readiness_ = std::move(fn); }
  // Called once when drain starts (close listeners, stop gRPC server, ...).
  void OnDrain(std::function<void()> fn) { on_drain_.push_back(std::move(fn)); }
  // Called on every SIGHUP (reload TLS certificates, ...); a failure is logged
  // and the service goes on with what it had.
  void OnReload(std::function<Result<void>()> fn) { on_reload_.push_back(std::move(fn)); }

  // Active sessions, so drain knows when all are done.
  void SessionStarted() { ++sessions_; }
  void SessionEnded() { --sessions_; }
  int sessions() const { return sessions_.load(); }
  bool draining() const { return draining_.load(); }

  // Starts the HTTP endpoint and runs the loop on `threads` threads until drained.
  // Returns the process exit code.
  int Run(const CommonConfig& cfg);
  // Starts drain (as SIGTERM does).
  void Drain();
  uint16_t metrics_port() const { return http_ ? http_->port() : 0; }

 private:
  void PollDrain();
  std::string name_;
  asio::io_context io_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<obs::Readiness()> readiness_;
  std::vector<std::function<void()>> on_drain_;
  std::vector<std::function<Result<void>()>> on_reload_;
  void WaitForHangup();
  std::unique_ptr<obs::HttpEndpoint> http_;
  std::atomic<int> sessions_{0};
  std::atomic<bool> draining_{false};
  std::chrono::steady_clock::time_point drain_deadline_;
  std::unique_ptr<asio::steady_timer> drain_timer_;
  asio::signal_set signals_;
  asio::signal_set hangup_;
};

// The `--config FILE` command line every daemon takes ("" when absent); prints
// the usage and exits 2 on anything else.
std::string ParseConfigFlag(int argc, char** argv, const char* program);

// Loads `path` + environment, or exits 2 with the reason on stderr.
ConfigSource LoadConfigOrExit(const std::string& path, char** envp);

}  // namespace columba::net
