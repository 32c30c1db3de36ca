// listener.cc - TCP accept loop; a strand per session (listener.h).
// NEVER spins on accept errors (EMFILE): it backs off 100 ms.
#include "services/pop3d/listener.h"

#include "lib/base/log.h"

namespace columba::pop3d {

using net::kNoThrow;

Result<void> Listener::Listen(const std::string& host, uint16_t port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Fail(ErrorKind::kInvalidInput, "bad listen address " + host);
  asio::ip::tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail(ErrorKind::kUnavailable, "listen " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(ctx_.runtime.io(), Accept(), asio::detached);
  return {};
}

void Listener::Close() {
  asio::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> Listener::Accept() {
  auto& io = ctx_.runtime.io();
  while (acceptor_.is_open()) {
    auto strand = asio::make_strand(io);
    asio::ip::tcp::socket sock(strand);
    auto [ec] = co_await acceptor_.async_accept(sock, kNoThrow);
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      log::Warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(io, std::chrono::milliseconds(100));  // e.g. EMFILE: back off
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    asio::error_code pe;
    auto remote = sock.remote_endpoint(pe);
    std::string peer = pe ? "unknown" : remote.address().to_string();
    sock.set_option(asio::ip::tcp::no_delay(true), pe);
    asio::co_spawn(strand, RunSession(ctx_, std::move(sock), std::move(peer), implicit_tls_), asio::detached);
  }
}

}  // namespace columba::pop3d
