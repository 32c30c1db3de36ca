// section.h - FETCH BODY[section]<partial>, BINARY[part]<partial> and BINARY.SIZE.
//
// NAME
//   ParseSection, ParsePartial, FormatSection, BuildPartMap, SerializePartMap,
//   ParsePartMap, PlanBody, PlanBinary, ClampPartial, Materialize,
//   FilterHeaderFields, FetchBody, FetchBinary, FetchBinarySize
//
// SYNOPSIS
//   // At delivery (lmtpd / APPEND), with the parsed message in hand:
//   std::string offsets = SerializePartMap(BuildPartMap(msg));  // -> ParsedFields.part_offsets
//
//   // In imapd, with only metadata and the blob store:
//   auto map  = ParsePartMap(meta.parsed().part_offsets());
//   auto spec = ParseSection("1.2.HEADER.FIELDS (From Subject)");
//   auto plan = PlanBody(*map, *spec);
//   if (plan->action == SectionPlan::kRange && !plan->needs_crlf) {
//     ByteRange r = ClampPartial(plan->range.length, partial);   // stream only this:
//     blobs.Stream(id, plan->range.offset + r.offset, r.length);
//   } else {
//     std::string bytes = blobs.Read(id, plan->range.offset, plan->range.length);
//     auto data = Materialize(*plan, bytes, partial);             // filter/decode/CRLF + partial
//   }
//
//   // Everything in memory (tests, small messages):
//   auto data = FetchBody(msg, *spec, partial);
//
// DESCRIPTION
//   RFC 3501 section 6.4.5 / RFC 9051 section 6.4.5 (BODY[...]) and RFC 3516
//   (BINARY). A section resolves against the part tree lib/mail computed at
//   delivery, to one of:
//     kRange         bytes of the blob as they are (whole message, HEADER,
//                    TEXT, MIME, a part's body);
//     kFilterHeader  a header block to filter (HEADER.FIELDS / .NOT); the
//                    result is the matching fields with their folded lines,
//                    names compared case-insensitively, CRLF line ends, and
//                    always the terminating blank line;
//     kDecode        a part body to decode (BINARY: base64, quoted-printable,
//                    or identity for 7bit/8bit/binary);
//     kEmpty         the part does not exist: the data is "" (as Dovecot).
//   A partial <offset.length> then cuts the result, clamped: an offset past
//   the end gives "", a length past the end is shortened.
//
//   Rules for part numbers, as RFC 3501 and lib/mail's FindPart: "1" of a
//   non-multipart message is its body; numbers after a message/rfc822 part
//   index the encapsulated message; HEADER, HEADER.FIELDS(.NOT) and TEXT after
//   a part number need a message/rfc822 part (otherwise kNotMessage); MIME is
//   the part's own header block.
//
//   Line ends. IMAP serves CRLF and lib/mail reports sizes counting a bare LF
//   as CRLF (MessagePart::body_octets_crlf). Messages stored by lmtpd and
//   APPEND are CRLF throughout: then PartMap::crlf_only is true, ranges are
//   exact and can be streamed with the partial applied to the range. When the
//   stored bytes hold a bare LF, the plan says needs_crlf: the caller reads
//   the whole range and Materialize converts bare LFs to CRLF before applying
//   the partial, so the bytes and their sizes agree with BODYSTRUCTURE.
//
// DIAGNOSTICS
//   ParseSection / ParsePartial: kInvalidInput with a reason (imapd: BAD).
//   SectionError::kNotMessage: HEADER/TEXT of a non-message part (BAD).
//   SectionError::kUnknownCte: BINARY of an unknown transfer encoding
//   (NO [UNKNOWN-CTE]).
//
// NEVER
//   Never does I/O, never reads outside the given bytes (a PartMap from
//   metad is validated against its own size before use), never recurses.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "lib/base/result.h"
#include "lib/mail/message.h"

namespace columba::imap {

enum class SectionText { kNone, kHeader, kHeaderFields, kHeaderFieldsNot, kText, kMime };

// The text between "[" and "]" of BODY[...], parsed.
struct SectionSpec {
  std::vector<uint32_t> part;       // "1.2" -> {1, 2}; empty: the whole message
  SectionText text = SectionText::kNone;
  std::vector<std::string> fields;  // HEADER.FIELDS(.NOT) names as the client wrote them
  bool operator==(const SectionSpec&) const = default;
};

struct SectionPartial {  // <offset.length>
  uint64_t offset = 0;
  uint64_t length = 0;  // > 0
  bool operator==(const SectionPartial&) const = default;
};

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const ByteRange&) const = default;
};

// "", "HEADER", "TEXT", "1.2", "1.2.MIME", "HEADER.FIELDS (From \"To\")", ...
// Keywords are case-insensitive; field names are atoms or quoted strings (a
// literal inside a section is the command parser's to unwrap). MIME needs a
// part number; part numbers are non-zero 32-bit numbers; nesting deeper than
// 100 numbers is refused.
Result<SectionSpec> ParseSection(std::string_view text);

// The text between "<" and ">": "offset.length", length non-zero.
Result<SectionPartial> ParsePartial(std::string_view text);

// The section as echoed in the FETCH response, e.g. "1.HEADER.FIELDS (FROM TO)"
// (keywords upper-case, field names as astrings in the client's spelling).
std::string FormatSection(const SectionSpec& spec);

// The part of the data a partial selects, relative to data of `size` bytes.
ByteRange ClampPartial(uint64_t size, std::optional<SectionPartial> partial);

// ---------------------------------------------------------------- part map

enum class TransferEncoding : uint8_t { kIdentity, kBase64, kQuotedPrintable, kUnknown };
TransferEncoding ClassifyTransferEncoding(std::string_view lower_case_cte);

// What imapd needs of the part tree to resolve sections without the blob:
// lib/mail's offsets, kinds and transfer encodings, in the same pre-order.
struct PartMapEntry {
  mail::PartKind kind = mail::PartKind::kLeaf;
  uint32_t parent = UINT32_MAX;  // UINT32_MAX for parts[0]
  uint64_t header_start = 0;
  uint64_t body_start = 0;
  uint64_t end = 0;
  TransferEncoding encoding = TransferEncoding::kIdentity;
  std::vector<uint32_t> children;
  bool operator==(const PartMapEntry&) const = default;
};

struct PartMap {
  uint64_t size = 0;       // octets of the stored message
  bool crlf_only = true;   // no bare LF anywhere: ranges are exact
  std::vector<PartMapEntry> parts;
  bool operator==(const PartMap&) const = default;
};

PartMap BuildPartMap(const mail::ParsedMessage& msg);
// Compact binary form (version byte, then varints) for ParsedFields.part_offsets.
std::string SerializePartMap(const PartMap& map);
// kInvalidInput when the bytes are not a consistent map (offsets out of order
// or outside `size`, a parent after its child, unknown version).
Result<PartMap> ParsePartMap(std::string_view bytes);

// Adjusts a map for `n` octets of header lines (CRLF-terminated) inserted at the
// very start of the message, as lmtpd does with Return-Path/Delivered-To: the
// top-level header grows, everything after it moves by n.
void PrependHeaderLines(PartMap& map, uint64_t n);

// The part a section part number names (lib/mail FindPart rules); nullopt
// when it does not exist.
std::optional<uint32_t> FindPart(const PartMap& map, std::span<const uint32_t> part);

// ---------------------------------------------------------------- plans

enum class SectionError {
  kNotMessage,  // HEADER / TEXT / HEADER.FIELDS(.NOT) after a part that is not message/rfc822
  kUnknownCte,  // BINARY of a part with an unknown Content-Transfer-Encoding
};
const char* SectionErrorText(SectionError e);

template <class T>
using SectionResult = tl::expected<T, SectionError>;

struct SectionPlan {
  enum Action { kRange, kFilterHeader, kDecode, kEmpty };
  Action action = kEmpty;
  ByteRange range;         // bytes of the stored message to read
  bool needs_crlf = false;  // bare LFs may be inside: Materialize the whole range
  TransferEncoding encoding = TransferEncoding::kIdentity;  // kDecode
  std::vector<std::string> fields;  // kFilterHeader
  bool exclude = false;             // kFilterHeader: HEADER.FIELDS.NOT
};

SectionResult<SectionPlan> PlanBody(const PartMap& map, const SectionSpec& spec);
// BINARY[part] / BINARY.SIZE[part]. An empty part is the whole message, as is.
SectionResult<SectionPlan> PlanBinary(const PartMap& map, std::span<const uint32_t> part);

// Turns the bytes of plan.range (read from the blob) into the section data
// and applies the partial. For kEmpty the bytes are ignored.
SectionResult<std::string> Materialize(const SectionPlan& plan, std::string_view range_bytes,
                                       std::optional<SectionPartial> partial);

// HEADER.FIELDS (exclude=false) / HEADER.FIELDS.NOT (exclude=true) of a header
// block (which may include its blank line and anything after it: the first
// empty line ends it). A line without a colon is a field no name matches.
std::string FilterHeaderFields(std::string_view header_block, std::span<const std::string> names, bool exclude);

// Bare LF -> CRLF.
std::string ToCrlf(std::string_view bytes);

// ---------------------------------------------------------------- in memory

SectionResult<std::string> FetchBody(const mail::ParsedMessage& msg, const SectionSpec& spec,
                                     std::optional<SectionPartial> partial = std::nullopt);
SectionResult<std::string> FetchBinary(const mail::ParsedMessage& msg, std::span<const uint32_t> part,
                                       std::optional<SectionPartial> partial = std::nullopt);
SectionResult<uint64_t> FetchBinarySize(const mail::ParsedMessage& msg, std::span<const uint32_t> part);

}  // namespace columba::imap
