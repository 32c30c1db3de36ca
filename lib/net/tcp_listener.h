// tcp_listener.h - a TCP listening socket and its accept loop, shared by every
// front-end (imapd, pop3d, smtpd): a strand per accepted connection, so a
// session never runs on two threads at once, TCP_NODELAY on every connection
// (replies are small and must not wait for Nagle), and a 100 ms back-off on
// accept errors (EMFILE) instead of a spin.
//
// NAME
//   TcpListener
// SYNOPSIS
//   net::TcpListener l(rt.io(), [&](asio::ip::tcp::socket s, std::string peer) {
//     asio::co_spawn(s.get_executor(), RunSession(ctx, std::move(s), std::move(peer)), asio::detached);
//   });
//   if (auto r = l.Listen("127.0.0.1", 2143); !r) ...;   // l.port(): the bound port
//   rt.OnDrain([&] { l.Close(); });
// NEVER
//   Never reads from a connection itself (the session does, after any PROXY
//   header); never stops accepting on a transient error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "lib/base/result.h"
#include "lib/net/asio_compat.h"

namespace columba::net {

class TcpListener {
 public:
  // Called on the accepting thread with a socket bound to its own new strand and
  // the peer's address ("unknown" when it cannot be read); it starts the session.
  using OnAccept = std::function<void(asio::ip::tcp::socket socket, std::string peer)>;

  TcpListener(asio::io_context& io, OnAccept on_accept);
  Result<void> Listen(const std::string& host, uint16_t port);
  void Close();
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> Accept();
  asio::io_context& io_;
  OnAccept on_accept_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
};

}  // namespace columba::net
