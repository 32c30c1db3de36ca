// fuzz_multiline.cc - libFuzzer target for pop3::MultilineWriter (response.h).
//
// The first octet picks the TOP line count (255: RETR) and the chunk size; the
// rest is the message. Invariants (abort on violation): the output is the same
// for every chunking; it ends with CRLF "." CRLF; it has no bare LF and no bare
// CR before LF; un-stuffing it (drop one leading "." of each line) gives back the
// input's lines for RETR (bare LF normalised), and a prefix of them for TOP.
// Never does I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/pop3/response.h"

using namespace columba::pop3;

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}

std::string Run(std::string_view in, std::optional<uint32_t> top, size_t piece) {
  MultilineWriter w(top);
  std::string out;
  for (size_t i = 0; i < in.size(); i += piece)
    if (!w.Write(in.substr(i, piece), out)) break;
  w.Finish(out);
  return out;
}

// Input with bare LFs made CRLF and a final CRLF added when missing.
std::string Normalised(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  if (!out.empty() && out.back() != '\n') out += out.back() == '\r' ? "\n" : "\r\n";
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::optional<uint32_t> top;
  if (data[0] != 255) top = data[0] % 8;
  const size_t piece = 1 + data[0] % 13;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string a = Run(in, top, in.size() + 1), b = Run(in, top, piece);
  Check(a == b);
  Check(a.size() >= 3 && a.substr(a.size() - 3) == ".\r\n");
  Check(a.size() == 3 || a.substr(a.size() - 5) == "\r\n.\r\n");
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] == '\n') Check(i > 0 && a[i - 1] == '\r');
  // Un-stuff: lines of the body part (without the terminator).
  std::string body = a.substr(0, a.size() - 3), unstuffed;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find("\r\n", pos);
    Check(nl != std::string::npos);
    std::string_view line(body.data() + pos, nl - pos);
    // Every line that starts with "." was stuffed, so one "." always comes off.
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    unstuffed.append(line);
    unstuffed += "\r\n";
    pos = nl + 2;
  }
  std::string norm = Normalised(in);
  if (!top) Check(unstuffed == norm);
  else Check(norm.compare(0, unstuffed.size(), unstuffed) == 0);
  return 0;
}
