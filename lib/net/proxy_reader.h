// proxy_reader.h - reads a PROXY protocol header (proxy_protocol.h) off a fresh
// TCP connection from a trusted load balancer, before any TLS or greeting.
//
// It peeks (MSG_PEEK) and then consumes exactly the header's octets, so what
// follows (a TLS ClientHello on implicit-TLS ports, or the first command) stays
// in the socket for the protocol. The caller decides whom to ask (only peers in
// its load-balancer networks); from them a header is required.
// NEVER
//   Never consumes a byte past the header; never waits longer than `timeout`.
#pragma once

#include <chrono>

#include "lib/net/asio_compat.h"
#include "lib/net/proxy_protocol.h"

namespace columba::net {

inline asio::awaitable<Result<ProxyHeader>> ReadProxyHeader(asio::ip::tcp::socket& sock,
                                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16 + kProxyV2MaxPayload];
  asio::steady_timer pause(sock.get_executor());
  for (;;) {
    // Wait until something is readable, then look without consuming.
    auto [wec] = co_await sock.async_wait(asio::ip::tcp::socket::wait_read, kNoThrow);
    if (wec) co_return Fail(ErrorKind::kUnavailable, "connection closed before the PROXY header");
    asio::error_code ec;
    size_t n = sock.receive(asio::buffer(buf), asio::socket_base::message_peek, ec);
    if (ec || n == 0) co_return Fail(ErrorKind::kUnavailable, "connection closed before the PROXY header");
    auto parsed = ParseProxyHeader(std::string_view(buf, n));
    if (!parsed) co_return tl::unexpected(parsed.error());
    if (*parsed) {
      size_t want = (*parsed)->consumed, got = 0;
      while (got < want) {
        size_t k = sock.receive(asio::buffer(buf + got, want - got), 0, ec);
        if (ec || k == 0) co_return Fail(ErrorKind::kUnavailable, "connection closed in the PROXY header");
        got += k;
      }
      co_return **parsed;
    }
    if (n >= sizeof buf || std::chrono::steady_clock::now() >= deadline)
      co_return Fail(ErrorKind::kInvalidInput, "no complete PROXY header in time");
    // Incomplete: the rest is on its way (peeking again at once would spin).
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(kNoThrow);
  }
}

}  // namespace columba::net
