// proxy_protocol.h - the HAProxy PROXY protocol, v1 (text) and v2 (binary), so
// front-ends behind a TCP load balancer see the real client address (DESIGN
// invariant 8).
//
// Pure: bytes in, header out. The caller accepts a header only from peers in its
// configured load-balancer networks (CidrSet) and must read it before anything
// else on the connection; from any other peer a PROXY line is just bad input.
// Bounded: v1 lines are at most 107 octets, v2 payloads at most 1024 (TLVs are
// skipped, not interpreted).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::net {

struct ProxyHeader {
  bool local = false;      // v2 LOCAL or v1 UNKNOWN: keep the connection's own addresses
  std::string src_ip;      // the real client
  uint16_t src_port = 0;
  std::string dst_ip;
  uint16_t dst_port = 0;
  size_t consumed = 0;     // octets of the header, to drop from the stream
};

inline constexpr size_t kProxyV1Max = 107;
inline constexpr size_t kProxyV2MaxPayload = 1024;

// std::nullopt: need more bytes. Error: not a valid PROXY header.
Result<std::optional<ProxyHeader>> ParseProxyHeader(std::string_view buf);

}  // namespace columba::net
