// listener.cc - TCP and UNIX accept loops; a strand per session.
#include "services/lmtpd/listener.h"

#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/log.h"

namespace columba::lmtpd {

using net::kNoThrow;

Result<void> Listeners::ListenTcp(const std::string& host, uint16_t port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Fail(ErrorKind::kInvalidInput, "bad listen address " + host);
  asio::ip::tcp::endpoint ep(addr, port);
  tcp_.open(ep.protocol(), ec);
  if (!ec) tcp_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) tcp_.bind(ep, ec);
  if (!ec) tcp_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail(ErrorKind::kUnavailable, "listen " + host + ":" + std::to_string(port) + ": " + ec.message());
  tcp_port_ = tcp_.local_endpoint().port();
  asio::co_spawn(ctx_.runtime.io(), AcceptTcp(), asio::detached);
  return {};
}

Result<void> Listeners::ListenUnix(const std::string& path) {
  asio::error_code ec;
  asio::local::stream_protocol::endpoint ep(path);
  {
    // A socket left by a killed process is removed; one a live server answers on is not.
    asio::local::stream_protocol::socket probe(ctx_.runtime.io());
    probe.connect(ep, ec);
    if (!ec) return Fail(ErrorKind::kUnavailable, "unix:" + path + " is in use by another process");
    ::unlink(path.c_str());
    ec.clear();
  }
  unix_.open(ep.protocol(), ec);
  if (!ec) unix_.bind(ep, ec);
  if (!ec) unix_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail(ErrorKind::kUnavailable, "listen unix:" + path + ": " + ec.message());
  ::chmod(path.c_str(), 0660);
  unix_path_ = path;
  asio::co_spawn(ctx_.runtime.io(), AcceptUnix(), asio::detached);
  return {};
}

void Listeners::Close() {
  asio::error_code ec;
  tcp_.close(ec);
  unix_.close(ec);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

asio::awaitable<void> Listeners::AcceptTcp() {
  auto& io = ctx_.runtime.io();
  while (tcp_.is_open()) {
    auto strand = asio::make_strand(io);
    asio::ip::tcp::socket sock(strand);
    auto [ec] = co_await tcp_.async_accept(sock, kNoThrow);
    if (ec) {
      if (!tcp_.is_open()) co_return;
      log::Warn("accept failed", {{"error", ec.message()}});
      // e.g. EMFILE: back off instead of spinning.
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    asio::error_code pe;
    auto remote = sock.remote_endpoint(pe);
    std::string peer = pe ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
    sock.set_option(asio::ip::tcp::no_delay(true), pe);
    asio::co_spawn(strand, RunSession(ctx_, std::move(sock), std::move(peer)), asio::detached);
  }
}

asio::awaitable<void> Listeners::AcceptUnix() {
  auto& io = ctx_.runtime.io();
  while (unix_.is_open()) {
    auto strand = asio::make_strand(io);
    asio::local::stream_protocol::socket sock(strand);
    auto [ec] = co_await unix_.async_accept(sock, kNoThrow);
    if (ec) {
      if (!unix_.is_open()) co_return;
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    asio::co_spawn(strand, RunSession(ctx_, std::move(sock), std::string("unix")), asio::detached);
  }
}

}  // namespace columba::lmtpd
