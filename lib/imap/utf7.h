// utf7.h - modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3).
//
// NAME
//   Utf7ToUtf8, Utf8ToUtf7
//
// SYNOPSIS
//   Result<std::string> name = Utf7ToUtf8("Entw&APw-rfe");   // "Entwürfe"
//   std::string wire = Utf8ToUtf7("Entwürfe");               // "Entw&APw-rfe"
//
// DESCRIPTION
//   Mailbox names on the wire (without UTF8=ACCEPT) are modified UTF-7:
//   printable US-ASCII stands for itself except '&', which is written "&-";
//   everything else is UTF-16 in a modified base64 (',' instead of '/', no
//   '=' padding) between '&' and '-'.
//
//   Utf7ToUtf8 is strict, like Dovecot's imap_utf7_to_utf8: it accepts only
//   the canonical form, so every name has exactly one wire spelling and two
//   clients can never create two mailboxes that display the same.
//
// DIAGNOSTICS
//   Utf7ToUtf8 fails with kInvalidInput on: bytes outside 0x20..0x7e, an
//   unterminated shift ("&AOQ"), a character outside the base64 alphabet, a
//   shift that decodes to nothing or leaves non-zero or 6+ padding bits
//   (non-canonical), an encoded printable ASCII character (must be itself),
//   an encoded NUL, and unpaired or reversed UTF-16 surrogates.
//   Utf8ToUtf7 never fails: invalid UTF-8 bytes become U+FFFD.
//
// NEVER
//   Never reads outside the view, never produces non-canonical output.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::imap {

Result<std::string> Utf7ToUtf8(std::string_view utf7);
std::string Utf8ToUtf7(std::string_view utf8);

}  // namespace columba::imap
