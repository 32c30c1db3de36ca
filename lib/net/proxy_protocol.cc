// proxy_protocol.cc - PROXY v1/v2 parsing with strict bounds.
#include "lib/net/proxy_protocol.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "lib/net/cidr.h"

namespace columba::net {

namespace {

constexpr unsigned char kV2Sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

bool ParsePort(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

Result<std::optional<ProxyHeader>> ParseV1(std::string_view buf) {
  auto end = buf.find("\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() >= kProxyV1Max) return Fail(ErrorKind::kInvalidInput, "PROXY v1 line too long");
    return std::optional<ProxyHeader>();
  }
  if (end + 2 > kProxyV1Max) return Fail(ErrorKind::kInvalidInput, "PROXY v1 line too long");
  std::string_view line = buf.substr(0, end);
  std::string_view parts[6];
  size_t n = 0;
  while (!line.empty() && n < 6) {
    auto sp = line.find(' ');
    parts[n++] = line.substr(0, sp);
    if (sp == std::string_view::npos) {
      line = {};
      break;
    }
    line.remove_prefix(sp + 1);
  }
  if (!line.empty()) return Fail(ErrorKind::kInvalidInput, "PROXY v1: too many fields");
  ProxyHeader h;
  h.consumed = end + 2;
  if (n >= 2 && parts[1] == "UNKNOWN") {
    h.local = true;
    return std::optional<ProxyHeader>(h);
  }
  if (n != 6 || (parts[1] != "TCP4" && parts[1] != "TCP6"))
    return Fail(ErrorKind::kInvalidInput, "PROXY v1: expected TCP4|TCP6 src dst sport dport");
  std::array<uint8_t, 16> a{};
  bool v4 = parts[1] == "TCP4";
  for (int i : {2, 3}) {
    bool has_colon = parts[i].find(':') != std::string_view::npos;
    if (!ParseIp(parts[i], a) || has_colon == v4) return Fail(ErrorKind::kInvalidInput, "PROXY v1: bad address");
  }
  if (!ParsePort(parts[4], h.src_port) || !ParsePort(parts[5], h.dst_port))
    return Fail(ErrorKind::kInvalidInput, "PROXY v1: bad port");
  h.src_ip = std::string(parts[2]);
  h.dst_ip = std::string(parts[3]);
  return std::optional<ProxyHeader>(h);
}

std::string IpText(int af, const unsigned char* p) {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(af, p, out, sizeof out);
  return out;
}

Result<std::optional<ProxyHeader>> ParseV2(std::string_view buf) {
  if (buf.size() < 16) return std::optional<ProxyHeader>();
  auto u = reinterpret_cast<const unsigned char*>(buf.data());
  if ((u[12] >> 4) != 2) return Fail(ErrorKind::kInvalidInput, "PROXY v2: bad version");
  int cmd = u[12] & 0x0F;
  if (cmd > 1) return Fail(ErrorKind::kInvalidInput, "PROXY v2: bad command");
  size_t len = (static_cast<size_t>(u[14]) << 8) | u[15];
  if (len > kProxyV2MaxPayload) return Fail(ErrorKind::kInvalidInput, "PROXY v2: header too long");
  if (buf.size() < 16 + len) return std::optional<ProxyHeader>();
  ProxyHeader h;
  h.consumed = 16 + len;
  if (cmd == 0) {  // LOCAL: health checks from the balancer itself
    h.local = true;
    return std::optional<ProxyHeader>(h);
  }
  int fam = u[13];
  const unsigned char* a = u + 16;
  if (fam == 0x11) {  // TCP over IPv4
    if (len < 12) return Fail(ErrorKind::kInvalidInput, "PROXY v2: short IPv4 address block");
    h.src_ip = IpText(AF_INET, a);
    h.dst_ip = IpText(AF_INET, a + 4);
    h.src_port = static_cast<uint16_t>((a[8] << 8) | a[9]);
    h.dst_port = static_cast<uint16_t>((a[10] << 8) | a[11]);
  } else if (fam == 0x21) {  // TCP over IPv6
    if (len < 36) return Fail(ErrorKind::kInvalidInput, "PROXY v2: short IPv6 address block");
    h.src_ip = IpText(AF_INET6, a);
    h.dst_ip = IpText(AF_INET6, a + 16);
    h.src_port = static_cast<uint16_t>((a[32] << 8) | a[33]);
    h.dst_port = static_cast<uint16_t>((a[34] << 8) | a[35]);
  } else if (fam == 0x00) {  // UNSPEC: keep the connection's addresses
    h.local = true;
  } else {
    return Fail(ErrorKind::kInvalidInput, "PROXY v2: unsupported address family");
  }
  return std::optional<ProxyHeader>(h);
}

}  // namespace

Result<std::optional<ProxyHeader>> ParseProxyHeader(std::string_view buf) {
  // Decide the version from as many octets as we have; ask for more while a
  // prefix could still be either.
  size_t n = std::min(buf.size(), sizeof kV2Sig);
  if (std::memcmp(buf.data(), kV2Sig, n) == 0) {
    if (buf.size() < sizeof kV2Sig) return std::optional<ProxyHeader>();
    return ParseV2(buf);
  }
  constexpr std::string_view kV1 = "PROXY ";
  size_t m = std::min(buf.size(), kV1.size());
  if (buf.substr(0, m) == kV1.substr(0, m)) {
    if (buf.size() < kV1.size()) return std::optional<ProxyHeader>();
    return ParseV1(buf);
  }
  return Fail(ErrorKind::kInvalidInput, "not a PROXY protocol header");
}

}  // namespace columba::net
