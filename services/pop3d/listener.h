// listener.h - accept loops for the POP3 (STLS) and POP3S (implicit TLS)
// ports; a strand per connection, so a session never runs on two threads.
//
// NEVER
//   Never reads from a connection itself (RunSession does, after the PROXY
//   header and the connection limit); never stops accepting on a transient error.
#pragma once

#include "services/pop3d/session.h"

namespace columba::pop3d {

class Listener {
 public:
  Listener(ServerContext& ctx, bool implicit_tls) : ctx_(ctx), implicit_tls_(implicit_tls), acceptor_(ctx.runtime.io()) {}
  Result<void> Listen(const std::string& host, uint16_t port);
  void Close();
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> Accept();
  ServerContext& ctx_;
  bool implicit_tls_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
};

}  // namespace columba::pop3d
