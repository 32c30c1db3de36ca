// smtp_client.h - the client side of the SMTP-family dialogue (the lmtp and smtp
// scenarios): greeting, LHLO/EHLO with capabilities, one mail transaction, QUIT.
//
// Shared by the scenarios so each scenario file only decides what to send. It
// must never send message content before a 354 reply (RFC 2920: pipelining stops
// at DATA), never leave a transaction open after a failure (RSET), and never
// count a message as delivered unless every recipient got a 2xx reply; for LMTP
// it reads one reply per accepted recipient after the final "." (RFC 2033 4.2).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/net/asio_compat.h"
#include "loadtest/connection.h"

namespace columba::loadtest {

struct SmtpReply {
  int code = 0;
  std::vector<std::string> lines;  // text after "NNN-" / "NNN " on each line
};

// One reply line: "NNN", "NNN text" or "NNN-text" (more = a continuation follows).
struct ReplyLine {
  int code = 0;
  bool more = false;
  std::string text;
};
// Pure: nullopt for anything else (no 3 digits, first digit not 2-5, a fourth
// character that is neither ' ' nor '-').
std::optional<ReplyLine> ParseReplyLine(std::string_view line);

struct ReplyResult {
  SmtpReply reply;
  IoFailure failure = IoFailure::kNone;
};

// Reads one reply, multi-line ones included (at most 512 octets a line, 100 lines).
// A line that is not "NNN", "NNN text" or "NNN-text", or a continuation with a
// different code, is IoFailure::kProtocol.
asio::awaitable<ReplyResult> ReadReply(Connection& c);

struct Capabilities {
  bool pipelining = false;
  bool size = false;
};

// Pure: the extensions of a 250 EHLO/LHLO reply that the client uses (keywords
// case-insensitive, from the second line on; the first line is the server's name).
Capabilities ParseEhloCapabilities(const SmtpReply& reply);

struct OpenResult {
  Capabilities caps;
  std::string error;  // empty on success; else an error-count key ("554", "io", ...)
};

// Reads the 220 greeting and sends LHLO (lmtp) or EHLO with `helo`.
asio::awaitable<OpenResult> OpenSession(Connection& c, std::string_view helo, bool lmtp);

struct Envelope {
  std::string from;
  std::vector<std::string> rcpts;
};

struct TransactionOutcome {
  bool delivered = false;    // every recipient got a 2xx (after DATA for LMTP)
  int recipients_ok = 0;
  std::vector<std::string> errors;  // one error-count key per non-2xx reply or failure
  bool must_reconnect = false;      // I/O error, timeout, 421 or a protocol violation
  // From the end of writing the content (the final ".") to the last final reply;
  // set only when the content was sent and every final reply was read.
  std::optional<std::chrono::steady_clock::duration> end_of_data_to_reply;
};

// One transaction: MAIL, RCPT..., DATA, the dot-stuffed content, the final
// reply (SMTP) or one per accepted recipient (LMTP). `dot_stuffed` ends with
// ".\r\n" (smtp::DotStuff). With `pipelining`, MAIL/RCPT/DATA go out in one write.
asio::awaitable<TransactionOutcome> SendTransaction(Connection& c, const Envelope& env, std::string_view dot_stuffed,
                                                    uint64_t size, bool lmtp, bool pipelining, bool size_param);

// QUIT and wait (bounded by the connection timeout) for the reply, then close.
asio::awaitable<void> Quit(Connection& c);

}  // namespace columba::loadtest
