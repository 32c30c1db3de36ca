// listener.h - accept loops for the IMAP (STARTTLS) and IMAPS (implicit TLS)
// ports; a strand per connection, so a session never runs on two threads.
#pragma once

#include "services/imapd/session.h"

namespace columba::imapd {

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

}  // namespace columba::imapd
