// decode.cc - transfer encodings, charset conversion to UTF-8 and RFC 2047.
//
// Single forward passes over string_views. Must never fail on bad input, never
// emit invalid UTF-8 or NUL from a *Utf8 function, and never recurse.
#include "lib/mail/decode.h"

#include <array>
#include <cstdint>

namespace columba::mail {
namespace {

enum class Charset { kUtf8, kWindows1252, kLatin9, kUnknown };

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  return true;
}

Charset LookupCharset(std::string_view name) {
  // RFC 2231 section 5 allows "charset*language" in encoded-words.
  if (size_t star = name.find('*'); star != std::string_view::npos) name = name.substr(0, star);
  static constexpr std::string_view kUtf8[] = {"utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968",
                                               "iso646-us", "us", "cp367"};
  static constexpr std::string_view k1252[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1",
                                               "iso-ir-100", "cp819", "ibm819", "windows-1252", "cp1252",
                                               "x-cp1252"};
  static constexpr std::string_view kLatin9[] = {"iso-8859-15", "iso8859-15", "iso_8859-15", "latin9",
                                                 "latin-9", "l9"};
  for (auto n : kUtf8)
    if (EqualsIgnoreCase(name, n)) return Charset::kUtf8;
  for (auto n : k1252)
    if (EqualsIgnoreCase(name, n)) return Charset::kWindows1252;
  for (auto n : kLatin9)
    if (EqualsIgnoreCase(name, n)) return Charset::kLatin9;
  return Charset::kUnknown;
}


// Windows-1252 0x80..0x9F; the five undefined slots map to the C1 control.
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

uint32_t Cp1252(unsigned char c) {
  if (c >= 0x80 && c <= 0x9F) return kCp1252High[c - 0x80];
  return c;
}

uint32_t Latin9(unsigned char c) {
  switch (c) {
    case 0xA4: return 0x20AC;
    case 0xA6: return 0x0160;
    case 0xA8: return 0x0161;
    case 0xB4: return 0x017D;
    case 0xB8: return 0x017E;
    case 0xBC: return 0x0152;
    case 0xBD: return 0x0153;
    case 0xBE: return 0x0178;
    default: return c;
  }
}

// Length of a valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t ValidUtf8Length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  uint32_t cp;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, min = 0x80, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, min = 0x800, cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, min = 0x10000, cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void AppendSanitized(std::string& out, std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    // Fast path: runs of printable ASCII.
    size_t run = i;
    while (run < bytes.size() && static_cast<unsigned char>(bytes[run]) < 0x80 && bytes[run] != '\0') ++run;
    out.append(bytes.data() + i, run - i);
    i = run;
    if (i >= bytes.size()) break;
    if (bytes[i] == '\0') {
      ++i;
      continue;
    }
    if (size_t len = ValidUtf8Length(bytes, i); len > 0) {
      out.append(bytes.data() + i, len);
      i += len;
    } else {
      AppendCodePoint(out, Cp1252(static_cast<unsigned char>(bytes[i])));
      ++i;
    }
  }
}

void AppendSingleByte(std::string& out, std::string_view bytes, Charset cs) {
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) continue;
    if (c < 0x80) {
      out += ch;
    } else {
      AppendCodePoint(out, cs == Charset::kLatin9 ? Latin9(c) : Cp1252(c));
    }
  }
}

void AppendConverted(std::string& out, std::string_view bytes, Charset cs) {
  if (cs == Charset::kWindows1252 || cs == Charset::kLatin9) {
    AppendSingleByte(out, bytes, cs);
  } else {
    AppendSanitized(out, bytes);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// RFC 2047 "Q" encoding: like quoted-printable, with '_' for space and no line breaks.
std::string DecodeQ(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

struct EncodedWord {
  std::string_view charset;
  std::string bytes;
  size_t end = 0;  // index just past "?="
};

bool IsEncodedWordCharsetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 && c != '?' && c != '(' && c != ')' && c != '"' && c != '=';
}

// Parses "=?charset?enc?text?=" at s[i]. Encoded text may not hold whitespace.
bool ParseEncodedWord(std::string_view s, size_t i, EncodedWord& ew) {
  constexpr size_t kMaxEncodedWord = 1000;  // RFC says 75; real mail is sloppier
  if (s.compare(i, 2, "=?") != 0) return false;
  size_t p = i + 2;
  size_t cs_start = p;
  while (p < s.size() && IsEncodedWordCharsetChar(s[p])) ++p;
  if (p == cs_start || p + 3 > s.size() || s[p] != '?') return false;
  std::string_view charset = s.substr(cs_start, p - cs_start);
  char enc = LowerAscii(s[p + 1]);
  if ((enc != 'q' && enc != 'b') || s[p + 2] != '?') return false;
  size_t text_start = p + 3;
  size_t q = text_start;
  while (q + 1 < s.size() && !(s[q] == '?' && s[q + 1] == '=')) {
    if (IsWsp(s[q]) || s[q] == '\r' || s[q] == '\n' || q - i > kMaxEncodedWord) return false;
    ++q;
  }
  if (q + 1 >= s.size()) return false;
  std::string_view text = s.substr(text_start, q - text_start);
  ew.charset = charset;
  ew.bytes = enc == 'b' ? DecodeBase64(text) : DecodeQ(text);
  ew.end = q + 2;
  return true;
}

}  // namespace

std::string DecodeBase64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = Base64Value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    // One line at a time, so trailing whitespace can be dropped.
    size_t lf = in.find('\n', i);
    size_t line_end = lf == std::string_view::npos ? in.size() : lf;
    size_t content_end = line_end;
    if (content_end > i && in[content_end - 1] == '\r') --content_end;
    size_t trimmed = content_end;
    while (trimmed > i && IsWsp(in[trimmed - 1])) --trimmed;
    bool soft_break = false;
    for (size_t k = i; k < trimmed; ++k) {
      char c = in[k];
      if (c != '=') {
        out += c;
        continue;
      }
      if (k + 1 == trimmed) {  // "=" at the end of the line: soft line break
        soft_break = true;
        break;
      }
      if (k + 2 < trimmed && HexValue(in[k + 1]) >= 0 && HexValue(in[k + 2]) >= 0) {
        out += static_cast<char>(HexValue(in[k + 1]) * 16 + HexValue(in[k + 2]));
        k += 2;
      } else {
        out += c;
      }
    }
    if (lf == std::string_view::npos) break;
    if (!soft_break) out.append(in.data() + content_end, line_end + 1 - content_end);
    i = line_end + 1;
  }
  return out;
}

std::string DecodeTransferEncoding(std::string_view body, std::string_view encoding) {
  if (EqualsIgnoreCase(encoding, "base64")) return DecodeBase64(body);
  if (EqualsIgnoreCase(encoding, "quoted-printable")) return DecodeQuotedPrintable(body);
  return std::string(body);
}

bool IsKnownCharset(std::string_view charset) { return LookupCharset(charset) != Charset::kUnknown; }

void AppendAsUtf8(std::string& out, std::string_view bytes, std::string_view charset) {
  AppendConverted(out, bytes, LookupCharset(charset));
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  AppendSanitized(out, bytes);
  return out;
}

std::string UnfoldHeader(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw)
    if (c != '\r' && c != '\n') out += c;
  size_t b = 0;
  while (b < out.size() && IsWsp(out[b])) ++b;
  size_t e = out.size();
  while (e > b && IsWsp(out[e - 1])) --e;
  return out.substr(b, e - b);
}

std::string DecodeHeaderText(std::string_view raw_value) {
  const std::string s = UnfoldHeader(raw_value);
  std::string out;
  out.reserve(s.size());
  std::string pending;  // decoded bytes of adjacent encoded-words in one charset
  Charset pending_cs = Charset::kUnknown;
  bool last_was_word = false;
  size_t plain_start = 0;  // start of undecoded text not yet copied to out

  auto flush_pending = [&] {
    if (!pending.empty()) AppendConverted(out, pending, pending_cs);
    pending.clear();
  };

  size_t i = 0;
  while (i < s.size()) {
    EncodedWord ew;
    if (s[i] == '=' && i + 1 < s.size() && s[i + 1] == '?' && ParseEncodedWord(s, i, ew)) {
      Charset cs = LookupCharset(ew.charset);
      if (cs != Charset::kUnknown) {
        std::string_view between(s.data() + plain_start, i - plain_start);
        bool only_space = last_was_word && between.find_first_not_of(" \t") == std::string_view::npos;
        if (!only_space) {
          flush_pending();
          AppendSanitized(out, between);
        }
        // Adjacent words in one charset are joined before conversion, so a
        // multi-byte character split across two words survives.
        if (!pending.empty() && cs != pending_cs) flush_pending();
        pending += ew.bytes;
        pending_cs = cs;
        i = ew.end;
        plain_start = i;
        last_was_word = true;
        continue;
      }
    }
    if (!IsWsp(s[i])) {
      if (last_was_word) {
        flush_pending();
        last_was_word = false;
      }
    }
    ++i;
  }
  flush_pending();
  AppendSanitized(out, std::string_view(s.data() + plain_start, s.size() - plain_start));
  return out;
}

void AppendCodePoint(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace columba::mail
