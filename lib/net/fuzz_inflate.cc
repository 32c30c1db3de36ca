// fuzz_inflate.cc - COMPRESS=DEFLATE input (lib/net/deflate.h): arbitrary bytes,
// fed in pieces, never crash the inflater, never yield more than max_out per
// Next call, and a stream the Deflater wrote always comes back unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/net/deflate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxOut = 4096;
  auto inf = columba::net::Inflater::Create();
  if (!inf) std::abort();
  // 1. As untrusted compressed input, in 7-byte pieces.
  size_t steps = 0;
  for (size_t i = 0; i < in.size(); i += 7) {
    (*inf)->Input(in.substr(i, 7));
    for (;;) {
      auto out = (*inf)->Next(kMaxOut);
      if (!out) return 0;  // corrupt: reported, the session ends
      if (out->size() > kMaxOut) std::abort();
      if (out->empty() || ++steps > 100000) break;
    }
  }
  // 2. As plaintext through the Deflater and back.
  auto def = columba::net::Deflater::Create();
  auto back = columba::net::Inflater::Create();
  if (!def || !back) std::abort();
  auto z = (*def)->Compress(in);
  if (!z) std::abort();
  (*back)->Input(*z);
  std::string round;
  for (;;) {
    auto out = (*back)->Next(kMaxOut);
    if (!out) std::abort();
    if (out->empty()) break;
    round += *out;
  }
  if (round != in) std::abort();
  return 0;
}
