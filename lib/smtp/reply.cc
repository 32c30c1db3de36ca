// reply.cc - formatting of SMTP/LMTP replies; see reply.h.
//
// Never writes a CR or LF except as the line terminator, never a line over 512 octets.
#include "lib/smtp/reply.h"

#include <cassert>

namespace columba::smtp {

namespace {

bool AllDigits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

void AppendLine(std::string& out, int code, char sep, std::string_view enhanced, std::string_view text) {
  assert(code >= 200 && code <= 599);
  assert(enhanced.empty() || (IsEnhancedCode(enhanced) && enhanced[0] == '0' + code / 100));
  size_t start = out.size();
  out += std::to_string(code);
  out += sep;
  if (!enhanced.empty()) {
    out += enhanced;
    out += ' ';
  }
  size_t room = kMaxReplyLine - 2 - (out.size() - start);
  std::string clean = SanitizeReplyText(text.substr(0, room));
  out += clean;
  out += "\r\n";
}

}  // namespace

bool IsEnhancedCode(std::string_view e) {
  size_t d1 = e.find('.');
  if (d1 == std::string_view::npos) return false;
  size_t d2 = e.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  std::string_view cls = e.substr(0, d1), subject = e.substr(d1 + 1, d2 - d1 - 1), detail = e.substr(d2 + 1);
  if (cls != "2" && cls != "4" && cls != "5") return false;
  return AllDigits(subject, 1, 3) && AllDigits(detail, 1, 3);
}

std::string SanitizeReplyText(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      c = ' ';
    else if (u >= 0x80)
      c = '?';
  }
  return out;
}

std::string FormatReply(int code, std::string_view enhanced, std::string_view text) {
  std::string out;
  AppendLine(out, code, ' ', enhanced, text);
  return out;
}

std::string FormatReply(const Reply& reply) { return FormatReply(reply.code, reply.enhanced, reply.text); }

std::string FormatMultilineReply(int code, std::string_view enhanced, std::span<const std::string> lines) {
  assert(!lines.empty());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) AppendLine(out, code, i + 1 < lines.size() ? '-' : ' ', enhanced, lines[i]);
  return out;
}

}  // namespace columba::smtp
