// decode.h - content decoding for mail text: transfer encodings, charsets, RFC 2047.
//
// NAME
//   DecodeBase64, DecodeQuotedPrintable, DecodeTransferEncoding, AppendAsUtf8,
//   SanitizeUtf8, DecodeHeaderText, UnfoldHeader
//
// DESCRIPTION
//   Pure byte-in / string-out helpers used by the message parser and by search
//   extraction. They accept anything (bad padding, stray '=', invalid UTF-8) and
//   never fail: the worst case is text that still shows the undecodable bytes.
//
//   Charsets: only the C++ standard library is available, so the converters know
//   UTF-8, US-ASCII, ISO-8859-1 (read as Windows-1252, as browsers do),
//   Windows-1252 and ISO-8859-15. Every function whose name says "Utf8" returns
//   valid UTF-8 with no NUL byte, so the result can go into a PostgreSQL text
//   column as is; bytes that are not valid UTF-8 are read as Windows-1252.
//
// NEVER
//   Never allocates more than a small constant factor of its input, never
//   recurses, never reads outside the given views.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace columba::mail {

// RFC 2045 section 6.8. Characters outside the alphabet are skipped; decoding
// stops at the first '=' pad or at the end of the input.
std::string DecodeBase64(std::string_view in);

// RFC 2045 section 6.7. "=XX" escapes and soft line breaks are decoded; a '='
// that starts no valid escape is kept as is. Trailing whitespace before a line
// end is dropped as the RFC asks.
std::string DecodeQuotedPrintable(std::string_view in);

// Decodes a body by its Content-Transfer-Encoding (lower-case token):
// "base64" and "quoted-printable" are decoded, anything else is copied.
std::string DecodeTransferEncoding(std::string_view body, std::string_view encoding);

// True when the charset name is one AppendAsUtf8 converts exactly.
bool IsKnownCharset(std::string_view charset);

// Converts bytes in `charset` to UTF-8 and appends them to `out`. Unknown
// charsets are treated like UTF-8 (with the Windows-1252 fallback for invalid
// bytes). NUL bytes are dropped.
void AppendAsUtf8(std::string& out, std::string_view bytes, std::string_view charset);

// Valid UTF-8 without NUL; invalid bytes are read as Windows-1252.
std::string SanitizeUtf8(std::string_view bytes);

// Removes the CR and LF of folded header lines (the whitespace after them stays)
// and trims leading and trailing whitespace.
std::string UnfoldHeader(std::string_view raw_value);

// Unfolds a raw header value and decodes RFC 2047 encoded-words into UTF-8.
// Whitespace between adjacent encoded-words is dropped (RFC 2047 section 6.2);
// encoded-words in a charset this file does not know stay as they were written.
std::string DecodeHeaderText(std::string_view raw_value);

// Appends one Unicode code point as UTF-8; NUL, surrogates and values above
// U+10FFFF become U+FFFD, so the output is always valid UTF-8 without NUL.
void AppendCodePoint(std::string& out, uint32_t cp);

}  // namespace columba::mail
