// service_runtime.cc - event loop, metrics endpoint and graceful drain for every daemon.
#include "lib/net/service_runtime.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "lib/base/log.h"

namespace columba::net {

CommonConfig ReadCommonConfig(ConfigReader& r, const std::string& default_metrics_listen) {
  CommonConfig c;
  c.log_level = r.Enum("service", "log_level", "info", {"debug", "info", "warn", "error"});
  c.metrics_listen = r.String("service", "metrics_listen", default_metrics_listen);
  if (!c.metrics_listen.empty() && !obs::SplitHostPort(c.metrics_listen))
    r.Invalid("service", "metrics_listen", "must be host:port");
  c.drain_timeout = r.Duration("service", "drain_timeout", std::chrono::seconds(30), std::chrono::milliseconds(0),
                               std::chrono::hours(1));
  c.threads = static_cast<int>(r.Int("service", "threads", 0, 0, 256));
  return c;
}

std::string ParseConfigFlag(int argc, char** argv, const char* program) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--config FILE]\n", program);
      std::exit(2);
    }
  }
  return path;
}

ConfigSource LoadConfigOrExit(const std::string& path, char** envp) {
  auto src = ConfigSource::Load(path, envp);
  if (!src) {
    std::fprintf(stderr, "%s\n", src.error().message.c_str());
    std::exit(2);
  }
  return std::move(*src);
}

ServiceRuntime::ServiceRuntime(std::string name)
    : name_(std::move(name)),
      registry_(std::make_shared<prometheus::Registry>()),
      signals_(io_, SIGTERM, SIGINT),
      hangup_(io_, SIGHUP) {}

void ServiceRuntime::WaitForHangup() {
  hangup_.async_wait([this](asio::error_code ec, int) {
    if (ec) return;
    int failed = 0;
    for (auto& fn : on_reload_)
      if (auto r = fn(); !r) {
        ++failed;
        log::Error("reload failed; keeping the previous configuration", {{"error", r.error().message}});
      }
    log::Info("reloaded", {{"failures", failed}});
    WaitForHangup();
  });
}

int ServiceRuntime::Run(const CommonConfig& cfg) {
  log::Init("columba-" + name_, *log::ParseLevel(cfg.log_level));
  drain_timer_ = std::make_unique<asio::steady_timer>(io_);
  if (!cfg.metrics_listen.empty()) {
    auto hp = obs::SplitHostPort(cfg.metrics_listen);
    http_ = std::make_unique<obs::HttpEndpoint>(io_, registry_, [this] {
      if (draining_) return obs::Readiness{false, "draining"};
      return readiness_ ? readiness_() : obs::Readiness{true, ""};
    });
    if (auto r = http_->Listen(hp->first, hp->second); !r) {
      log::Error("cannot start metrics endpoint", {{"error", r.error().message}});
      return 1;
    }
  }
  auto drain_timeout = cfg.drain_timeout;
  signals_.async_wait([this, drain_timeout](asio::error_code ec, int sig) {
    if (ec) return;
    log::Info("draining", {{"signal", sig}, {"sessions", sessions_.load()}});
    drain_deadline_ = std::chrono::steady_clock::now() + drain_timeout;
    Drain();
  });
  WaitForHangup();
  int n = cfg.threads > 0 ? cfg.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto guard = asio::make_work_guard(io_);
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back([this] { io_.run(); });
  // Release the guard when drain completes (PollDrain stops the loop).
  io_.run();
  for (auto& t : threads) t.join();
  log::Info("stopped");
  return 0;
}

void ServiceRuntime::Drain() {
  asio::post(io_, [this] {
    if (draining_.exchange(true)) return;
    if (drain_deadline_ == std::chrono::steady_clock::time_point{})
      drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (auto& fn : on_drain_) fn();
    PollDrain();
  });
}

void ServiceRuntime::PollDrain() {
  if (sessions_.load() <= 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (sessions_.load() > 0) log::Warn("drain deadline reached", {{"sessions", sessions_.load()}});
    if (http_) http_->Close();
    asio::error_code ignored;
    hangup_.cancel(ignored);
    io_.stop();
    return;
  }
  drain_timer_->expires_after(std::chrono::milliseconds(50));
  drain_timer_->async_wait([this](asio::error_code ec) {
    if (!ec) PollDrain();
  });
}

}  // namespace columba::net
