// message.cc - the single-pass RFC 5322 / MIME parser behind ParseMessage.
//
// Walks `raw` line by line exactly once. Header fields become string_views;
// Content-* fields are parsed into the part; multipart bodies are split at
// boundary lines (prefix match, innermost first, an outer boundary closing
// every inner part); message/rfc822 bodies are parsed as messages. Line and
// bare-LF counters run along with the cursor so sizes and line counts of every
// part come out of the same pass.
//
// Must never recurse without the depth check in NewChild, never copy bodies,
// never fail on malformed structure (only on empty input or crossed limits).
#include "lib/mail/message.h"

#include <algorithm>
#include <cstring>

#include "lib/mail/decode.h"

namespace columba::mail {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// Printable form of untrusted text for error messages.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c > 32 && c < 127) ? c : '?';
  return out;
}

// ---------------------------------------------------------------------------
// MIME structured field values (RFC 2045 tokens, RFC 5322 comments).

bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

class MimeLexer {
 public:
  explicit MimeLexer(std::string_view s) : s_(s) {}

  bool AtEnd() {
    SkipCfws();
    return i_ >= s_.size();
  }
  bool Consume(char c) {
    SkipCfws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipCfws();
    return i_ < s_.size() && s_[i_] == c;
  }
  std::optional<std::string_view> Token() {
    SkipCfws();
    size_t start = i_;
    while (i_ < s_.size() && IsTokenChar(s_[i_])) ++i_;
    if (i_ == start) return std::nullopt;
    return s_.substr(start, i_ - start);
  }
  // At '"': the content, escapes resolved, folding CR/LF removed.
  std::string QuotedString() {
    std::string out;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {
        out += s_[i_ + 1];
        i_ += 2;
        continue;
      }
      if (c != '\r' && c != '\n') out += c;
      ++i_;
    }
    if (i_ < s_.size()) ++i_;
    return out;
  }
  // Liberal unquoted parameter value: up to ';', '(' or '"', so broken values
  // such as "boundary=----=_Part_1" or "name=My File.pdf" survive.
  std::string UnquotedValue() {
    SkipCfws();
    std::string out;
    while (i_ < s_.size() && s_[i_] != ';' && s_[i_] != '(' && s_[i_] != '"') {
      if (s_[i_] != '\r' && s_[i_] != '\n') out += s_[i_];
      ++i_;
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    return out;
  }
  // Skips junk up to (not past) the next ';', stepping over quoted strings
  // and comments. Always advances unless at ';' or the end.
  void SkipToSemicolon() {
    while (i_ < s_.size() && s_[i_] != ';') {
      if (s_[i_] == '"') {
        QuotedString();
      } else if (s_[i_] == '(') {
        SkipCfws();
      } else {
        ++i_;
      }
    }
  }

 private:
  void SkipCfws() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i_;
      } else if (c == '(') {
        int depth = 0;
        for (; i_ < s_.size(); ++i_) {
          if (s_[i_] == '\\') {
            ++i_;
          } else if (s_[i_] == '(') {
            ++depth;
          } else if (s_[i_] == ')' && --depth == 0) {
            ++i_;
            break;
          }
        }
      } else {
        break;
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

struct RawParam {
  std::string name;  // lower-cased, RFC 2231 suffixes still on
  std::string value;
};

// Parameters beyond this many are ignored; a 64 KiB field could otherwise
// carry thousands, and RFC 2231 merging is quadratic in the worst case.
constexpr size_t kMaxParams = 128;

std::vector<RawParam> ParseRawParams(MimeLexer& lx) {
  std::vector<RawParam> out;
  while (!lx.AtEnd() && out.size() < kMaxParams) {
    if (lx.Consume(';')) continue;
    auto name = lx.Token();
    if (!name || !lx.Consume('=')) {
      lx.SkipToSemicolon();
      continue;
    }
    std::string value = lx.Peek('"') ? lx.QuotedString() : lx.UnquotedValue();
    out.push_back({LowerCopy(*name), std::move(value)});
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = Lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 2231 attribute-char.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
        std::strchr("!#$&+-.^_`|~", c) != nullptr) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// Joins RFC 2231 continuations ("name*0", "name*1*") and decodes extended
// values ("name*=charset'lang'%XX"). Plain parameters pass through.
std::vector<MimeParam> MergeParams(std::vector<RawParam> raw) {
  struct Section {
    int number;
    bool extended;
    std::string value;
  };
  struct Group {
    std::string base;
    bool rfc2231;
    std::vector<Section> sections;
  };
  std::vector<Group> groups;
  for (RawParam& p : raw) {
    const size_t star = p.name.find('*');
    if (star == std::string::npos) {
      groups.push_back({p.name, false, {{0, false, std::move(p.value)}}});
      continue;
    }
    std::string_view rest = std::string_view(p.name).substr(star + 1);
    bool extended = false;
    if (!rest.empty() && rest.back() == '*') {
      extended = true;
      rest.remove_suffix(1);
    } else if (rest.empty()) {
      extended = true;
    }
    int number = 0;
    bool valid = rest.size() <= 3;  // section numbers up to 999
    for (char c : rest) valid = valid && c >= '0' && c <= '9';
    if (valid)
      for (char c : rest) number = number * 10 + (c - '0');
    if (!valid) {  // "a*b": not RFC 2231; keep it under its full name
      groups.push_back({p.name, false, {{0, false, std::move(p.value)}}});
      continue;
    }
    std::string base = p.name.substr(0, star);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.rfc2231 && g.base == base; });
    if (it == groups.end()) {
      groups.push_back({std::move(base), true, {}});
      it = groups.end() - 1;
    }
    it->sections.push_back({number, extended, std::move(p.value)});
  }

  std::vector<MimeParam> out;
  out.reserve(groups.size());
  for (Group& g : groups) {
    MimeParam mp;
    mp.name = std::move(g.base);
    if (!g.rfc2231) {
      mp.value = std::move(g.sections[0].value);
      out.push_back(std::move(mp));
      continue;
    }
    std::stable_sort(g.sections.begin(), g.sections.end(),
                     [](const Section& a, const Section& b) { return a.number < b.number; });
    g.sections.erase(std::unique(g.sections.begin(), g.sections.end(),
                                 [](const Section& a, const Section& b) { return a.number == b.number; }),
                     g.sections.end());
    const bool extended = std::any_of(g.sections.begin(), g.sections.end(),
                                      [](const Section& sec) { return sec.extended; });
    if (!extended) {
      for (const Section& sec : g.sections) mp.value += sec.value;
      out.push_back(std::move(mp));
      continue;
    }
    // Only the first section may carry "charset'language'"; when it is a
    // plain section the charset is unknown ("''"), as in Dovecot.
    std::string_view charset;
    std::string wire = "''";
    std::string bytes;
    size_t k = 0;
    if (g.sections[0].extended) {
      std::string_view first = g.sections[0].value;
      std::string_view language, data = first;
      if (size_t q1 = first.find('\''); q1 != std::string_view::npos) {
        if (size_t q2 = first.find('\'', q1 + 1); q2 != std::string_view::npos) {
          charset = first.substr(0, q1);
          language = first.substr(q1 + 1, q2 - q1 - 1);
          data = first.substr(q2 + 1);
        }
      }
      wire.clear();
      wire.append(charset).append("'").append(language).append("'").append(data);
      bytes = PercentDecode(data);
      k = 1;
    }
    for (; k < g.sections.size(); ++k) {
      const Section& sec = g.sections[k];
      if (sec.extended) {
        wire += sec.value;
        bytes += PercentDecode(sec.value);
      } else {
        wire += PercentEncode(sec.value);
        bytes += sec.value;
      }
    }
    AppendAsUtf8(mp.value, bytes, charset);
    mp.rfc2231 = std::move(wire);
    out.push_back(std::move(mp));
  }
  return out;
}

bool ParseContentType(std::string_view value, MessagePart& p) {
  MimeLexer lx(value);
  auto type = lx.Token();
  if (!type || !lx.Consume('/')) return false;
  auto subtype = lx.Token();
  if (!subtype) return false;
  p.type = LowerCopy(*type);
  p.subtype = LowerCopy(*subtype);
  p.params = MergeParams(ParseRawParams(lx));
  return true;
}

void ParseContentDisposition(std::string_view value, MessagePart& p) {
  MimeLexer lx(value);
  auto token = lx.Token();
  if (!token) return;
  p.disposition = LowerCopy(*token);
  p.disposition_params = MergeParams(ParseRawParams(lx));
}

void ParseContentLanguage(std::string_view value, MessagePart& p) {
  MimeLexer lx(value);
  while (!lx.AtEnd() && p.languages.size() < kMaxParams) {
    if (lx.Consume(',')) continue;
    auto token = lx.Token();
    if (!token) break;
    p.languages.emplace_back(*token);
  }
}

// Fills the part's MIME fields from its Content-* header fields (first of
// each kind wins) and decides its kind.
void ApplyMimeHeaders(std::span<const HeaderField> fields, MessagePart& p, bool parent_is_digest) {
  bool type_seen = false, type_ok = false, cte_seen = false, id_seen = false, desc_seen = false;
  bool md5_seen = false, disp_seen = false, lang_seen = false, loc_seen = false;
  for (const HeaderField& f : fields) {
    if (!StartsWithIgnoreCase(f.name, "content-")) continue;
    std::string_view n = f.name.substr(8);
    if (EqualsIgnoreCase(n, "type")) {
      if (!type_seen) type_ok = ParseContentType(f.value, p);
      type_seen = true;
    } else if (EqualsIgnoreCase(n, "transfer-encoding")) {
      if (!cte_seen) {
        MimeLexer lx(f.value);
        if (auto token = lx.Token()) p.transfer_encoding = LowerCopy(*token);
      }
      cte_seen = true;
    } else if (EqualsIgnoreCase(n, "id")) {
      if (!id_seen) p.content_id = UnfoldHeader(f.value);
      id_seen = true;
    } else if (EqualsIgnoreCase(n, "description")) {
      if (!desc_seen) p.description = UnfoldHeader(f.value);
      desc_seen = true;
    } else if (EqualsIgnoreCase(n, "md5")) {
      if (!md5_seen) p.md5 = UnfoldHeader(f.value);
      md5_seen = true;
    } else if (EqualsIgnoreCase(n, "disposition")) {
      if (!disp_seen) ParseContentDisposition(f.value, p);
      disp_seen = true;
    } else if (EqualsIgnoreCase(n, "language")) {
      if (!lang_seen) ParseContentLanguage(f.value, p);
      lang_seen = true;
    } else if (EqualsIgnoreCase(n, "location")) {
      if (!loc_seen) p.location = UnfoldHeader(f.value);
      loc_seen = true;
    }
  }
  if (!type_ok && parent_is_digest) {  // RFC 2046 5.1.5: the default in a digest
    p.type = "message";
    p.subtype = "rfc822";
  }
  if (p.type == "multipart") {
    const MimeParam* b = p.Param("boundary");
    if (b != nullptr && !b->value.empty()) p.kind = PartKind::kMultipart;
  } else if (p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global")) {
    // An encoded message/rfc822 cannot be parsed in place; it stays a leaf.
    const std::string& e = p.transfer_encoding;
    if (e == "7bit" || e == "8bit" || e == "binary") p.kind = PartKind::kMessage;
  }
}

// ---------------------------------------------------------------------------
// The parser.

struct Counts {
  uint64_t lf = 0;       // '\n' bytes before the cursor
  uint64_t bare_lf = 0;  // of those, the ones not preceded by '\r'
};

struct Line {
  size_t start;
  size_t content_end;  // before "\r\n" / "\n"
  size_t next;         // start of the next line (== content_end at EOF without LF)
};

struct BoundaryHit {
  size_t level;  // index into the boundary stack
  bool close;    // "--boundary--"
  Line line;
  Counts counts;  // counters at line.start
};

class Parser {
 public:
  Parser(std::string_view raw, const ParseLimits& limits) : raw_(raw), limits_(limits) {}

  Result<ParsedMessage> Run() {
    msg_.raw = raw_;
    msg_.parts.emplace_back();
    if (auto r = ParsePart(0, false); !r) return tl::unexpected(std::move(r.error()));
    return std::move(msg_);
  }

 private:
  Line PeekLine() const {
    const void* nl = std::memchr(raw_.data() + pos_, '\n', raw_.size() - pos_);
    if (nl == nullptr) return {pos_, raw_.size(), raw_.size()};
    size_t lf = static_cast<const char*>(nl) - raw_.data();
    size_t content_end = (lf > pos_ && raw_[lf - 1] == '\r') ? lf - 1 : lf;
    return {pos_, content_end, lf + 1};
  }

  void Advance(const Line& l) {
    if (l.next > l.content_end) {
      ++counts_.lf;
      if (l.next - l.content_end == 1) ++counts_.bare_lf;
    }
    pos_ = l.next;
  }

  // Counts the rest of the input when no boundary can end it.
  void AdvanceToEnd() {
    const char* p = raw_.data() + pos_;
    const char* end = raw_.data() + raw_.size();
    while (p < end) {
      const void* nl = std::memchr(p, '\n', end - p);
      if (nl == nullptr) break;
      const char* lf = static_cast<const char*>(nl);
      ++counts_.lf;
      if (lf == raw_.data() || lf[-1] != '\r') ++counts_.bare_lf;
      p = lf + 1;
    }
    pos_ = raw_.size();
  }

  // Is `l` a boundary line of an open multipart? Innermost first, prefix match
  // (like Dovecot), so "--b  " and "--b garbage" still delimit.
  bool AtBoundary(const Line& l) {
    if (boundaries_.empty()) return false;
    const size_t len = l.content_end - l.start;
    if (len < 2 || raw_[l.start] != '-' || raw_[l.start + 1] != '-') return false;
    std::string_view rest = raw_.substr(l.start + 2, len - 2);
    for (size_t i = boundaries_.size(); i-- > 0;) {
      if (rest.starts_with(boundaries_[i])) {
        bool close = rest.substr(boundaries_[i].size()).starts_with("--");
        hit_ = BoundaryHit{i, close, l, counts_};
        return true;
      }
    }
    return false;
  }

  void ConsumeBoundaryLine() {
    Advance(hit_->line);
    hit_.reset();
  }

  void ScanToBoundary() {
    hit_.reset();
    if (boundaries_.empty()) {
      AdvanceToEnd();
      return;
    }
    while (pos_ < raw_.size()) {
      Line l = PeekLine();
      if (AtBoundary(l)) return;
      Advance(l);
    }
  }

  Result<void> FieldTooLong(size_t start) {
    std::string_view line = raw_.substr(start, std::min<size_t>(64, raw_.size() - start));
    std::string_view name = line.substr(0, line.find(':'));
    return Fail(ErrorKind::kLimitExceeded, "header field '" + Printable(name) + "' is longer than " +
                                               std::to_string(limits_.max_header_field_bytes) + " bytes");
  }

  Result<void> AddField(size_t start, size_t first_line_end, size_t field_end) {
    std::string_view first_line = raw_.substr(start, first_line_end - start);
    const size_t colon = first_line.find(':');
    if (colon == std::string_view::npos) return {};  // junk line: no field name
    std::string_view name = first_line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (name.empty()) return {};
    for (char c : name) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 32 || u >= 127) return {};  // "From sender date" mbox lines and other junk
    }
    size_t v = start + colon + 1;
    while (v < field_end && (raw_[v] == ' ' || raw_[v] == '\t' || raw_[v] == '\r' || raw_[v] == '\n')) ++v;
    if (msg_.headers.size() >= limits_.max_header_fields) {
      return Fail(ErrorKind::kLimitExceeded,
                  "more than " + std::to_string(limits_.max_header_fields) + " header fields");
    }
    msg_.headers.push_back({name, raw_.substr(v, field_end - v)});
    return {};
  }

  // Reads header fields up to and including the empty line. A boundary line
  // also ends the header block (then the part has no body).
  Result<void> ParseHeaderBlock(size_t idx) {
    hit_.reset();
    const size_t first = msg_.headers.size();
    while (pos_ < raw_.size()) {
      const Line l = PeekLine();
      if (l.content_end == l.start) {
        Advance(l);
        break;
      }
      if (AtBoundary(l)) break;
      if (l.content_end - l.start > limits_.max_header_field_bytes) return FieldTooLong(l.start);
      Advance(l);
      size_t field_end = l.content_end;
      while (pos_ < raw_.size()) {
        const Line c = PeekLine();
        if (c.content_end == c.start || (raw_[c.start] != ' ' && raw_[c.start] != '\t')) break;
        if (c.content_end - l.start > limits_.max_header_field_bytes) return FieldTooLong(l.start);
        Advance(c);
        field_end = c.content_end;
      }
      if (auto r = AddField(l.start, l.content_end, field_end); !r) return r;
    }
    msg_.parts[idx].first_header = first;
    msg_.parts[idx].header_count = msg_.headers.size() - first;
    return {};
  }

  Result<size_t> NewChild(size_t parent) {
    if (msg_.parts.size() >= limits_.max_parts) {
      return Fail(ErrorKind::kLimitExceeded, "more than " + std::to_string(limits_.max_parts) + " MIME parts");
    }
    const size_t depth = msg_.parts[parent].depth + 1;
    if (depth > limits_.max_depth) {
      return Fail(ErrorKind::kLimitExceeded,
                  "MIME parts nested deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    const size_t idx = msg_.parts.size();
    msg_.parts.emplace_back();
    msg_.parts.back().parent = parent;
    msg_.parts.back().depth = depth;
    msg_.parts[parent].children.push_back(idx);
    return idx;
  }

  Result<void> ParsePart(size_t idx, bool parent_is_digest) {
    msg_.parts[idx].header_start = pos_;
    if (auto r = ParseHeaderBlock(idx); !r) return r;
    const size_t body_start = pos_;
    const Counts body_counts = counts_;
    MessagePart& part = msg_.parts[idx];
    part.body_start = body_start;
    ApplyMimeHeaders(msg_.Headers(idx), part, parent_is_digest);

    if (part.kind == PartKind::kMessage) {
      // Even when the header was cut short by a boundary the encapsulated
      // message exists (empty), so ENVELOPE/BODYSTRUCTURE stay well formed.
      auto child = NewChild(idx);
      if (!child) return tl::unexpected(std::move(child.error()));
      if (auto r = ParsePart(*child, false); !r) return r;
    } else if (!hit_ && part.kind == PartKind::kMultipart) {
      std::string boundary = part.Param("boundary")->value;
      const bool digest = part.subtype == "digest";
      if (auto r = ParseMultipartBody(idx, std::move(boundary), digest); !r) return r;
    } else if (!hit_) {
      ScanToBoundary();
    }
    FinishPart(idx, body_start, body_counts);
    return {};
  }

  Result<void> ParseMultipartBody(size_t idx, std::string boundary, bool digest) {
    const size_t level = boundaries_.size();
    boundaries_.push_back(std::move(boundary));
    ScanToBoundary();  // preamble
    while (hit_ && hit_->level == level && !hit_->close) {
      ConsumeBoundaryLine();
      auto child = NewChild(idx);
      if (!child) return tl::unexpected(std::move(child.error()));
      if (auto r = ParsePart(*child, digest); !r) return r;
    }
    boundaries_.pop_back();
    if (hit_ && hit_->level == level) {  // close delimiter: the epilogue follows
      ConsumeBoundaryLine();
      ScanToBoundary();
    }
    // Otherwise EOF or an outer boundary: the close delimiter was missing.
    return {};
  }

  // Sets end, sizes and line count. The part ends at EOF or where the line
  // end before the boundary line in hit_ starts: that CRLF belongs to the
  // delimiter (RFC 2046 5.1.1), even when it is the blank line after the
  // part's header or the end of its last header line; the body is then empty
  // and starts where the part ends. A part never ends before its last child:
  // when two boundary lines share one CRLF ("--a\r\n--b"), the empty part
  // between them sits after that CRLF, and so does its parent's end.
  void FinishPart(size_t idx, size_t body_start, Counts body_counts) {
    MessagePart& p = msg_.parts[idx];
    size_t end = raw_.size();
    Counts end_counts = counts_;
    if (hit_) {
      const size_t ls = hit_->line.start;  // > 0: boundary lines follow a header
      const bool crlf = ls >= 2 && raw_[ls - 2] == '\r';
      end = std::max(p.header_start, ls - std::min<size_t>(ls, crlf ? 2 : 1));
      end_counts = {hit_->counts.lf - 1, hit_->counts.bare_lf - (crlf ? 0 : 1)};
      const size_t last_child_end = p.children.empty() ? 0 : msg_.parts[p.children.back()].end;
      if (end >= ls || last_child_end >= ls) {
        end = ls;
        end_counts = hit_->counts;
      }
    }
    p.end = end;
    if (end <= body_start) {
      p.body_start = end;
      p.body_octets = p.body_octets_crlf = p.body_lines = 0;
      return;
    }
    p.body_start = body_start;
    p.body_octets = end - body_start;
    p.body_octets_crlf = p.body_octets + (end_counts.bare_lf - body_counts.bare_lf);
    p.body_lines = end_counts.lf - body_counts.lf + (raw_[end - 1] != '\n' ? 1 : 0);
  }

  std::string_view raw_;
  const ParseLimits& limits_;
  ParsedMessage msg_;
  size_t pos_ = 0;
  Counts counts_;
  std::vector<std::string> boundaries_;  // open multiparts, outermost first
  std::optional<BoundaryHit> hit_;       // the boundary line the cursor stopped at
};

}  // namespace

const MimeParam* MessagePart::Param(std::string_view name) const {
  const MimeParam* plain = nullptr;
  for (const MimeParam& p : params) {
    if (p.name != name) continue;
    if (!p.rfc2231.empty()) return &p;
    if (plain == nullptr) plain = &p;
  }
  return plain;
}

const MimeParam* MessagePart::DispositionParam(std::string_view name) const {
  const MimeParam* plain = nullptr;
  for (const MimeParam& p : disposition_params) {
    if (p.name != name) continue;
    if (!p.rfc2231.empty()) return &p;
    if (plain == nullptr) plain = &p;
  }
  return plain;
}

std::span<const HeaderField> ParsedMessage::Headers(size_t part) const {
  const MessagePart& p = parts.at(part);
  return std::span<const HeaderField>(headers).subspan(p.first_header, p.header_count);
}

std::optional<std::string_view> ParsedMessage::Header(std::string_view name, size_t part) const {
  for (const HeaderField& f : Headers(part))
    if (EqualsIgnoreCase(f.name, name)) return f.value;
  return std::nullopt;
}

std::string_view ParsedMessage::Body(size_t part) const {
  const MessagePart& p = parts.at(part);
  return raw.substr(p.body_start, p.end - p.body_start);
}

Result<ParsedMessage> ParseMessage(std::string_view raw, const ParseLimits& limits) {
  if (raw.empty()) return Fail(ErrorKind::kInvalidInput, "empty message");
  return Parser(raw, limits).Run();
}

std::optional<size_t> FindPart(const ParsedMessage& msg, std::span<const uint32_t> section) {
  if (msg.parts.empty()) return std::nullopt;
  size_t cur = 0;
  bool message_top = true;  // cur is the top-level part of a (possibly encapsulated) message
  for (uint32_t n : section) {
    if (n == 0) return std::nullopt;
    if (!message_top && msg.parts[cur].kind == PartKind::kMessage) {
      if (msg.parts[cur].children.empty()) return std::nullopt;
      cur = msg.parts[cur].children[0];
      message_top = true;
    }
    const MessagePart& p = msg.parts[cur];
    if (p.kind == PartKind::kMultipart) {
      if (n > p.children.size()) return std::nullopt;
      cur = p.children[n - 1];
    } else if (!message_top || n != 1) {
      return std::nullopt;  // a leaf has no sub-parts; a single-part message has only "1"
    }
    message_top = false;
  }
  return cur;
}

}  // namespace columba::mail
