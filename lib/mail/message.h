// message.h - RFC 5322 / MIME message parser and the IMAP views derived from it.
//
// NAME
//   ParseMessage, BodyStructure, Envelope, FindPart, ExtractSearchFields
//
// SYNOPSIS
//   Result<ParsedMessage> msg = ParseMessage(raw);           // once, at delivery
//   std::string bs  = BodyStructure(*msg, /*extended=*/true); // FETCH BODYSTRUCTURE
//   std::string env = Envelope(*msg);                         // FETCH ENVELOPE
//   SearchFields sf = ExtractSearchFields(*msg);              // rows for SEARCH
//
// DESCRIPTION
//   A pure parser: bytes in, a part tree out. It makes one forward pass over
//   `raw`, line by line, and keeps string_views into it, so `raw` must outlive
//   the ParsedMessage. It is liberal the way Dovecot is: bare LF line ends as
//   well as CRLF, headers without a body, a header block cut short by a
//   boundary, missing close delimiters, junk header lines, unknown encodings.
//   Boundaries are matched by prefix, innermost multipart first, and a boundary
//   of an outer multipart also ends every part inside it.
//
//   Parts are stored flat in pre-order, which is IMAP part-number order;
//   parts[0] is the message itself. A multipart/* part has its body parts as
//   children; a message/rfc822 (or message/global) part whose transfer
//   encoding is 7bit/8bit/binary has exactly one child, the top-level part of
//   the encapsulated message, whose header fields are that message's header.
//
//   Sizes reported to IMAP (body_octets_crlf) count a bare LF as CRLF, because
//   IMAP serves messages with CRLF line ends. Line counts count every line of
//   the body, including a last line without a line end.
//
// DIAGNOSTICS
//   kInvalidInput   the input is empty.
//   kLimitExceeded  a ParseLimits value was crossed; the message names which.
//
// NEVER
//   Never does I/O, never recurses deeper than limits.max_depth (+1), never
//   copies body bytes while parsing, never throws on malformed input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace columba::mail {

// Defaults are sized for real mail; each crossing returns kLimitExceeded.
struct ParseLimits {
  // One header field with its folded continuation lines. RFC 5322 allows 998
  // octets per line, but long References/Received/DKIM fields are folded badly
  // in the wild; 64 KiB tolerates them while bounding per-field work.
  size_t max_header_field_bytes = 64 * 1024;
  // Header fields in the whole message (all parts and encapsulated messages).
  // Real messages carry tens to a few hundred; 10,000 stops header floods.
  size_t max_header_fields = 10'000;
  // Nesting below the top-level part (multipart and message/rfc822 levels).
  // Legitimate mail nests a handful of levels; 32 leaves ample room and keeps
  // the parser's and formatter's recursion shallow.
  size_t max_depth = 32;
  // Parts in the whole tree, the top-level part included.
  size_t max_parts = 10'000;
};

struct HeaderField {
  std::string_view name;   // as written, without the colon and trailing whitespace
  std::string_view value;  // raw, from after the colon and leading blanks to the end of the
                           // last continuation line; folding CRLFs are kept
};

struct MimeParam {
  std::string name;   // lower-cased, without RFC 2231 "*" / "*N" suffixes
  std::string value;  // RFC 2231 continuations joined and charset decoded to UTF-8 when known
  // Non-empty only for RFC 2231 extended values: "charset'language'%XX..." as
  // it travels on the wire (continuations joined). BODYSTRUCTURE sends this
  // form under the name "<name>*", as Dovecot does, so clients decode it.
  std::string rfc2231;
};

enum class PartKind { kLeaf, kMultipart, kMessage };

inline constexpr size_t kNoPart = std::numeric_limits<size_t>::max();

struct MessagePart {
  PartKind kind = PartKind::kLeaf;
  size_t parent = kNoPart;
  size_t depth = 0;
  std::vector<size_t> children;  // indices into ParsedMessage::parts

  // Byte offsets into ParsedMessage::raw: header_start <= body_start <= end.
  // The CRLF before a boundary belongs to the boundary, not to the part.
  size_t header_start = 0;
  size_t body_start = 0;
  size_t end = 0;
  size_t first_header = 0;  // this part's fields are ParsedMessage::headers[first_header, +header_count)
  size_t header_count = 0;

  std::string type = "text";  // lower-cased; the RFC 2045 default when Content-Type is absent or invalid
  std::string subtype = "plain";
  std::vector<MimeParam> params;  // as sent (no default charset added)
  std::optional<std::string> content_id;   // unfolded, trimmed raw header values
  std::optional<std::string> description;
  std::optional<std::string> md5;
  std::optional<std::string> location;
  std::string transfer_encoding = "7bit";  // lower-cased token; "7bit" when absent or invalid
  std::optional<std::string> disposition;  // lower-cased token
  std::vector<MimeParam> disposition_params;
  std::vector<std::string> languages;

  uint64_t body_octets = 0;       // end - body_start
  uint64_t body_octets_crlf = 0;  // size IMAP reports: bare LFs counted as CRLF
  uint64_t body_lines = 0;

  // The parameter by (lower-case) name; an RFC 2231 extended value wins over
  // a plain one of the same name. nullptr when absent.
  const MimeParam* Param(std::string_view name) const;
  const MimeParam* DispositionParam(std::string_view name) const;
};

struct ParsedMessage {
  std::string_view raw;
  std::vector<MessagePart> parts;    // pre-order; parts[0] is the whole message
  std::vector<HeaderField> headers;  // all parts' fields, in order

  std::span<const HeaderField> Headers(size_t part = 0) const;
  // Raw value of the first field named `name` (case-insensitive) in the part's header.
  std::optional<std::string_view> Header(std::string_view name, size_t part = 0) const;
  std::string_view Body(size_t part = 0) const;  // raw, still transfer-encoded
};

Result<ParsedMessage> ParseMessage(std::string_view raw, const ParseLimits& limits = {});

// The IMAP `body` production (RFC 3501 7.4.2 / RFC 9051 7.5.2) for the whole
// message, parentheses included: BODYSTRUCTURE when `extended`, else BODY.
// Strings are quoted, or sent as literals "{n}\r\n..." when they hold 8-bit
// bytes or are longer than 1024 octets; absent values are NIL.
std::string BodyStructure(const ParsedMessage& msg, bool extended);

// The IMAP ENVELOPE of the message whose top-level part is `part` (0 for the
// message itself, or the child of a message/rfc822 part). Sender and Reply-To
// default to From when absent or empty, as RFC 3501 requires.
std::string Envelope(const ParsedMessage& msg, size_t part = 0);

// The part named by an IMAP section part number such as {1, 2, 3} ("1.2.3");
// nullopt when it does not exist. An empty path is the whole message. As RFC
// 3501 6.4.5 says, "1" of a non-multipart message is its body, and numbers
// after a message/rfc822 part index the encapsulated message.
std::optional<size_t> FindPart(const ParsedMessage& msg, std::span<const uint32_t> section);

struct SearchLimits {
  // Plain text extracted from text/* bodies; enough for body search of any
  // normal mail while bounding the row size and the work per delivery.
  size_t max_body_text = 256 * 1024;
  // The top-level header block kept for HEADER/TEXT search.
  size_t max_header_text = 256 * 1024;
};

// Search rows for the store. Every string is valid UTF-8 without NUL (safe for
// a PostgreSQL text column): encoded-words decoded, unknown bytes read as
// Windows-1252.
struct SearchFields {
  std::string subject;  // RFC 2047 decoded, unfolded
  std::string from;     // addresses as "Name <mailbox@host>, ...", names decoded
  std::string to;
  std::string cc;
  std::string bcc;
  std::string message_id;   // first "<...>" of Message-ID (or its trimmed value)
  std::string in_reply_to;  // unfolded, trimmed
  std::string references;   // msg-ids separated by single spaces
  int64_t date = 0;         // Date: as unix time; 0 when absent or unparseable
  int date_zone_minutes = 0;
  std::string headers;      // the top-level header block, capped at max_header_text
  std::string body_text;    // text/* parts decoded (QP/base64, charset, HTML tags stripped)
  bool body_text_truncated = false;
};

SearchFields ExtractSearchFields(const ParsedMessage& msg, const SearchLimits& limits = {});

// The "<...>" message ids in a Message-ID / In-Reply-To / References value.
std::vector<std::string> ExtractMessageIds(std::string_view raw_value);

}  // namespace columba::mail
