// sort.cc - RFC 5256 base subjects, sort-key folding, ENVELOPE first-address
// extraction and SORT ordering (see sort.h).
//
// Must never recurse (nested ENVELOPE lists are skipped with a depth counter),
// never read outside the input, never do more than linear work per string.
#include "lib/imap/sort.h"

#include <algorithm>

#include "lib/mail/address.h"
#include "lib/mail/decode.h"

namespace columba::imap {

namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool StartsWithNoCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i)
    if (AsciiLower(s[i]) != lower_prefix[i]) return false;
  return true;
}

bool EndsWithNoCase(std::string_view s, std::string_view lower_suffix) {
  if (s.size() < lower_suffix.size()) return false;
  return StartsWithNoCase(s.substr(s.size() - lower_suffix.size()), lower_suffix);
}

// subj-blob = "[" *BLOBCHAR "]" *WSP at the start of `s`: its length, 0 if none.
size_t BlobLength(std::string_view s) {
  if (s.empty() || s[0] != '[') return 0;
  size_t i = 1;
  while (i < s.size() && s[i] != ']') {
    if (s[i] == '[') return 0;
    ++i;
  }
  if (i >= s.size()) return 0;
  ++i;  // ']'
  while (i < s.size() && s[i] == ' ') ++i;
  return i;
}

// subj-leader = (*subj-blob subj-refwd) / WSP at the start of `s`: its length,
// 0 if none; `refwd` tells which alternative matched. When none matched after
// a run of blobs, `blob_run` is the run's length (else 0).
size_t LeaderLength(std::string_view s, bool& refwd, size_t& blob_run) {
  refwd = false;
  blob_run = 0;
  if (s.empty()) return 0;
  if (s[0] == ' ') return 1;
  size_t i = 0;
  while (size_t b = BlobLength(s.substr(i))) i += b;
  blob_run = i;
  std::string_view rest = s.substr(i);
  size_t k;
  if (StartsWithNoCase(rest, "re")) {
    k = 2;
  } else if (StartsWithNoCase(rest, "fwd")) {
    k = 3;
  } else if (StartsWithNoCase(rest, "fw")) {
    k = 2;
  } else {
    return 0;
  }
  while (k < rest.size() && rest[k] == ' ') ++k;
  k += BlobLength(rest.substr(k));
  if (k >= rest.size() || rest[k] != ':') return 0;
  refwd = true;
  return i + k + 1;
}

// Tabs, CR, LF -> space; runs of spaces -> one (RFC 5256 2.1 step 1).
std::string NormalizeSpaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

// --- case folding --------------------------------------------------------------

uint32_t FoldCodePoint(uint32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 0x20 : c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c & 1) ? c - 1 : c;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 0x20;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  return c;
}

void AppendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// --- ENVELOPE wire form ---------------------------------------------------------

class WireReader {
 public:
  explicit WireReader(std::string_view s) : s_(s) {}

  bool ok() const { return ok_; }
  void SkipSpaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool TryChar(char c) {
    SkipSpaces();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool PeekChar(char c) {
    SkipSpaces();
    return i_ < s_.size() && s_[i_] == c;
  }

  // nstring: NIL -> nullopt; a malformed token clears ok().
  std::optional<std::string> NString() {
    SkipSpaces();
    if (!ok_ || i_ >= s_.size()) return Fail();
    const char c = s_[i_];
    if (c == '"') {
      std::string out;
      ++i_;
      while (i_ < s_.size() && s_[i_] != '"') {
        if (s_[i_] == '\\') {
          ++i_;
          if (i_ >= s_.size()) return Fail();
        }
        out += s_[i_++];
      }
      if (i_ >= s_.size()) return Fail();
      ++i_;
      return out;
    }
    if (c == '{') return Literal();
    if (StartsWithNoCase(s_.substr(i_), "nil")) {
      i_ += 3;
      return std::nullopt;
    }
    return Fail();
  }

  // Any item: nstring, atom/number, or a parenthesised list (skipped with a counter).
  void SkipItem() {
    SkipSpaces();
    size_t depth = 0;
    do {
      SkipSpaces();
      if (!ok_ || i_ >= s_.size()) {
        Fail();
        return;
      }
      const char c = s_[i_];
      if (c == '(') {
        ++depth;
        ++i_;
      } else if (c == ')') {
        if (depth == 0) {
          Fail();
          return;
        }
        --depth;
        ++i_;
      } else if (c == '"' || c == '{') {
        (void)NString();
      } else {
        size_t start = i_;
        while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != '(' && s_[i_] != ')' && s_[i_] != '"' && s_[i_] != '{')
          ++i_;
        if (i_ == start) {
          Fail();
          return;
        }
      }
    } while (depth > 0);
  }

 private:
  std::optional<std::string> Fail() {
    ok_ = false;
    return std::nullopt;
  }

  std::optional<std::string> Literal() {
    ++i_;  // '{'
    uint64_t n = 0;
    size_t digits = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && digits < 12) {
      n = n * 10 + static_cast<uint64_t>(s_[i_] - '0');
      ++i_;
      ++digits;
    }
    if (digits == 0) return Fail();
    if (i_ < s_.size() && s_[i_] == '+') ++i_;
    if (s_.substr(i_, 3) != "}\r\n") return Fail();
    i_ += 3;
    if (n > s_.size() - i_) return Fail();
    std::string out(s_.substr(i_, n));
    i_ += n;
    return out;
  }

  std::string_view s_;
  size_t i_ = 0;
  bool ok_ = true;
};

std::string AddrSpec(const EnvelopeAddress& a) {
  return a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host;
}

std::string DisplayKey(const std::optional<EnvelopeAddress>& a) {
  if (!a) return "";
  if (a->name) {
    std::string name = mail::DecodeHeaderText(*a->name);
    if (!name.empty()) return name;
  }
  return AddrSpec(*a);
}

std::optional<EnvelopeAddress> AddressOf(std::string_view envelope, std::string_view text, EnvelopeField field) {
  if (!envelope.empty()) {
    EnvelopeAddressResult r = ParseEnvelopeAddress(envelope, field);
    if (r.well_formed) return r.first;
  }
  return FirstAddressOfText(text);
}

}  // namespace

BaseSubject ExtractBaseSubject(std::string_view utf8_subject) {
  BaseSubject out;
  const std::string normalized = NormalizeSpaces(utf8_subject);
  std::string_view v = normalized;
  for (;;) {
    // (2) trailers: "(fwd)" and WSP.
    for (;;) {
      if (!v.empty() && v.back() == ' ') {
        v.remove_suffix(1);
      } else if (EndsWithNoCase(v, "(fwd)")) {
        v.remove_suffix(5);
        out.reply_or_forward = true;
      } else {
        break;
      }
    }
    // (3)-(5) leaders, then a blob that leaves something behind, repeatedly.
    // A leader check that failed after a run of blobs fails again from every
    // later blob of that run (step 4 removes them one by one): `no_leader_before`
    // remembers the run's end so "[a][b]...[z] x" stays linear.
    const char* no_leader_before = nullptr;
    for (;;) {
      bool changed = false;
      bool refwd = false;
      size_t blob_run = 0;
      while (!(no_leader_before != nullptr && v.data() < no_leader_before && !v.empty() && v[0] == '[')) {
        const size_t n = LeaderLength(v, refwd, blob_run);
        if (n == 0) {
          if (blob_run > 0) no_leader_before = v.data() + blob_run;
          break;
        }
        v.remove_prefix(n);
        if (refwd) out.reply_or_forward = true;
        changed = true;
      }
      if (size_t n = BlobLength(v); n > 0 && n < v.size()) {
        v.remove_prefix(n);
        changed = true;
      }
      if (!changed) break;
    }
    // (6) "[fwd:" ... "]" wrapping: unwrap and start over.
    if (v.size() >= 6 && StartsWithNoCase(v, "[fwd:") && v.back() == ']') {
      v = v.substr(5, v.size() - 6);
      out.reply_or_forward = true;
      continue;
    }
    break;
  }
  out.text = std::string(v);
  return out;
}

std::string FoldForSort(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += static_cast<char>(FoldCodePoint(b));
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    }
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (cb & 0x3F);
    }
    // Only the two-byte range holds letters that fold; keep everything else as is.
    if (valid && len == 2 && cp >= 0x80) {
      AppendUtf8(out, FoldCodePoint(cp));
      i += 2;
    } else if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += s[i];
      ++i;
    }
  }
  return out;
}

EnvelopeAddressResult ParseEnvelopeAddress(std::string_view envelope, EnvelopeField field) {
  EnvelopeAddressResult result;
  WireReader r(envelope);
  if (!r.TryChar('(')) return result;
  for (int k = 0; k < static_cast<int>(field) && r.ok(); ++k) r.SkipItem();
  if (!r.ok()) return result;
  if (!r.TryChar('(')) {
    // NIL: no addresses.
    (void)r.NString();
    result.well_formed = r.ok();
    return result;
  }
  std::optional<EnvelopeAddress> first;
  while (r.ok() && !r.TryChar(')')) {
    if (!r.TryChar('(')) return result;
    EnvelopeAddress a;
    a.name = r.NString();
    (void)r.NString();  // route
    auto mailbox = r.NString();
    auto host = r.NString();
    if (!r.ok() || !r.TryChar(')')) return result;
    if (host && !first) {  // a NIL host marks a group start or end
      a.mailbox = mailbox.value_or("");
      a.host = std::move(*host);
      first = std::move(a);
    }
  }
  result.well_formed = r.ok();
  if (result.well_formed) result.first = std::move(first);
  return result;
}

std::optional<EnvelopeAddress> FirstAddressOfText(std::string_view text) {
  mail::AddressList list = mail::ParseAddressList(text);
  for (const auto& a : list.addresses) {
    if (a.kind != mail::Address::Kind::kMailbox) continue;
    EnvelopeAddress e;
    if (!a.name.empty()) e.name = a.name;
    e.mailbox = a.mailbox;
    e.host = a.host;
    return e;
  }
  return std::nullopt;
}

std::optional<SortKey> SortKeyFromName(std::string_view n) {
  if (n == "ARRIVAL") return SortKey::kArrival;
  if (n == "CC") return SortKey::kCc;
  if (n == "DATE") return SortKey::kDate;
  if (n == "FROM") return SortKey::kFrom;
  if (n == "SIZE") return SortKey::kSize;
  if (n == "SUBJECT") return SortKey::kSubject;
  if (n == "TO") return SortKey::kTo;
  if (n == "DISPLAYFROM") return SortKey::kDisplayFrom;
  if (n == "DISPLAYTO") return SortKey::kDisplayTo;
  return std::nullopt;
}

std::optional<std::vector<SortSpec>> SortSpecs(const std::vector<SortCriterion>& criteria) {
  std::vector<SortSpec> specs;
  for (const auto& c : criteria) {
    auto k = SortKeyFromName(c.key);
    if (!k) return std::nullopt;
    specs.push_back(SortSpec{*k, c.reverse});
  }
  return specs;
}

SortRecord MakeSortRecord(const SortInput& in, std::span<const SortSpec> specs) {
  SortRecord r;
  r.seq = in.seq;
  r.number = in.number;
  r.arrival = in.internal_date;
  r.sent = SentDate(in.sent_date, in.internal_date);
  r.size = in.size;
  auto mailbox = [](const std::optional<EnvelopeAddress>& a) { return a ? FoldForSort(a->mailbox) : std::string(); };
  for (const SortSpec& s : specs) {
    switch (s.key) {
      case SortKey::kArrival:
      case SortKey::kDate:
      case SortKey::kSize: break;
      case SortKey::kSubject: r.subject = FoldForSort(ExtractBaseSubject(in.subject).text); break;
      case SortKey::kFrom: r.from = mailbox(AddressOf(in.envelope, in.from, EnvelopeField::kFrom)); break;
      case SortKey::kTo: r.to = mailbox(AddressOf(in.envelope, in.to, EnvelopeField::kTo)); break;
      case SortKey::kCc: r.cc = mailbox(AddressOf(in.envelope, in.cc, EnvelopeField::kCc)); break;
      case SortKey::kDisplayFrom:
        r.display_from = FoldForSort(DisplayKey(AddressOf(in.envelope, in.from, EnvelopeField::kFrom)));
        break;
      case SortKey::kDisplayTo:
        r.display_to = FoldForSort(DisplayKey(AddressOf(in.envelope, in.to, EnvelopeField::kTo)));
        break;
    }
  }
  return r;
}

void SortRecords(std::vector<SortRecord>& records, std::span<const SortSpec> specs) {
  auto cmp3 = [](const auto& a, const auto& b) { return a < b ? -1 : (b < a ? 1 : 0); };
  std::stable_sort(records.begin(), records.end(), [&](const SortRecord& a, const SortRecord& b) {
    for (const SortSpec& s : specs) {
      int c = 0;
      switch (s.key) {
        case SortKey::kArrival: c = cmp3(a.arrival, b.arrival); break;
        case SortKey::kDate: c = cmp3(a.sent, b.sent); break;
        case SortKey::kSize: c = cmp3(a.size, b.size); break;
        case SortKey::kSubject: c = a.subject.compare(b.subject); break;
        case SortKey::kFrom: c = a.from.compare(b.from); break;
        case SortKey::kTo: c = a.to.compare(b.to); break;
        case SortKey::kCc: c = a.cc.compare(b.cc); break;
        case SortKey::kDisplayFrom: c = a.display_from.compare(b.display_from); break;
        case SortKey::kDisplayTo: c = a.display_to.compare(b.display_to); break;
      }
      if (c != 0) return s.reverse ? c > 0 : c < 0;
    }
    return a.seq < b.seq;
  });
}

}  // namespace columba::imap
