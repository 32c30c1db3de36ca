// fuzz_message.cc - libFuzzer target for the mail parser and its formatters.
//
// Feeds arbitrary bytes to ParseMessage and, when it succeeds, to every view
// built from the result (BODYSTRUCTURE, BODY, ENVELOPE of each message, search
// fields, part lookup), plus the address, date and header decoders directly.
// Checks the invariants callers rely on and aborts when one breaks: part
// offsets ordered and inside the input, the tree consistent, search text valid
// UTF-8 without NUL. Small limits keep each input cheap so the fuzzer explores
// breadth. It never does I/O (the replay driver reads the corpus, not this).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "lib/mail/address.h"
#include "lib/mail/date.h"
#include "lib/mail/decode.h"
#include "lib/mail/message.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool ValidUtf8NoNul(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace columba::mail;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  // Header-level decoders on a bounded prefix.
  const std::string_view prefix = raw.substr(0, 4096);
  (void)ParseAddressList(prefix);
  (void)ParseMessageDate(prefix);
  Check(ValidUtf8NoNul(DecodeHeaderText(prefix)));

  ParseLimits limits;
  limits.max_depth = 12;
  limits.max_parts = 500;
  limits.max_header_fields = 2000;
  auto parsed = ParseMessage(raw, limits);
  if (!parsed) return 0;
  const ParsedMessage& msg = *parsed;

  Check(!msg.parts.empty());
  for (size_t i = 0; i < msg.parts.size(); ++i) {
    const MessagePart& p = msg.parts[i];
    Check(p.header_start <= p.body_start && p.body_start <= p.end && p.end <= raw.size());
    Check(p.body_octets == p.end - p.body_start && p.body_octets_crlf >= p.body_octets);
    Check(p.first_header + p.header_count <= msg.headers.size());
    Check(p.depth <= limits.max_depth);
    Check(i == 0 ? p.parent == kNoPart : p.parent < i);
    for (size_t c : p.children) {
      Check(c > i && c < msg.parts.size() && msg.parts[c].parent == i);
      Check(msg.parts[c].header_start >= p.body_start && msg.parts[c].end <= p.end);
    }
    if (p.kind == PartKind::kMessage) Check(p.children.size() == 1);
    if (p.kind == PartKind::kLeaf) Check(p.children.empty());
    if (p.kind == PartKind::kMessage) (void)Envelope(msg, p.children[0]);
  }

  (void)BodyStructure(msg, true);
  (void)BodyStructure(msg, false);
  (void)Envelope(msg);

  std::vector<uint32_t> section;
  for (size_t i = 0; i < 8 && i < size; ++i) section.push_back(data[i] % 4);
  if (auto found = FindPart(msg, section)) Check(*found < msg.parts.size());

  SearchLimits search_limits;
  search_limits.max_body_text = 4096;
  SearchFields f = ExtractSearchFields(msg, search_limits);
  for (const std::string* s : {&f.subject, &f.from, &f.to, &f.cc, &f.bcc, &f.message_id, &f.in_reply_to,
                               &f.references, &f.headers, &f.body_text}) {
    Check(ValidUtf8NoNul(*s));
  }
  Check(f.body_text.size() <= search_limits.max_body_text);
  return 0;
}
