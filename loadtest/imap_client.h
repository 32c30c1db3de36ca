// imap_client.h - the client side of IMAP4rev1 (RFC 3501) for columba-load: a
// response assembler (pure: lines in, whole responses out, literals included) and
// a small tagged-command client over a Connection.
//
// Generic on purpose: it speaks only what every IMAP4rev1 server must (LOGIN,
// SELECT, UID FETCH/STORE/SEARCH, APPEND with a synchronizing literal, NOOP, IDLE,
// LOGOUT), so the same load runs against Columba imapd and Dovecot. It must never
// send a literal's octets before the server's "+" continuation, never buffer an
// unbounded response (lines, literals and untagged responses per command are
// capped; a server crossing a cap is a protocol error), and never keep literal
// contents: only their sizes are recorded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/net/asio_compat.h"
#include "loadtest/connection.h"

namespace columba::loadtest {

// One complete server response: a line, or several joined across literals.
struct ImapResponse {
  enum class Kind { kUntagged, kContinuation, kTagged };
  Kind kind = Kind::kUntagged;
  std::string tag;     // tagged only
  std::string status;  // tagged (and untagged OK/NO/BAD/BYE/PREAUTH): upper-cased word
  // The response without literal contents: the pieces of the line(s) joined, each
  // literal left as its "{n}" marker. "* 1 FETCH (UID 5 BODY[] {3})" for a 3-octet body.
  std::string text;
  std::vector<uint64_t> literal_sizes;
};

// Turns lines (as a LineReader returns them, without CRLF) into responses,
// following literals ("{n}" at the end of a line: the next n octets, CRLFs
// included, are data). Pure and incremental.
class ResponseAssembler {
 public:
  struct Limits {
    size_t max_text = 1 << 20;          // response text without literal contents
    uint64_t max_literal = 256ull << 20;  // one literal
  };
  ResponseAssembler() = default;
  explicit ResponseAssembler(Limits limits) : limits_(limits) {}

  enum class Status { kNeedMore, kDone, kError };
  // One line; `line_end_octets` is 2 for CRLF, 1 for a bare LF. On kDone the
  // response is in *out and the assembler is ready for the next one.
  Status Feed(std::string_view line, int line_end_octets, ImapResponse* out);
  bool in_literal() const { return in_literal_; }

 private:
  Status Finish(ImapResponse* out);
  Limits limits_;
  ImapResponse current_;
  bool in_literal_ = false;
  uint64_t remaining_ = 0;  // literal octets still to come
};

// Literal size announced at the end of `line` ("{12}" or "{12+}"), if any.
std::optional<uint64_t> TrailingLiteral(std::string_view line);
// Classifies a complete response text (kind, tag, status).
void Classify(ImapResponse& r);
// "* 12 EXISTS" -> 12 when `keyword` is EXISTS (case-insensitive); nullopt otherwise.
std::optional<uint64_t> UntaggedNumber(std::string_view text, std::string_view keyword);
// "[UIDNEXT 42]" (or "[APPENDUID 7 42]": the last number) anywhere in `text` -> 42.
std::optional<uint64_t> ResponseCodeNumber(std::string_view text, std::string_view code);
// "* SEARCH 1 4 9" -> {1, 4, 9}; nullopt when `text` is not a SEARCH response.
std::optional<std::vector<uint64_t>> SearchNumbers(std::string_view text);
// The value of "UID n" inside a FETCH response's attribute list, if any.
std::optional<uint64_t> FetchUid(std::string_view text);
// An IMAP quoted string for `s` (backslash-escapes " and \). Never used for CR/LF.
std::string Quote(std::string_view s);

// A command's outcome.
struct ImapResult {
  IoFailure failure = IoFailure::kNone;  // kNone: a tagged response arrived
  std::string status;                    // "OK", "NO", "BAD" (or "BYE" when the server closed)
  std::string text;                      // the tagged line
  std::vector<ImapResponse> untagged;    // in arrival order
  uint64_t literal_octets = 0;           // sum over the untagged responses' literals
  bool ok() const { return failure == IoFailure::kNone && status == "OK"; }
  // An error-count key: "io"/"timeout"/"protocol", or "NO"/"BAD"/"BYE".
  std::string ErrorKey() const;
};

class ImapClient {
 public:
  explicit ImapClient(Connection& c, size_t max_untagged = 1'000'000) : c_(c), max_untagged_(max_untagged) {}

  // Reads the greeting: OK (or PREAUTH) is success.
  asio::awaitable<ImapResult> Greeting();
  // Sends "<tag> <command>\r\n" and reads up to its tagged response.
  asio::awaitable<ImapResult> Command(std::string_view command);
  asio::awaitable<ImapResult> Login(std::string_view user, std::string_view password);
  // APPEND with a synchronizing literal: waits for "+" before sending the message.
  asio::awaitable<ImapResult> Append(std::string_view mailbox, std::string_view flags, std::string_view message);
  // Sends IDLE and waits for the "+" continuation (untagged responses before it go
  // to `early`). Then read with ReadResponse, end with Done().
  asio::awaitable<ImapResult> Idle();
  asio::awaitable<ImapResult> Done();
  // One response (any kind).
  struct Read {
    ImapResponse response;
    IoFailure failure = IoFailure::kNone;
  };
  asio::awaitable<Read> ReadResponse();
  // LOGOUT, then closes the connection.
  asio::awaitable<ImapResult> Logout();

 private:
  asio::awaitable<ImapResult> ReadUntilTagged(const std::string& tag);
  std::string NextTag();
  Connection& c_;
  ResponseAssembler assembler_;
  size_t max_untagged_;
  uint64_t tag_counter_ = 0;
  std::string idle_tag_;
};

}  // namespace columba::loadtest
