// cidr.cc - strict network-list parsing and matching.
#include "lib/net/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace columba::net {

bool ParseIp(std::string_view ip, std::array<uint8_t, 16>& out) {
  if (ip.empty() || ip.size() > 45) return false;
  std::string s(ip);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out.fill(0);
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return true;
  }
  return false;
}

Result<CidrSet> CidrSet::Parse(const std::vector<std::string>& entries) {
  CidrSet set;
  for (const auto& e : entries) {
    std::string_view v(e);
    auto slash = v.find('/');
    std::string_view ip = v.substr(0, slash);
    Network n;
    if (!ParseIp(ip, n.addr)) return Fail(ErrorKind::kInvalidInput, "not an IP network: '" + e + "'");
    bool v4 = ip.find(':') == std::string_view::npos;
    int max = v4 ? 32 : 128;
    int prefix = max;
    if (slash != std::string_view::npos) {
      auto p = v.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 || prefix > max)
        return Fail(ErrorKind::kInvalidInput, "bad prefix length in '" + e + "'");
    }
    n.prefix = v4 ? prefix + 96 : prefix;
    // Host bits must be zero: "10.0.0.1/8" is almost always a mistake.
    for (int bit = n.prefix; bit < 128; ++bit)
      if (n.addr[bit / 8] & (0x80 >> (bit % 8)))
        return Fail(ErrorKind::kInvalidInput, "host bits set in '" + e + "' (did you mean the network address?)");
    set.nets_.push_back(n);
  }
  return set;
}

bool CidrSet::Contains(std::string_view ip) const {
  std::array<uint8_t, 16> a{};
  if (!ParseIp(ip, a)) return false;
  for (const auto& n : nets_) {
    int full = n.prefix / 8, rest = n.prefix % 8;
    if (std::memcmp(a.data(), n.addr.data(), full) != 0) continue;
    if (rest && ((a[full] ^ n.addr[full]) & (0xff << (8 - rest)) & 0xff)) continue;
    return true;
  }
  return false;
}

}  // namespace columba::net
