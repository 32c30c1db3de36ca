// fuzz_proxy.cc - PROXY header parser: never crashes, never consumes more than it was given.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/net/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto h = columba::net::ParseProxyHeader(in);
  if (h && *h && (*h)->consumed > size) std::abort();
  return 0;
}
