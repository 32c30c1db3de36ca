// command.h - the POP3 command parser (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
// RFC 5034 AUTH): one command line in, a typed command or a protocol error out.
//
// NAME
//   Verb, Command, ParseCommand, VerbName, ParseMessageNumber
//
// SYNOPSIS
//   auto cmd = pop3::ParseCommand("TOP 3 10");   // line without CRLF
//   if (!cmd) reply("-ERR " + cmd.error().message);
//   else if (cmd->verb == Verb::kTop) ... cmd->msg, cmd->lines
//
// DESCRIPTION
//   Keywords are case-insensitive (RFC 1939 3), separated from arguments by one
//   or more spaces. Each verb's arguments are checked here, so a session only
//   sees commands it can execute: message numbers are decimal, 1..2^31-1;
//   TOP's line count 0..2^31-1; USER takes one name; PASS takes the rest of the
//   line verbatim (passwords may contain spaces, as Dovecot and Cyrus accept);
//   APOP takes a name and a 32-hex-digit digest; AUTH takes an optional
//   mechanism and an optional initial response (RFC 5034 4). Which state a
//   command is allowed in is the session's business, not the parser's.
//   A verb the parser does not know is kUnknown (the session answers -ERR and
//   counts it), not an error, so unknown extensions are told apart from syntax.
//
// NEVER
//   Never does I/O, never allocates more than the line's size, never accepts a
//   CR, LF or NUL inside a line, never puts client bytes into an error message
//   (errors are fixed texts, safe to echo).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::pop3 {

enum class Verb {
  kUser, kPass, kApop, kAuth, kCapa, kStls, kQuit,   // AUTHORIZATION
  kStat, kList, kRetr, kDele, kNoop, kRset, kTop, kUidl,  // TRANSACTION
  kUnknown,
};

// RFC 1939 3: arguments up to 40 octets (USER names and APOP digests are
// checked against this); PASS and AUTH responses may be longer.
inline constexpr size_t kMaxArgument = 40;
// Names (USER/APOP) are e-mail addresses in practice: accept up to 255 octets.
inline constexpr size_t kMaxName = 255;

struct Command {
  Verb verb = Verb::kUnknown;
  std::string keyword;                 // upper case, as sent (for metrics and logs)
  std::optional<uint32_t> msg;         // LIST/UIDL (optional), RETR/DELE/TOP
  uint32_t lines = 0;                  // TOP
  std::string name;                    // USER, APOP; AUTH: the mechanism (upper case)
  std::string secret;                  // PASS: the password; APOP: the digest (lower case)
  std::optional<std::string> initial;  // AUTH initial response (base64, "=" for empty)
};

// Parses one command line (without its CRLF). Errors are ErrorKind::kInvalidInput
// with a fixed message suitable for "-ERR <message>".
Result<Command> ParseCommand(std::string_view line);

// "USER", "RETR", ... ("UNKNOWN" for kUnknown): metric labels.
const char* VerbName(Verb v);

// A message number: 1..2^31-1, decimal digits only, no sign, at most 10 digits.
std::optional<uint32_t> ParseMessageNumber(std::string_view s);

}  // namespace columba::pop3
