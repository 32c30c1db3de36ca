// reply.h - formatting of SMTP/LMTP replies ("250 2.1.0 Ok\r\n", "250-...\r\n250 ...\r\n").
//
// Pure formatting: no I/O. Every line produced is `CODE SP [ENHANCED SP] TEXT CRLF`
// (or `CODE-...` for all but the last line of a multiline reply), at most 512 octets
// including the CRLF (RFC 5321 4.5.3.1.5). It must never emit a CR or LF inside a
// line: text, which may echo client input, is passed through SanitizeReplyText, which
// replaces CR, LF and every other control octet with a space and every non-ASCII
// octet with '?'. A bad code or enhanced code is a programmer bug (assert), not input.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace columba::smtp {

// One reply line's parts. `enhanced` is an RFC 3463 code such as "2.1.0", or empty
// for replies that carry none (the greeting and the EHLO/LHLO capability list).
struct Reply {
  int code = 0;
  std::string enhanced;
  std::string text;
};

// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including CRLF.
inline constexpr size_t kMaxReplyLine = 512;

// "250 2.1.0 Ok\r\n". Text is sanitised and truncated to fit kMaxReplyLine.
std::string FormatReply(int code, std::string_view enhanced, std::string_view text);
std::string FormatReply(const Reply& reply);

// "250-first\r\n250-second\r\n250 last\r\n", each line carrying `enhanced` when it is
// not empty (RFC 2034 puts the enhanced code on every line). `lines` must not be empty.
std::string FormatMultilineReply(int code, std::string_view enhanced, std::span<const std::string> lines);

// Makes client-supplied text safe to echo inside one reply line: CR, LF, NUL, other
// C0 controls and DEL become ' ', octets >= 0x80 become '?'.
std::string SanitizeReplyText(std::string_view text);

// True for a well-formed RFC 3463 code "c.sss.ddd" (class 2, 4 or 5; 1-3 digits each).
bool IsEnhancedCode(std::string_view enhanced);

}  // namespace columba::smtp
