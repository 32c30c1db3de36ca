// fuzz_section.cc - libFuzzer target for FETCH BODY[section] / BINARY.
//
// The first byte picks a section form, the next bytes a part path and a
// partial; the rest is a message. The message is parsed with lib/mail and the
// section is evaluated both in memory (FetchBody / FetchBinary) and the way
// imapd does it (serialised PartMap -> plan -> bytes of the range ->
// Materialize); the two must agree. Also checks: ranges stay inside the
// message, a partial never yields more than it asked for, FindPart on the map
// agrees with lib/mail, FilterHeaderFields always ends with a blank line, and
// ParseSection / FormatSection round-trip. Also feeds the raw bytes to
// ParseSection, ParsePartial and ParsePartMap. Never does I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lib/imap/section.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

using namespace columba::imap;

void CheckPlanAgainstMemory(const columba::mail::ParsedMessage& msg, const PartMap& map,
                            const SectionResult<SectionPlan>& plan, const SectionResult<std::string>& direct,
                            std::optional<SectionPartial> partial) {
  Check(plan.has_value() == direct.has_value());
  if (!plan) return;
  Check(plan->range.offset <= map.size && plan->range.length <= map.size - plan->range.offset);
  auto streamed = Materialize(*plan, msg.raw.substr(plan->range.offset, plan->range.length), partial);
  Check(streamed.has_value() == direct.has_value());
  if (streamed) Check(*streamed == *direct);
  if (direct && partial) Check(direct->size() <= partial->length);
  if (plan->action == SectionPlan::kRange && !plan->needs_crlf && direct) {
    const ByteRange r = ClampPartial(plan->range.length, partial);
    Check(msg.raw.substr(plan->range.offset + r.offset, r.length) == *direct);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  (void)ParseSection(all.substr(0, 256));
  (void)ParsePartial(all.substr(0, 64));
  if (auto m = ParsePartMap(all)) {  // a map from metad is not trusted: plans must stay in range
    std::vector<uint32_t> path = {1, 2};
    for (auto text : {SectionText::kNone, SectionText::kText, SectionText::kMime}) {
      SectionSpec spec{path, text, {}};
      if (auto p = PlanBody(*m, spec)) Check(p->range.offset + p->range.length <= m->size);
    }
  }
  if (size < 6) return 0;

  const uint8_t form = data[0];
  std::vector<uint32_t> part;
  for (size_t i = 0; i < (data[1] & 3u); ++i) part.push_back(data[2 + i] % 5);
  std::optional<SectionPartial> partial;
  if (data[5] & 1) partial = SectionPartial{uint64_t{data[5]} >> 1, uint64_t{data[4]} + 1};
  const std::string_view raw = all.substr(6);

  columba::mail::ParseLimits limits;
  limits.max_depth = 12;
  limits.max_parts = 300;
  limits.max_header_fields = 1000;
  auto parsed = columba::mail::ParseMessage(raw, limits);
  if (!parsed) return 0;
  const columba::mail::ParsedMessage& msg = *parsed;

  const PartMap built = BuildPartMap(msg);
  auto map = ParsePartMap(SerializePartMap(built));
  Check(map.has_value() && *map == built);
  Check(FindPart(*map, part).has_value() == columba::mail::FindPart(msg, part).has_value());

  SectionSpec spec;
  if (!part.empty() && part[0] == 0) part.clear();  // 0 is not a part number
  spec.part = part;
  static const SectionText kTexts[] = {SectionText::kNone,         SectionText::kHeader,
                                       SectionText::kHeaderFields, SectionText::kHeaderFieldsNot,
                                       SectionText::kText,         SectionText::kMime};
  spec.text = kTexts[form % 6];
  if (spec.text == SectionText::kMime && spec.part.empty()) spec.text = SectionText::kNone;
  if (spec.text == SectionText::kHeaderFields || spec.text == SectionText::kHeaderFieldsNot) {
    spec.fields = {"From", "subject", "Content-Type"};
  }
  bool valid_path = true;
  for (uint32_t n : spec.part) valid_path = valid_path && n != 0;
  if (valid_path) {
    auto again = ParseSection(FormatSection(spec));
    Check(again.has_value() && *again == spec);
  }

  CheckPlanAgainstMemory(msg, *map, PlanBody(*map, spec), FetchBody(msg, spec, partial), partial);
  CheckPlanAgainstMemory(msg, *map, PlanBinary(*map, spec.part), FetchBinary(msg, spec.part, partial), partial);

  if (form & 0x80) {
    std::string filtered = FilterHeaderFields(raw, spec.fields, (form & 0x40) != 0);
    Check(filtered.size() >= 2 && filtered.compare(filtered.size() - 2, 2, "\r\n") == 0);
  }
  return 0;
}
