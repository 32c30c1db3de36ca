// fuzz_data_reader.cc - libFuzzer target for DataReader and DotStuff.
//
// The first input octet picks max_size and which lines the "transport" reports as
// too long; the rest is split on LF like lib/net's LineReader (a CR before the LF is
// dropped, otherwise the line is bare-LF ended). abort()s when an invariant breaks:
// the end is exactly the first "." line ended by CRLF after a CRLF-ended line; the
// stored message has only CRLF line ends and respects max_size; and
// DotStuff(message) fed to a fresh reader ends on its last line and gives the
// message back. Never does I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/smtp/data_reader.h"

using namespace columba::smtp;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool OnlyCrlfLineEnds(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  return s.empty() || (s.size() >= 2 && s.substr(s.size() - 2) == "\r\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t knob = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const uint64_t max_size = (knob & 0x7f) == 0x7f ? UINT64_MAX : (knob & 0x7f) * 4u;
  const bool inject_too_long = (knob & 0x80) != 0;

  DataReader reader(max_size);
  bool prev_crlf = true, done = false, any_too_long = false;
  size_t pos = 0, line_no = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) break;  // an incomplete line: the transport would wait
    size_t end = nl;
    bool cr = end > pos && in[end - 1] == '\r';
    if (cr) --end;
    std::string_view line = in.substr(pos, end - pos);
    pos = nl + 1;
    ++line_no;
    // The reference rule, computed independently of the reader.
    if (inject_too_long && line.size() > 8 && line_no % 3 == 0) {
      any_too_long = true;
      Check(reader.FeedTooLong(!cr) == DataReader::Status::kMore);
      prev_crlf = cr;
      continue;
    }
    bool expect_end = line == "." && cr && prev_crlf;
    auto st = reader.Feed(line, !cr);
    Check((st == DataReader::Status::kDone) == expect_end);
    prev_crlf = cr;
    if (expect_end) {
      done = true;
      break;
    }
  }
  Check(reader.done() == done);
  Check(reader.had_overlong_line() == any_too_long);
  if (!done) return 0;

  bool stored = !reader.over_size() && !reader.had_overlong_line();
  std::string message = reader.TakeMessage();
  if (!stored) {
    Check(message.empty());
    return 0;
  }
  Check(message.size() <= max_size);
  Check(message.size() == reader.size());
  Check(OnlyCrlfLineEnds(message));

  std::string stuffed = DotStuff(message);
  DataReader again(UINT64_MAX);
  size_t p = 0;
  bool again_done = false;
  while (p < stuffed.size()) {
    size_t nl = stuffed.find('\n', p);
    Check(nl != std::string::npos && nl > p && stuffed[nl - 1] == '\r');
    auto st = again.Feed(std::string_view(stuffed).substr(p, nl - 1 - p), false);
    p = nl + 1;
    if (st == DataReader::Status::kDone) {
      again_done = true;
      break;
    }
  }
  Check(again_done && p == stuffed.size());
  Check(again.bare_lf_count() == 0);
  Check(again.TakeMessage() == message);
  Check(DotStuff(message) == stuffed);
  return 0;
}
