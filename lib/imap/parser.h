// parser.h - incremental, pure IMAP command parser (RFC 3501, RFC 9051 and extensions).
//
// NAME
//   Parser, ParserLimits, ParserOptions, ParseEvent, ProtocolError, ParseCommand
//
// SYNOPSIS
//   Parser p(limits, options);
//   p.Feed(bytes_from_socket);
//   for (;;) {
//     ParseEvent ev = p.Next();
//     switch (ev.kind) {
//       case ParseEvent::Kind::kNeedMore: read more and Feed; break;
//       case ParseEvent::Kind::kContinue: write "+ OK\r\n"; continue;
//       case ParseEvent::Kind::kCommand:  dispatch ev.command; continue;
//       case ParseEvent::Kind::kError:    write "<tag|*> BAD [code] text" or
//                                         "* BYE text" when ev.error.fatal; continue;
//       case ParseEvent::Kind::kIdleDone / kSaslLine: see ExpectIdleDone / ExpectSaslLine.
//     }
//   }
//
// DESCRIPTION
//   Framing: a command is a line ending in LF (CRLF or bare LF). A line that
//   ends with a literal marker {n} (synchronising: Next() reports kContinue so
//   the server sends "+ OK" before the client sends the octets), {n+}
//   (LITERAL+, non-synchronising), {n-} (LITERAL-, non-synchronising, at most
//   4096 octets) or ~{n} (literal8, RFC 3516; only meaningful in APPEND) is
//   continued by n octets and then the rest of the command. The complete
//   command (lines with literal octets inline) is then parsed into a typed
//   Command (command.h) by ParseCommand.
//
//   Bytes may arrive in any split, even one at a time; pipelined commands in
//   one Feed are returned one per Next(). The parser never touches a socket.
//
//   After returning an IDLE command, the server (once it sent "+ idling")
//   calls ExpectIdleDone(): the next line must be DONE (kIdleDone). During
//   AUTHENTICATE, ExpectSaslLine() makes the next line come back raw as
//   kSaslLine (base64 or "*").
//
// DIAGNOSTICS
//   Every error carries the tag when one was read (else empty: answer "*"),
//   an optional response code and a text:
//   - line longer than the limit, command larger than max_command_size:
//     code TOOBIG; the rest of the command is skipped (following non-sync
//     literals by their exact length) and the next command parses normally;
//   - synchronising literal over the size limit: code TOOBIG; no "+" is sent,
//     so the client does not send it; parsing goes on with the next line;
//   - non-synchronising literal over the limit (or over 4096 for LITERAL- /
//     without LITERAL+): code TOOBIG; its n octets are skipped exactly;
//     fatal (BYE) only when n exceeds max_literal_skip;
//   - nesting, search keys, literals per command, sequence set ranges or list
//     items over the limit: code LIMIT;
//   - syntax errors: no code, a text naming what was expected.
//
// NEVER
//   Never performs I/O, never recurses deeper than limits.max_nesting, never
//   buffers more than the current command (bounded by the limits) plus the
//   bytes fed but not yet consumed, never sends "+" for a literal it will refuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "lib/imap/command.h"
#include "lib/imap/sequence_set.h"

namespace columba::imap {

struct ParserLimits {
  // Line length before login: LOGIN/AUTHENTICATE lines are short; 8 KiB leaves
  // room for long SASL-IR responses while bounding unauthenticated memory.
  size_t max_line_length_unauthenticated = 8 * 1024;
  // After login: Dovecot uses 64 KiB (imap_max_line_length); mbsync and
  // imapsync send long UID sets, which need it.
  size_t max_line_length = 64 * 1024;
  // Literal size before login: a password or user name literal.
  uint64_t max_literal_size_unauthenticated = 8 * 1024;
  // After login: APPENDLIMIT, the largest message accepted (50 MiB).
  uint64_t max_literal_size = 50ull * 1024 * 1024;
  // Whole command (lines + literals) before / after login; MULTIAPPEND of
  // several messages needs more than one APPENDLIMIT.
  uint64_t max_command_size_unauthenticated = 64 * 1024;
  uint64_t max_command_size = 200ull * 1024 * 1024;
  // LITERAL- (RFC 7888): non-synchronising literals are at most 4096 octets.
  uint64_t max_literal_minus = 4096;
  // A refused non-synchronising literal is skipped octet by octet; above this
  // it is not worth waiting for and the connection is closed (BYE).
  uint64_t max_literal_skip = 256ull * 1024 * 1024;
  // Literals in one command: MULTIAPPEND of many messages, LOGIN with two.
  size_t max_literals = 1000;
  // Parenthesis depth (SEARCH groups, FETCH lists, QRESYNC params).
  size_t max_nesting = 32;
  // SEARCH keys per command (incl. OR/NOT nodes): a tree of 1,000 keys is far
  // beyond any client while bounding the work of evaluating it.
  size_t max_search_keys = 1000;
  // Items of any other list (flags, FETCH attributes, header fields, ...).
  size_t max_list_items = 10'000;
  SequenceSetLimits sequence_set;
};

struct ParserOptions {
  // LITERAL+ advertised: {n+} accepted up to the literal size limit. When
  // false only LITERAL- is offered and {n+} / {n-} are limited to 4096.
  bool literal_plus = true;
  // UTF8=ACCEPT enabled (RFC 6855): 8-bit UTF-8 in quoted strings. Without it
  // 8-bit octets are only accepted in literals.
  bool utf8_accept = false;
};

struct ProtocolError {
  std::string tag;   // empty when no valid tag was read: answer "* BAD"
  std::string code;  // response code without brackets ("TOOBIG", "LIMIT"), or empty
  std::string text;
  bool fatal = false;  // answer "* BYE text" and close the connection
};

struct ParseEvent {
  enum class Kind {
    kNeedMore,   // Feed more bytes
    kContinue,   // a synchronising literal follows: send "+ OK" now
    kCommand,    // `command` is complete
    kError,      // `error`: answer BAD (or BYE when fatal) and go on
    kIdleDone,   // the DONE line after ExpectIdleDone()
    kSaslLine,   // `line`: a SASL response line after ExpectSaslLine()
  };
  Kind kind = Kind::kNeedMore;
  Command command;
  ProtocolError error;
  std::string line;
};

class Parser {
 public:
  explicit Parser(ParserLimits limits = {}, ParserOptions options = {});

  void Feed(std::string_view bytes);
  ParseEvent Next();

  // Switches between the before-login and after-login limits.
  void SetAuthenticated(bool authenticated) { authenticated_ = authenticated; }
  // ENABLE UTF8=ACCEPT.
  void SetUtf8Accept(bool on) { options_.utf8_accept = on; }
  void ExpectIdleDone();
  void ExpectSaslLine();

  // Bytes fed but not yet consumed plus the partial command held.
  size_t buffered() const { return buf_.size() - pos_ + cmd_.size(); }

 private:
  enum class State { kLine, kLiteral, kDiscardLine, kDiscardLiteral, kIdle, kSasl };

  ParseEvent EndOfLine();
  ParseEvent Error(std::string code, std::string text, bool fatal = false);
  void StartDiscard(std::string_view head, bool keep_tag);
  void ResetCommand();
  size_t LineLimit() const;
  uint64_t LiteralLimit() const;
  uint64_t CommandLimit() const;

  ParserLimits limits_;
  ParserOptions options_;
  bool authenticated_ = false;
  State state_ = State::kLine;
  std::string buf_;  // fed bytes; consumed up to pos_
  size_t pos_ = 0;
  std::string cmd_;  // the current command: lines without CRLF, literal octets inline
  std::vector<size_t> literal_offsets_;  // where literal octets start in cmd_
  size_t line_start_ = 0;                // start of the current line in cmd_
  uint64_t remaining_ = 0;               // literal octets still to read / skip
  std::string tail_;                     // last bytes of a line being discarded
  std::string discard_tag_;
};

// Parses one complete command as framed by Parser: lines joined without CRLF,
// each literal's octets directly after its "}" at the offsets listed (ascending)
// in literal_offsets. Exposed for tests and fuzzing.
tl::expected<Command, ProtocolError> ParseCommand(std::string_view text,
                                                  const std::vector<size_t>& literal_offsets,
                                                  const ParserLimits& limits = {},
                                                  const ParserOptions& options = {});

}  // namespace columba::imap
