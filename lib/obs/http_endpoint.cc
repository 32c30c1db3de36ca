// http_endpoint.cc - /metrics, /healthz, /readyz over minimal HTTP/1.0.
#include "lib/obs/http_endpoint.h"

#include <prometheus/text_serializer.h>

#include <charconv>

#include "lib/net/asio_compat.h"

#include "lib/base/log.h"

namespace columba::obs {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

HttpEndpoint::HttpEndpoint(asio::io_context& io, std::shared_ptr<prometheus::Registry> registry,
                           std::function<Readiness()> readiness)
    : io_(io), registry_(std::move(registry)), readiness_(std::move(readiness)), acceptor_(io) {}

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return Fail(ErrorKind::kInvalidInput, "expected host:port");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  auto ps = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535)
    return Fail(ErrorKind::kInvalidInput, "bad port in '" + s + "'");
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<void> HttpEndpoint::Listen(const std::string& host, uint16_t port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Fail(ErrorKind::kInvalidInput, "bad listen address " + host);
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(64, ec);
  if (ec) return Fail(ErrorKind::kUnavailable, "http listen " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  return {};
}

void HttpEndpoint::Close() {
  asio::error_code ec;
  acceptor_.close(ec);
}

awaitable<void> HttpEndpoint::AcceptLoop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(net::kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(sock)), asio::detached);
  }
}

awaitable<void> HttpEndpoint::Serve(tcp::socket socket) {
  asio::steady_timer deadline(io_, std::chrono::seconds(5));
  deadline.async_wait([&socket](asio::error_code ec) {
    if (!ec) {
      asio::error_code ignored;
      socket.close(ignored);
    }
  });
  std::string buf;
  auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buf, 8192), "\r\n\r\n",
                                                 net::kNoThrow);
  deadline.cancel();
  if (ec && buf.find("\r\n") == std::string::npos) co_return;
  std::string_view req(buf);
  std::string_view line = req.substr(0, req.find("\r\n"));
  int status = 404;
  std::string body = "not found\n";
  std::string ctype = "text/plain; charset=utf-8";
  auto path_start = line.find(' ');
  std::string_view path;
  if (path_start != std::string_view::npos) {
    path = line.substr(path_start + 1);
    path = path.substr(0, path.find(' '));
  }
  if (line.substr(0, 4) != "GET ") {
    status = 405;
    body = "only GET\n";
  } else if (path == "/metrics") {
    status = 200;
    body = prometheus::TextSerializer().Serialize(registry_->Collect());
    ctype = "text/plain; version=0.0.4; charset=utf-8";
  } else if (path == "/healthz") {
    status = 200;
    body = "ok\n";
  } else if (path == "/readyz") {
    Readiness r = readiness_ ? readiness_() : Readiness{true, ""};
    status = r.ready ? 200 : 503;
    body = (r.ready ? "ready" : "not ready") + (r.detail.empty() ? std::string() : ": " + r.detail) + "\n";
  }
  const char* reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 503 ? "Service Unavailable" : "Method Not Allowed";
  std::string resp = "HTTP/1.0 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + ctype +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  co_await asio::async_write(socket, asio::buffer(resp), net::kNoThrow);
  asio::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace columba::obs
