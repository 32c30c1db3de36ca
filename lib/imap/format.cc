// format.cc - IMAP response building blocks (see format.h).
//
// Every string goes through ChooseForm, the one place that decides between
// atom, quoted string and literal, so the "no bare CR/LF outside a literal"
// rule is checked once.
#include "lib/imap/format.h"

#include <algorithm>

namespace columba::imap {

// Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

namespace {

enum class Form { kAtom, kQuoted, kLiteral };

Form ChooseForm(std::string_view s, bool atom_allowed, bool utf8_enabled) {
  if (s.size() > kMaxQuotedLength) return Form::kLiteral;
  bool atom = atom_allowed && !s.empty();
  bool eight_bit = false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0 || c == '\r' || c == '\n') return Form::kLiteral;
    if (c >= 0x80) eight_bit = true;
    if (atom && !IsAtomChar(ch) && ch != ']') atom = false;
  }
  if (eight_bit && !(utf8_enabled && IsValidUtf8(s))) return Form::kLiteral;
  // An atom spelled NIL would read as "no value" to many clients.
  if (atom && s.size() == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'l') {
    return Form::kQuoted;
  }
  return atom ? Form::kAtom : Form::kQuoted;
}

void AppendIn(std::string& out, std::string_view s, Form form) {
  switch (form) {
    case Form::kAtom:
      out += s;
      return;
    case Form::kQuoted:
      out += '"';
      for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
      return;
    case Form::kLiteral:
      AppendLiteral(out, s);
      return;
  }
}

void AppendUid(std::string& out, uint64_t v) { out += std::to_string(v); }

}  // namespace

bool IsAtomChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (c <= 0x20 || c >= 0x7F) return false;  // SP, CTL, 8-bit
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

bool IsAtom(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsAtomChar); }

void AppendAstring(std::string& out, std::string_view s, bool utf8_enabled) {
  AppendIn(out, s, ChooseForm(s, /*atom_allowed=*/true, utf8_enabled));
}

void AppendString(std::string& out, std::string_view s, bool utf8_enabled) {
  AppendIn(out, s, ChooseForm(s, /*atom_allowed=*/false, utf8_enabled));
}

void AppendNstring(std::string& out, std::optional<std::string_view> s, bool utf8_enabled) {
  if (!s) {
    out += "NIL";
    return;
  }
  AppendString(out, *s, utf8_enabled);
}

void AppendLiteral(std::string& out, std::string_view s) {
  out += '{';
  out += std::to_string(s.size());
  out += "}\r\n";
  out += s;
}

void AppendBinaryLiteral(std::string& out, std::string_view s) {
  if (s.find('\0') != std::string_view::npos) out += '~';
  AppendLiteral(out, s);
}

std::string FormatFlags(uint32_t system_flags, std::span<const std::string> keywords, bool recent) {
  std::string out = "(";
  auto add = [&out](std::string_view f) {
    if (out.size() > 1) out += ' ';
    out += f;
  };
  if (system_flags & kFlagAnswered) add("\\Answered");
  if (system_flags & kFlagFlagged) add("\\Flagged");
  if (system_flags & kFlagDeleted) add("\\Deleted");
  if (system_flags & kFlagSeen) add("\\Seen");
  if (system_flags & kFlagDraft) add("\\Draft");
  if (recent) add("\\Recent");
  for (const std::string& k : keywords) {
    if (IsAtom(k)) add(k);
  }
  out += ')';
  return out;
}

std::string FormatUidSet(std::span<const uint32_t> uids) {
  std::vector<uint32_t> sorted;
  if (!std::is_sorted(uids.begin(), uids.end()) ||
      std::adjacent_find(uids.begin(), uids.end()) != uids.end()) {
    sorted.assign(uids.begin(), uids.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    uids = sorted;
  }
  std::string out;
  size_t i = 0;
  while (i < uids.size()) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    AppendUid(out, uids[i]);
    if (j > i) {
      out += ':';
      AppendUid(out, uids[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string FormatEsearch(const EsearchResponse& r) {
  std::string out = "* ESEARCH";
  if (r.tag) {
    out += " (TAG ";
    AppendString(out, *r.tag, /*utf8_enabled=*/false);
    out += ')';
  }
  if (r.uid) out += " UID";
  const bool empty = r.count ? *r.count == 0 : (r.all && r.all->empty());
  if (r.min && !empty) out += " MIN " + std::to_string(*r.min);
  if (r.max && !empty) out += " MAX " + std::to_string(*r.max);
  if (r.count) out += " COUNT " + std::to_string(*r.count);
  if (r.all && !r.all->empty()) out += " ALL " + FormatUidSet(*r.all);
  if (r.modseq && !empty) out += " MODSEQ " + std::to_string(*r.modseq);
  out += "\r\n";
  return out;
}

std::string FormatListLine(std::string_view verb, std::span<const std::string> attributes, char delimiter,
                           std::string_view name, bool utf8_enabled) {
  std::string out = "* ";
  out += verb;
  out += " (";
  bool first = true;
  for (const std::string& a : attributes) {
    // A flag is "\" atom; anything else would break the line's syntax.
    if (a.size() < 2 || a[0] != '\\' || !IsAtom(std::string_view(a).substr(1))) continue;
    if (!first) out += ' ';
    out += a;
    first = false;
  }
  out += ") ";
  if (delimiter == '\0') {
    out += "NIL";
  } else {
    const std::string d(1, delimiter);
    AppendString(out, d, false);
  }
  out += ' ';
  AppendAstring(out, name, utf8_enabled);
  out += "\r\n";
  return out;
}

std::string CodeAppendUid(uint32_t uidvalidity, std::span<const uint32_t> uids) {
  return "[APPENDUID " + std::to_string(uidvalidity) + " " + FormatUidSet(uids) + "]";
}

std::string CodeCopyUid(uint32_t uidvalidity, std::span<const uint32_t> source_uids,
                        std::span<const uint32_t> dest_uids) {
  // The two sets pair up element by element, so they must not be re-sorted
  // independently; UIDs are assigned in source order, so both ascend.
  return "[COPYUID " + std::to_string(uidvalidity) + " " + FormatUidSet(source_uids) + " " +
         FormatUidSet(dest_uids) + "]";
}

std::string CodeUidValidity(uint32_t v) { return "[UIDVALIDITY " + std::to_string(v) + "]"; }
std::string CodeUidNext(uint32_t next) { return "[UIDNEXT " + std::to_string(next) + "]"; }
std::string CodeUnseen(uint32_t seq) { return "[UNSEEN " + std::to_string(seq) + "]"; }
std::string CodeHighestModseq(uint64_t modseq) { return "[HIGHESTMODSEQ " + std::to_string(modseq) + "]"; }
std::string CodeModified(std::span<const uint32_t> set) { return "[MODIFIED " + FormatUidSet(set) + "]"; }

std::string CodePermanentFlags(uint32_t system_flags, std::span<const std::string> keywords,
                               bool new_keywords_allowed) {
  std::string flags = FormatFlags(system_flags, keywords, false);
  if (new_keywords_allowed) {
    flags.pop_back();
    if (flags.size() > 1) flags += ' ';
    flags += "\\*)";
  }
  return "[PERMANENTFLAGS " + flags + "]";
}

}  // namespace columba::imap
