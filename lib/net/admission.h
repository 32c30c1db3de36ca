// admission.h - what every front-end does with a new connection before its
// greeting: the real client address (a PROXY header, required from the
// configured load-balancer networks only) and the per-address connection limit
// (trusted networks exempt). DESIGN invariants 7 and 8.
//
// SYNOPSIS
//   auto a = co_await net::AdmitConnection(socket, peer, rules);
//   if (!a.admitted) { count a.refusal; the protocol's "try later" unless TLS-first; close }
//   else Session(..., a.client_ip, std::move(a.slot))
// NEVER
//   Never reads past the PROXY header; never admits a connection over the limit.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "lib/net/cidr.h"
#include "lib/net/connection_limits.h"
#include "lib/net/proxy_reader.h"

namespace columba::net {

struct AdmissionRules {
  const CidrSet& proxy_networks;  // whose PROXY header is required and believed
  std::chrono::milliseconds proxy_timeout;
  const CidrSet& trusted;         // exempt from the per-address limit
  ConnectionLimits& limits;
  uint32_t max_per_ip;            // 0 = no limit
};

struct Admission {
  bool admitted = false;
  std::string client_ip;                // the real client (after PROXY)
  std::optional<ConnectionSlot> slot;   // held for the session's life (empty when exempt)
  const char* refusal = "";             // "proxy_header" or "ip_limit" when not admitted
  std::string detail;                   // for the log (a PROXY parse error)
};

inline asio::awaitable<Admission> AdmitConnection(asio::ip::tcp::socket& socket, std::string peer,
                                                  const AdmissionRules& rules) {
  Admission a;
  a.client_ip = std::move(peer);
  if (rules.proxy_networks.Contains(a.client_ip)) {
    auto header = co_await ReadProxyHeader(socket, rules.proxy_timeout);
    if (!header) {
      a.refusal = "proxy_header";
      a.detail = header.error().message;
      co_return a;
    }
    if (!header->local) a.client_ip = header->src_ip;
  }
  if (!rules.trusted.Contains(a.client_ip)) {
    a.slot = rules.limits.Acquire(ConnectionLimits::kIp, a.client_ip, rules.max_per_ip);
    if (!a.slot) {
      a.refusal = "ip_limit";
      co_return a;
    }
  }
  a.admitted = true;
  co_return a;
}

}  // namespace columba::net
