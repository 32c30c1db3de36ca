// fuzz_command.cc - libFuzzer target for the incremental IMAP command parser.
//
// The input is fed in chunks whose sizes come from the input itself (so
// literals, CRLF and markers get split at every position), with limits made
// small so every limit path is reached, and Next() is drained after each
// chunk. IDLE and AUTHENTICATE switch the parser into their line modes as a
// server would. Must never crash, hang or read out of bounds; it checks a few
// invariants (an error text is never empty, commands have upper-case names).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/imap/parser.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using columba::imap::ParseEvent;
  columba::imap::ParserLimits limits;
  limits.max_line_length_unauthenticated = 512;
  limits.max_line_length = 2048;
  limits.max_literal_size_unauthenticated = 256;
  limits.max_literal_size = 4096;
  limits.max_command_size_unauthenticated = 1024;
  limits.max_command_size = 16 * 1024;
  limits.max_literal_minus = 1024;
  limits.max_literal_skip = 64 * 1024;
  limits.max_nesting = 8;
  limits.max_search_keys = 64;
  limits.max_list_items = 64;
  limits.sequence_set.max_ranges = 64;
  columba::imap::ParserOptions options;
  options.literal_plus = size > 0 && (data[0] & 1) != 0;
  options.utf8_accept = size > 0 && (data[0] & 2) != 0;
  columba::imap::Parser parser(limits, options);

  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  size_t seed = size;
  int commands = 0;
  while (pos < input.size()) {
    seed = seed * 1103515245u + 12345u + static_cast<unsigned char>(input[pos]);
    size_t chunk = 1 + (seed >> 8) % 64;
    if (chunk > input.size() - pos) chunk = input.size() - pos;
    parser.Feed(input.substr(pos, chunk));
    pos += chunk;
    for (int guard = 0; guard < 100'000; ++guard) {
      ParseEvent ev = parser.Next();
      if (ev.kind == ParseEvent::Kind::kNeedMore) break;
      if (ev.kind == ParseEvent::Kind::kError) {
        Check(!ev.error.text.empty());
        if (ev.error.fatal) return 0;
      }
      if (ev.kind == ParseEvent::Kind::kCommand) {
        const auto& cmd = ev.command;
        Check(!cmd.tag.empty() && !cmd.name.empty());
        for (char c : cmd.name) Check(!(c >= 'a' && c <= 'z'));
        if (++commands == 2) parser.SetAuthenticated(true);
        if (cmd.name == "IDLE") parser.ExpectIdleDone();
        if (cmd.name == "AUTHENTICATE") parser.ExpectSaslLine();
        if (const auto* f = std::get_if<columba::imap::FetchArgs>(&cmd.args)) {
          Check(!f->items.empty());
          (void)f->set.Resolve(100).ToString();
        }
      }
    }
  }
  return 0;
}
