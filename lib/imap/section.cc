// section.cc - FETCH BODY[section] / BINARY resolution and materialisation
// (see section.h).
//
// Resolution (Plan*) only looks at the PartMap, so imapd can decide which
// bytes of a blob to read before reading any; Materialize only looks at the
// bytes it is given. The in-memory Fetch* functions chain the two.
#include "lib/imap/section.h"

#include <algorithm>
#include <limits>

#include "lib/imap/format.h"
#include "lib/mail/decode.h"

namespace columba::imap {
namespace {

constexpr size_t kMaxSectionDepth = 100;
constexpr uint8_t kPartMapVersion = 1;

char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Upper(a[i]) != Upper(b[i])) return false;
  return true;
}

bool StartsNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

// A number without leading zeros, at most `max`; advances pos.
std::optional<uint64_t> Number(std::string_view s, size_t& pos, uint64_t max, bool nonzero) {
  const size_t start = pos;
  uint64_t v = 0;
  while (pos < s.size() && Digit(s[pos])) {
    v = v * 10 + static_cast<uint64_t>(s[pos] - '0');
    ++pos;
    if (v > max) return std::nullopt;
  }
  if (pos == start) return std::nullopt;
  if (pos - start > 1 && s[start] == '0') return std::nullopt;
  if (nonzero && v == 0) return std::nullopt;
  return v;
}

Result<std::vector<std::string>> HeaderList(std::string_view s) {
  std::vector<std::string> names;
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') {
    return Fail(ErrorKind::kInvalidInput, "header list must be in parentheses");
  }
  s = s.substr(1, s.size() - 2);
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    if (pos >= s.size()) break;
    std::string name;
    if (s[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < s.size()) {
        char c = s[pos++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (pos >= s.size() || (s[pos] != '"' && s[pos] != '\\')) {
            return Fail(ErrorKind::kInvalidInput, "bad escape in quoted header name");
          }
          c = s[pos++];
        } else if (c == '\r' || c == '\n' || c == '\0') {
          return Fail(ErrorKind::kInvalidInput, "control character in quoted header name");
        }
        name += c;
      }
      if (!closed) return Fail(ErrorKind::kInvalidInput, "unterminated quoted header name");
      if (pos < s.size() && s[pos] != ' ') return Fail(ErrorKind::kInvalidInput, "junk after header name");
    } else {
      while (pos < s.size() && s[pos] != ' ') {
        if (!IsAtomChar(s[pos]) && s[pos] != ']') {
          return Fail(ErrorKind::kInvalidInput, "invalid character in header name");
        }
        name += s[pos++];
      }
    }
    names.push_back(std::move(name));
  }
  if (names.empty()) return Fail(ErrorKind::kInvalidInput, "empty header list");
  return names;
}

// ---------------------------------------------------------------- varints

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

std::optional<uint64_t> GetVarint(std::string_view s, size_t& pos) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) return std::nullopt;
    const auto b = static_cast<unsigned char>(s[pos++]);
    if (shift == 63 && b > 1) return std::nullopt;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  return std::nullopt;
}

bool HasBareLf(std::string_view s) {
  for (size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1)) {
    if (i == 0 || s[i - 1] != '\r') return true;
  }
  return false;
}

ByteRange Span(uint64_t begin, uint64_t end) { return ByteRange{begin, end > begin ? end - begin : 0}; }

// HEADER / HEADER.FIELDS(.NOT) / TEXT of the message whose top-level part is `top`.
SectionPlan MessageText(const PartMap& map, const PartMapEntry& top, const SectionSpec& spec) {
  SectionPlan plan;
  plan.needs_crlf = !map.crlf_only;
  switch (spec.text) {
    case SectionText::kText:
      plan.action = SectionPlan::kRange;
      plan.range = Span(top.body_start, top.end);
      break;
    case SectionText::kHeaderFields:
    case SectionText::kHeaderFieldsNot:
      plan.action = SectionPlan::kFilterHeader;
      plan.range = Span(top.header_start, top.body_start);
      plan.fields = spec.fields;
      plan.exclude = spec.text == SectionText::kHeaderFieldsNot;
      break;
    default:  // kHeader (kMime never reaches here without a part number)
      plan.action = SectionPlan::kRange;
      plan.range = Span(top.header_start, top.body_start);
      break;
  }
  return plan;
}

}  // namespace

// ---------------------------------------------------------------- syntax

Result<SectionSpec> ParseSection(std::string_view text) {
  SectionSpec spec;
  size_t pos = 0;
  while (pos < text.size() && Digit(text[pos])) {
    auto n = Number(text, pos, std::numeric_limits<uint32_t>::max(), /*nonzero=*/true);
    if (!n) return Fail(ErrorKind::kInvalidInput, "invalid section part number");
    if (spec.part.size() >= kMaxSectionDepth) return Fail(ErrorKind::kInvalidInput, "section nested too deep");
    spec.part.push_back(static_cast<uint32_t>(*n));
    if (pos == text.size()) return spec;
    if (text[pos] != '.') return Fail(ErrorKind::kInvalidInput, "invalid section part number");
    ++pos;
    if (pos == text.size()) return Fail(ErrorKind::kInvalidInput, "section ends with '.'");
  }
  std::string_view rest = text.substr(pos);
  if (rest.empty()) return spec;  // "" only: a trailing "." was refused above
  if (StartsNoCase(rest, "HEADER.FIELDS")) {
    rest.remove_prefix(13);
    spec.text = SectionText::kHeaderFields;
    if (StartsNoCase(rest, ".NOT")) {
      rest.remove_prefix(4);
      spec.text = SectionText::kHeaderFieldsNot;
    }
    if (rest.empty() || rest[0] != ' ') return Fail(ErrorKind::kInvalidInput, "HEADER.FIELDS needs a list");
    auto names = HeaderList(rest.substr(1));
    if (!names) return tl::unexpected(std::move(names.error()));
    spec.fields = std::move(*names);
  } else if (EqualsNoCase(rest, "HEADER")) {
    spec.text = SectionText::kHeader;
  } else if (EqualsNoCase(rest, "TEXT")) {
    spec.text = SectionText::kText;
  } else if (EqualsNoCase(rest, "MIME") && !spec.part.empty()) {
    spec.text = SectionText::kMime;
  } else {
    return Fail(ErrorKind::kInvalidInput, "unknown section");
  }
  return spec;
}

Result<SectionPartial> ParsePartial(std::string_view text) {
  size_t pos = 0;
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();  // RFC 9051 number64
  auto offset = Number(text, pos, kMax, /*nonzero=*/false);
  if (!offset || pos >= text.size() || text[pos] != '.') {
    return Fail(ErrorKind::kInvalidInput, "partial must be <offset.length>");
  }
  ++pos;
  auto length = Number(text, pos, kMax, /*nonzero=*/true);
  if (!length || pos != text.size()) return Fail(ErrorKind::kInvalidInput, "partial length must be non-zero");
  return SectionPartial{*offset, *length};
}

std::string FormatSection(const SectionSpec& spec) {
  std::string out;
  for (size_t i = 0; i < spec.part.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(spec.part[i]);
  }
  if (spec.text == SectionText::kNone) return out;
  if (!spec.part.empty()) out += '.';
  switch (spec.text) {
    case SectionText::kHeader: out += "HEADER"; break;
    case SectionText::kText: out += "TEXT"; break;
    case SectionText::kMime: out += "MIME"; break;
    case SectionText::kHeaderFields: out += "HEADER.FIELDS"; break;
    case SectionText::kHeaderFieldsNot: out += "HEADER.FIELDS.NOT"; break;
    case SectionText::kNone: break;
  }
  if (spec.text == SectionText::kHeaderFields || spec.text == SectionText::kHeaderFieldsNot) {
    out += " (";
    for (size_t i = 0; i < spec.fields.size(); ++i) {
      if (i) out += ' ';
      // ']' would end the section early on the client side: quote it.
      if (spec.fields[i].find(']') != std::string::npos) {
        AppendString(out, spec.fields[i], false);
      } else {
        AppendAstring(out, spec.fields[i], false);
      }
    }
    out += ')';
  }
  return out;
}

ByteRange ClampPartial(uint64_t size, std::optional<SectionPartial> partial) {
  if (!partial) return ByteRange{0, size};
  if (partial->offset >= size) return ByteRange{size, 0};
  return ByteRange{partial->offset, std::min(partial->length, size - partial->offset)};
}

// ---------------------------------------------------------------- part map

TransferEncoding ClassifyTransferEncoding(std::string_view cte) {
  if (cte == "7bit" || cte == "8bit" || cte == "binary") return TransferEncoding::kIdentity;
  if (cte == "base64") return TransferEncoding::kBase64;
  if (cte == "quoted-printable") return TransferEncoding::kQuotedPrintable;
  return TransferEncoding::kUnknown;
}

PartMap BuildPartMap(const mail::ParsedMessage& msg) {
  PartMap map;
  map.size = msg.raw.size();
  map.crlf_only = !HasBareLf(msg.raw);
  map.parts.reserve(msg.parts.size());
  for (const mail::MessagePart& p : msg.parts) {
    PartMapEntry e;
    e.kind = p.kind;
    e.parent = p.parent == mail::kNoPart ? UINT32_MAX : static_cast<uint32_t>(p.parent);
    e.header_start = p.header_start;
    e.body_start = p.body_start;
    e.end = p.end;
    e.encoding = ClassifyTransferEncoding(p.transfer_encoding);
    for (size_t c : p.children) e.children.push_back(static_cast<uint32_t>(c));
    map.parts.push_back(std::move(e));
  }
  return map;
}

std::string SerializePartMap(const PartMap& map) {
  std::string out;
  out += static_cast<char>(kPartMapVersion);
  PutVarint(out, map.size);
  out += static_cast<char>(map.crlf_only ? 1 : 0);
  PutVarint(out, map.parts.size());
  for (const PartMapEntry& e : map.parts) {
    out += static_cast<char>(e.kind);
    out += static_cast<char>(e.encoding);
    PutVarint(out, e.parent == UINT32_MAX ? 0 : uint64_t{e.parent} + 1);
    PutVarint(out, e.header_start);
    PutVarint(out, e.body_start - e.header_start);
    PutVarint(out, e.end - e.body_start);
  }
  return out;
}

Result<PartMap> ParsePartMap(std::string_view bytes) {
  auto bad = [](const char* why) { return Fail(ErrorKind::kInvalidInput, std::string("part map: ") + why); };
  size_t pos = 0;
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kPartMapVersion) return bad("unknown version");
  pos = 1;
  PartMap map;
  auto size = GetVarint(bytes, pos);
  if (!size || pos >= bytes.size()) return bad("truncated");
  map.size = *size;
  const auto flags = static_cast<uint8_t>(bytes[pos++]);
  if (flags > 1) return bad("unknown flags");
  map.crlf_only = flags == 1;
  auto count = GetVarint(bytes, pos);
  // Each entry takes at least 6 bytes, which bounds the allocation.
  if (!count || *count == 0 || *count > (bytes.size() - pos) / 6) return bad("bad part count");
  map.parts.resize(*count);
  for (size_t i = 0; i < map.parts.size(); ++i) {
    PartMapEntry& e = map.parts[i];
    if (pos + 2 > bytes.size()) return bad("truncated");
    const auto kind = static_cast<uint8_t>(bytes[pos++]);
    const auto enc = static_cast<uint8_t>(bytes[pos++]);
    if (kind > 2 || enc > 3) return bad("unknown part kind or encoding");
    e.kind = static_cast<mail::PartKind>(kind);
    e.encoding = static_cast<TransferEncoding>(enc);
    auto parent = GetVarint(bytes, pos);
    auto hs = GetVarint(bytes, pos);
    auto hl = GetVarint(bytes, pos);
    auto bl = GetVarint(bytes, pos);
    if (!parent || !hs || !hl || !bl) return bad("truncated");
    if (*hs > map.size || *hl > map.size - *hs || *bl > map.size - *hs - *hl) return bad("offsets outside message");
    e.header_start = *hs;
    e.body_start = *hs + *hl;
    e.end = e.body_start + *bl;
    if (i == 0) {
      if (*parent != 0) return bad("first part has a parent");
      continue;
    }
    if (*parent == 0 || *parent > i) return bad("parent after child");
    e.parent = static_cast<uint32_t>(*parent - 1);
    PartMapEntry& p = map.parts[e.parent];
    if (p.kind == mail::PartKind::kLeaf) return bad("leaf with children");
    if (e.header_start < p.body_start || e.end > p.end) return bad("child outside its parent");
    p.children.push_back(static_cast<uint32_t>(i));
  }
  if (pos != bytes.size()) return bad("trailing bytes");
  return map;
}

void PrependHeaderLines(PartMap& map, uint64_t n) {
  map.size += n;
  for (size_t i = 0; i < map.parts.size(); ++i) {
    auto& p = map.parts[i];
    if (i != 0) p.header_start += n;  // the top-level header still starts at 0, now longer
    p.body_start += n;
    p.end += n;
  }
}

std::optional<uint32_t> FindPart(const PartMap& map, std::span<const uint32_t> section) {
  if (map.parts.empty()) return std::nullopt;
  uint32_t cur = 0;
  bool message_top = true;  // cur is the top-level part of a (possibly encapsulated) message
  for (uint32_t n : section) {
    if (n == 0) return std::nullopt;
    if (!message_top && map.parts[cur].kind == mail::PartKind::kMessage) {
      if (map.parts[cur].children.empty()) return std::nullopt;
      cur = map.parts[cur].children[0];
      message_top = true;
    }
    const PartMapEntry& p = map.parts[cur];
    if (p.kind == mail::PartKind::kMultipart) {
      if (n > p.children.size()) return std::nullopt;
      cur = p.children[n - 1];
    } else if (!message_top || n != 1) {
      return std::nullopt;
    }
    message_top = false;
  }
  return cur;
}

// ---------------------------------------------------------------- plans

const char* SectionErrorText(SectionError e) {
  switch (e) {
    case SectionError::kNotMessage: return "HEADER and TEXT need a message/rfc822 part";
    case SectionError::kUnknownCte: return "unknown Content-Transfer-Encoding";
  }
  return "section error";
}

SectionResult<SectionPlan> PlanBody(const PartMap& map, const SectionSpec& spec) {
  SectionPlan plan;
  plan.needs_crlf = !map.crlf_only;
  if (map.parts.empty()) return plan;  // kEmpty
  if (spec.part.empty()) {
    if (spec.text == SectionText::kNone) {
      plan.action = SectionPlan::kRange;
      plan.range = ByteRange{0, map.size};
      return plan;
    }
    return MessageText(map, map.parts[0], spec);
  }
  const std::optional<uint32_t> idx = FindPart(map, spec.part);
  if (!idx) return plan;  // kEmpty, as Dovecot
  const PartMapEntry& e = map.parts[*idx];
  switch (spec.text) {
    case SectionText::kNone:
      plan.action = SectionPlan::kRange;
      plan.range = Span(e.body_start, e.end);
      return plan;
    case SectionText::kMime:
      plan.action = SectionPlan::kRange;
      plan.range = Span(e.header_start, e.body_start);
      return plan;
    default:
      if (e.kind != mail::PartKind::kMessage) return tl::unexpected(SectionError::kNotMessage);
      if (e.children.empty()) return plan;
      return MessageText(map, map.parts[e.children[0]], spec);
  }
}

SectionResult<SectionPlan> PlanBinary(const PartMap& map, std::span<const uint32_t> part) {
  SectionPlan plan;
  plan.needs_crlf = !map.crlf_only;
  if (map.parts.empty()) return plan;
  if (part.empty()) {
    plan.action = SectionPlan::kRange;
    plan.range = ByteRange{0, map.size};
    return plan;
  }
  const std::optional<uint32_t> idx = FindPart(map, part);
  if (!idx) return plan;
  const PartMapEntry& e = map.parts[*idx];
  plan.range = Span(e.body_start, e.end);
  if (e.kind != mail::PartKind::kLeaf || e.encoding == TransferEncoding::kIdentity) {
    plan.action = SectionPlan::kRange;
    return plan;
  }
  if (e.encoding == TransferEncoding::kUnknown) return tl::unexpected(SectionError::kUnknownCte);
  plan.action = SectionPlan::kDecode;
  plan.encoding = e.encoding;
  return plan;
}

std::string ToCrlf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 32);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) out += '\r';
    out += bytes[i];
  }
  return out;
}

std::string FilterHeaderFields(std::string_view block, std::span<const std::string> names, bool exclude) {
  std::string out;
  bool included = exclude;  // continuation lines before any field: as an unmatched field
  size_t pos = 0;
  while (pos < block.size()) {
    size_t nl = block.find('\n', pos);
    const size_t next = nl == std::string_view::npos ? block.size() : nl + 1;
    std::string_view line = block.substr(pos, (nl == std::string_view::npos ? block.size() : nl) - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = next;
    if (line.empty()) break;  // the blank line ends the header
    if (line[0] != ' ' && line[0] != '\t') {
      const size_t colon = line.find(':');
      bool match = false;
      if (colon != std::string_view::npos) {
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        match = !name.empty() && std::any_of(names.begin(), names.end(),
                                             [&](const std::string& n) { return EqualsNoCase(n, name); });
      }
      included = match != exclude;
    }
    if (included) {
      out += line;
      out += "\r\n";
    }
  }
  out += "\r\n";
  return out;
}

SectionResult<std::string> Materialize(const SectionPlan& plan, std::string_view bytes,
                                       std::optional<SectionPartial> partial) {
  std::string data;
  switch (plan.action) {
    case SectionPlan::kEmpty:
      return std::string();
    case SectionPlan::kRange:
      data = plan.needs_crlf ? ToCrlf(bytes) : std::string(bytes);
      break;
    case SectionPlan::kFilterHeader:
      data = FilterHeaderFields(bytes, plan.fields, plan.exclude);
      break;
    case SectionPlan::kDecode:
      switch (plan.encoding) {
        case TransferEncoding::kBase64: data = mail::DecodeBase64(bytes); break;
        case TransferEncoding::kQuotedPrintable: data = mail::DecodeQuotedPrintable(bytes); break;
        case TransferEncoding::kIdentity: data = plan.needs_crlf ? ToCrlf(bytes) : std::string(bytes); break;
        case TransferEncoding::kUnknown: return tl::unexpected(SectionError::kUnknownCte);
      }
      break;
  }
  const ByteRange r = ClampPartial(data.size(), partial);
  if (r.offset == 0 && r.length == data.size()) return data;
  return data.substr(r.offset, r.length);
}

// ---------------------------------------------------------------- in memory

namespace {

SectionResult<std::string> Run(const mail::ParsedMessage& msg, const SectionResult<SectionPlan>& plan,
                               std::optional<SectionPartial> partial) {
  if (!plan) return tl::unexpected(plan.error());
  std::string_view bytes;
  if (plan->action != SectionPlan::kEmpty) bytes = msg.raw.substr(plan->range.offset, plan->range.length);
  return Materialize(*plan, bytes, partial);
}

}  // namespace

SectionResult<std::string> FetchBody(const mail::ParsedMessage& msg, const SectionSpec& spec,
                                     std::optional<SectionPartial> partial) {
  const PartMap map = BuildPartMap(msg);
  return Run(msg, PlanBody(map, spec), partial);
}

SectionResult<std::string> FetchBinary(const mail::ParsedMessage& msg, std::span<const uint32_t> part,
                                       std::optional<SectionPartial> partial) {
  const PartMap map = BuildPartMap(msg);
  return Run(msg, PlanBinary(map, part), partial);
}

SectionResult<uint64_t> FetchBinarySize(const mail::ParsedMessage& msg, std::span<const uint32_t> part) {
  auto data = FetchBinary(msg, part, std::nullopt);
  if (!data) return tl::unexpected(data.error());
  return static_cast<uint64_t>(data->size());
}

}  // namespace columba::imap
