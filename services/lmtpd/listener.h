// listener.h - accept loops for the LMTP TCP port and UNIX socket.
//
// Each accepted connection gets its own strand, so a session's coroutine and the
// deliveries it fans out never run on two threads at once. Listeners close when
// drain starts; sessions in progress finish.
#pragma once

#include <asio/local/stream_protocol.hpp>

#include "services/lmtpd/session.h"

namespace columba::lmtpd {

class Listeners {
 public:
  explicit Listeners(ServerContext& ctx) : ctx_(ctx), tcp_(ctx.runtime.io()), unix_(ctx.runtime.io()) {}
  Result<void> ListenTcp(const std::string& host, uint16_t port);
  Result<void> ListenUnix(const std::string& path);
  void Close();
  uint16_t tcp_port() const { return tcp_port_; }

 private:
  asio::awaitable<void> AcceptTcp();
  asio::awaitable<void> AcceptUnix();
  ServerContext& ctx_;
  asio::ip::tcp::acceptor tcp_;
  asio::local::stream_protocol::acceptor unix_;
  std::string unix_path_;
  uint16_t tcp_port_ = 0;
};

}  // namespace columba::lmtpd
