// cidr.h - sets of IPv4/IPv6 networks ("127.0.0.1/32", "10.0.0.0/8", "::1/128"),
// for trusted networks (relay control, plaintext-login policy) and the
// load-balancer networks allowed to send a PROXY header.
//
// Parsing is strict: a bad entry is an error naming it (a typo in a trust list
// must stop the service, not silently trust nobody or everybody). An IPv4
// address given as IPv4-mapped IPv6 (::ffff:a.b.c.d) matches IPv4 networks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace columba::net {

struct Network {
  std::array<uint8_t, 16> addr{};  // IPv4 stored as IPv4-mapped IPv6
  int prefix = 0;                  // over the 128-bit form
};

class CidrSet {
 public:
  static Result<CidrSet> Parse(const std::vector<std::string>& entries);
  bool Contains(std::string_view ip) const;
  bool empty() const { return nets_.empty(); }

 private:
  std::vector<Network> nets_;
};

// Parses an IPv4 or IPv6 address into the 16-byte form; false when malformed.
bool ParseIp(std::string_view ip, std::array<uint8_t, 16>& out);

}  // namespace columba::net
