// command.h - parsing of one SMTP/LMTP command line into a typed Command.
//
// Pure: bytes in, Command or a ready-made error reply out; no sockets, no I/O, no
// policy. Shared by the LMTP server and (later) the SMTP server. It must never
// accept a path that breaks the RFC 5321 4.1.2 / RFC 6531 grammar or limits, never
// lower-case or otherwise "fix" an address (case is the mailbox owner's business),
// and never echo client bytes into an error text.
//
// Grammar and tolerance:
//   - Verbs are case-insensitive. Trailing SP/HTAB on the line is ignored; one or
//     more SP may separate the verb from its argument and parameters from each other.
//   - MAIL FROM:/RCPT TO: keywords are case-insensitive; SP after the colon is
//     tolerated like Postfix (`MAIL FROM: <a@b>`), angle brackets are required.
//   - Local part: dot-string or quoted-string (quoted pairs %d92 %d32-126); domain:
//     LDH labels or address literal [1.2.3.4] / [IPv6:...]; RFC 6531: valid UTF-8
//     is allowed in atoms, quoted strings and domain labels (Path::utf8 is then set,
//     and the server must require the SMTPUTF8 parameter). Invalid UTF-8 is refused.
//   - `RCPT TO:<postmaster>` (any case, no domain) is valid (RFC 5321 4.5.1); no
//     other path may lack a domain. `<>` is valid only for MAIL FROM.
//   - A source route `<@a,@b:u@c>` is parsed and kept in Path::source_route so relay
//     policy can refuse it; Address() ignores it (RFC 5321 3.6.1, C).
//   - Limits (RFC 5321 4.5.3.1): local part 64 octets and domain 255 octets as sent,
//     whole path 256 octets from '<' to '>' inclusive.
//
// DIAGNOSTICS: every error is ErrorKind::kInvalidInput and its message is a complete
// reply line without CRLF, "CODE ENHANCED text", e.g. "501 5.1.7 Bad sender address
// syntax". ReplyForSyntaxError() splits it back into a Reply. Codes used:
//   500 5.5.2  unknown verb, empty line, control octets in the line
//   501 5.5.4  bad or missing arguments / ESMTP parameters (malformed, duplicate,
//              more than kMaxParams)
//   501 5.1.7  bad reverse-path (MAIL FROM), including over-long parts
//   501 5.1.3  bad forward-path (RCPT TO), including over-long parts
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/smtp/reply.h"

namespace columba::smtp {

enum class Verb {
  kHelo,
  kEhlo,
  kLhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kStarttls,
  kAuth,
  kEtrn,
};

// "HELO", "MAIL", ... (upper case), for logs and metric labels.
const char* VerbName(Verb verb);

// RFC 5321 4.5.3.1 size limits, in octets as sent.
inline constexpr size_t kMaxLocalPart = 64;
inline constexpr size_t kMaxDomain = 255;
inline constexpr size_t kMaxPath = 256;
// ESMTP parameters per MAIL/RCPT. No RFC limit; real clients send fewer than ten
// (SIZE BODY AUTH RET ENVID SMTPUTF8 REQUIRETLS MT-PRIORITY / NOTIFY ORCPT). The cap
// keeps the duplicate check cheap on a long hostile line.
inline constexpr size_t kMaxParams = 32;

// A reverse-path (MAIL FROM) or forward-path (RCPT TO).
struct Path {
  bool null = false;                      // "<>": the null reverse-path of bounces
  std::vector<std::string> source_route;  // "<@a,@b:u@c>" -> {"a", "b"}; empty if none
  std::string local_part;                 // decoded: quotes and quoted-pair backslashes removed
  bool quoted = false;                    // the local part was sent as a quoted-string
  std::string domain;                     // as sent; "[1.2.3.4]" for literals; empty for <postmaster>
  bool address_literal = false;           // domain is a [...] address literal
  bool utf8 = false;                      // non-ASCII octets present: needs SMTPUTF8

  // The canonical `local@domain` (empty for the null path, `local` for <postmaster>).
  // The local part is written as a dot-string when it is one (`"john"@x` gives
  // `john@x`), otherwise re-quoted with `"` and `\` escaped (`"john doe"@x`). Nothing
  // is lower-cased. Parsing "<" + Address() + ">" yields the same local part and domain.
  std::string Address() const;
};

// One ESMTP parameter `KEY[=VALUE]`. Keys are upper-cased; values are kept raw
// (still xtext-encoded where the extension says so: use XtextDecode).
struct Param {
  std::string key;
  std::optional<std::string> value;
};

struct Command {
  Verb verb = Verb::kNoop;
  // HELO/EHLO/LHLO: the domain or address literal (one word, not validated as a
  // domain: that is policy, see IsValidDomain). MAIL/RCPT/BDAT and all others: the
  // raw argument after the verb (leading/trailing spaces removed), possibly empty.
  std::string arg;
  Path path;                  // MAIL FROM / RCPT TO only
  std::vector<Param> params;  // MAIL FROM / RCPT TO only, in the order sent
  uint64_t chunk_size = 0;    // BDAT only
  bool last = false;          // BDAT only: the LAST marker was present

  // The parameter with this (upper-case) key, or nullptr.
  const Param* FindParam(std::string_view key) const;
};

// Parses one command line, without its CRLF.
Result<Command> ParseCommand(std::string_view line);

// The MAIL FROM parameters both servers accept, SIZE (RFC 1870) and BODY
// (7BIT / 8BITMIME, RFC 6152): nullopt when they are fine, else the reply
// (552 5.3.4 over max_size; 501 5.5.4 malformed; 555 5.5.4 any other parameter)
// and whether it counts as a protocol error (all but 552).
struct MailParamRefusal {
  Reply reply;
  bool protocol_error = true;
};
std::optional<MailParamRefusal> CheckMailParams(const Command& mail, uint64_t max_size);

// Splits the message of an error from ParseCommand ("501 5.5.4 text") into a Reply.
// Any other message gives 501 5.5.4 with the sanitised message as text.
Reply ReplyForSyntaxError(const Error& error);

// RFC 3461 xtext ("+2B" -> "+"); hex digits of either case are accepted. Fails on
// a malformed hexchar or an octet outside xchar.
Result<std::string> XtextDecode(std::string_view xtext);
// The inverse: '+', '=' and octets outside %d33-126 become "+XX" (upper-case hex).
std::string XtextEncode(std::string_view text);

// Grammar checks for policy code (e.g. reject_invalid_helo_hostname). IsValidDomain
// takes RFC 5321 Domain (LDH labels of at most 63 octets, no leading/trailing hyphen;
// with allow_utf8, labels may contain valid UTF-8); IsValidAddressLiteral takes the
// bracketed form "[1.2.3.4]" or "[IPv6:...]".
bool IsValidDomain(std::string_view domain, bool allow_utf8);
bool IsValidAddressLiteral(std::string_view literal);
bool IsValidUtf8(std::string_view text);

}  // namespace columba::smtp
