// tcp_listener.cc - TcpListener (tcp_listener.h).
#include "lib/net/tcp_listener.h"

#include "lib/base/log.h"

namespace columba::net {

TcpListener::TcpListener(asio::io_context& io, OnAccept on_accept)
    : io_(io), on_accept_(std::move(on_accept)), acceptor_(io) {}

Result<void> TcpListener::Listen(const std::string& host, uint16_t port) {
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
  asio::co_spawn(io_, Accept(), asio::detached);
  return {};
}

void TcpListener::Close() {
  asio::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> TcpListener::Accept() {
  while (acceptor_.is_open()) {
    auto strand = asio::make_strand(io_);
    asio::ip::tcp::socket sock(strand);
    auto [ec] = co_await acceptor_.async_accept(sock, kNoThrow);
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      log::Warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));  // e.g. EMFILE: back off
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    asio::error_code pe;
    auto remote = sock.remote_endpoint(pe);
    std::string peer = pe ? "unknown" : remote.address().to_string();
    sock.set_option(asio::ip::tcp::no_delay(true), pe);
    on_accept_(std::move(sock), std::move(peer));
  }
}

}  // namespace columba::net
