// utf7.cc - modified UTF-7 <-> UTF-8 (RFC 3501 5.1.3). See utf7.h.
//
// Never accepts a non-canonical encoding; never reads outside the input.
#include "lib/imap/utf7.h"

#include <cstdint>
#include <vector>

namespace columba::imap {
namespace {

constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one UTF-8 sequence at s[i]; advances i. Invalid -> U+FFFD, 1 byte.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  size_t len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

void FlushBase64(std::string& out, const std::vector<uint16_t>& units) {
  out.push_back('&');
  uint32_t bits = 0;
  int nbits = 0;
  for (uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out.push_back(kBase64[(bits >> nbits) & 0x3F]);
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) out.push_back(kBase64[(bits << (6 - nbits)) & 0x3F]);
  out.push_back('-');
}

}  // namespace

Result<std::string> Utf7ToUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    auto uc = static_cast<unsigned char>(c);
    if (uc < 0x20 || uc > 0x7e) {
      return Fail(ErrorKind::kInvalidInput, "mailbox name: byte outside printable ASCII");
    }
    if (c != '&') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++i;
    if (i < in.size() && in[i] == '-') {
      out.push_back('&');
      ++i;
      continue;
    }
    // Base64 run up to '-'.
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // pending high surrogate
    size_t units = 0;
    bool closed = false;
    while (i < in.size()) {
      char b = in[i++];
      if (b == '-') {
        closed = true;
        break;
      }
      int v = Base64Value(b);
      if (v < 0) return Fail(ErrorKind::kInvalidInput, "mailbox name: bad modified base64");
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits < 16) continue;
      nbits -= 16;
      uint32_t u = (bits >> nbits) & 0xFFFF;
      bits &= (1u << nbits) - 1;
      ++units;
      if (high != 0) {
        if (u < 0xDC00 || u > 0xDFFF) {
          return Fail(ErrorKind::kInvalidInput, "mailbox name: unpaired UTF-16 surrogate");
        }
        AppendUtf8(out, 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00));
        high = 0;
      } else if (u >= 0xD800 && u <= 0xDBFF) {
        high = u;
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        return Fail(ErrorKind::kInvalidInput, "mailbox name: unpaired UTF-16 surrogate");
      } else if (u == 0) {
        return Fail(ErrorKind::kInvalidInput, "mailbox name: encoded NUL");
      } else if (u >= 0x20 && u <= 0x7e) {
        return Fail(ErrorKind::kInvalidInput, "mailbox name: printable ASCII must not be encoded");
      } else {
        AppendUtf8(out, u);
      }
    }
    if (!closed) return Fail(ErrorKind::kInvalidInput, "mailbox name: unterminated &...- sequence");
    if (units == 0) return Fail(ErrorKind::kInvalidInput, "mailbox name: empty &...- sequence");
    if (high != 0) return Fail(ErrorKind::kInvalidInput, "mailbox name: unpaired UTF-16 surrogate");
    if (nbits >= 6 || bits != 0) {
      return Fail(ErrorKind::kInvalidInput, "mailbox name: non-canonical base64 padding");
    }
    // "&AOQ-&AOQ-" would be a second spelling of "&AOQA5A-".
    if (i < in.size() && in[i] == '&' && !(i + 1 < in.size() && in[i + 1] == '-')) {
      return Fail(ErrorKind::kInvalidInput, "mailbox name: adjacent encoded sequences");
    }
  }
  return out;
}

std::string Utf8ToUtf7(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 8);
  std::vector<uint16_t> units;
  size_t i = 0;
  while (i < in.size()) {
    uint32_t cp = NextCodePoint(in, i);
    if (cp >= 0x20 && cp <= 0x7e) {
      if (!units.empty()) {
        FlushBase64(out, units);
        units.clear();
      }
      if (cp == '&') {
        out += "&-";
      } else {
        out.push_back(static_cast<char>(cp));
      }
      continue;
    }
    if (cp == 0) cp = 0xFFFD;  // NUL is not a valid mailbox character
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<uint16_t>(0xD800 + (cp >> 10)));
      units.push_back(static_cast<uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      units.push_back(static_cast<uint16_t>(cp));
    }
  }
  if (!units.empty()) FlushBase64(out, units);
  return out;
}

}  // namespace columba::imap
