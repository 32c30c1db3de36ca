// http_endpoint.h - the operator's HTTP door of every service: /metrics, /healthz, /readyz.
//
// A deliberately tiny HTTP/1.0 responder on an asio event loop: one GET per
// connection, request line and headers capped at 8 KiB, 5 s to send them. It
// serves Prometheus text exposition of the service's registry, liveness (the
// loop answers) and readiness (the service's own check: dependencies reachable,
// not draining). It never serves anything else and never blocks the loop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <asio.hpp>
#include <prometheus/registry.h>

#include "lib/base/result.h"

namespace columba::obs {

struct Readiness {
  bool ready = false;
  std::string detail;  // shown in the /readyz body, e.g. "metad: unavailable"
};

class HttpEndpoint {
 public:
  HttpEndpoint(asio::io_context& io, std::shared_ptr<prometheus::Registry> registry,
               std::function<Readiness()> readiness);
  // Binds host:port (port 0 picks one; see port()).
  Result<void> Listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  void Close();

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket);
  asio::io_context& io_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<Readiness()> readiness_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
};

// Parses "host:port" ("[::1]:80", "127.0.0.1:9100", ":9100" = all addresses).
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s);

}  // namespace columba::obs
