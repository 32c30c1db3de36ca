// sort.h - SORT (RFC 5256) and its building blocks: base subjects, sort-key
// case folding, the first address of an ENVELOPE, and the sort itself.
//
// NAME
//   ExtractBaseSubject, FoldForSort, ParseEnvelopeAddress, FirstAddressOfText,
//   SortKey, SortKeyFromName, SortInput, SortRecord, MakeSortRecord, SortRecords,
//   SentDate
//
// SYNOPSIS
//   BaseSubject b = ExtractBaseSubject("Re: [fwd: Lunch] (fwd)");  // {"Lunch", true}
//   std::vector<SortRecord> recs;
//   for (...) recs.push_back(MakeSortRecord(input, criteria));
//   SortRecords(recs, criteria);   // recs[i].number in SORT order
//
// DESCRIPTION
//   ExtractBaseSubject follows RFC 5256 section 2.1 on a subject already
//   decoded to UTF-8 (RFC 2047 done by lib/mail): whitespace runs become one
//   space, then trailers ("(fwd)", WSP) are removed, then leaders
//   (*subj-blob "re"/"fw"/"fwd" [subj-blob] ":", or WSP) and subj-blobs that
//   leave something behind, repeatedly, and a "[fwd: ... ]" wrapping restarts
//   the whole process. `reply_or_forward` tells THREAD=REFERENCES (5.B/5.C)
//   whether any leader, trailer "(fwd)" or "[fwd:]" wrapping was removed.
//
//   FoldForSort is the comparison key of every string sort key: ASCII letters
//   upper-cased as i;ascii-casemap does, plus the simple upper-case mapping of
//   Latin-1, Latin Extended-A, Greek and Cyrillic letters. It is not the full
//   i;unicode-casemap (no decomposition, no "ss" for U+00DF). Invalid UTF-8
//   bytes are kept as they are.
//
//   ParseEnvelopeAddress reads the first real address (group markers skipped)
//   of an address field of an IMAP ENVELOPE in wire form, as lib/mail writes
//   it into ParsedFields.envelope: quoted strings, literals, NIL. FROM / TO /
//   CC sort on its addr-mailbox (local part; RFC 5256 section 3), DISPLAYFROM /
//   DISPLAYTO (RFC 5957) on its RFC 2047-decoded display name, or on
//   "mailbox@host" when it has none. FirstAddressOfText does the same on a
//   "Name <mailbox@host>, ..." header text, the fallback when no envelope was
//   stored.
//
//   SORT keys: ARRIVAL (internal date), CC, DATE (sent date: the Date header,
//   or the internal date when it is absent or unparseable, section 2.2), FROM,
//   SIZE, SUBJECT (base subject), TO, DISPLAYFROM, DISPLAYTO; REVERSE reverses
//   the key after it. Messages equal under every key keep mailbox order
//   (sequence number), as RFC 5256 requires.
//
// NEVER
//   Never does I/O, never recurses, never reads outside its input, never
//   throws on malformed input; every function is linear or n log n.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/imap/command.h"

namespace columba::imap {

struct BaseSubject {
  std::string text;               // the base subject, case preserved
  bool reply_or_forward = false;  // a Re:/Fw:/Fwd: leader, "(fwd)" trailer or [fwd: ] wrapping was removed
};

BaseSubject ExtractBaseSubject(std::string_view utf8_subject);

// The comparison form of a sort string (see DESCRIPTION).
std::string FoldForSort(std::string_view utf8);

// An address of an ENVELOPE (RFC 3501 7.4.2), strings unquoted; `name` keeps
// RFC 2047 encoded-words as sent.
struct EnvelopeAddress {
  std::optional<std::string> name;
  std::string mailbox;
  std::string host;
};

// ENVELOPE fields holding address lists.
enum class EnvelopeField { kFrom = 2, kSender = 3, kReplyTo = 4, kTo = 5, kCc = 6, kBcc = 7 };

struct EnvelopeAddressResult {
  bool well_formed = false;               // the envelope parsed up to the field
  std::optional<EnvelopeAddress> first;   // its first address that is not a group marker
};
EnvelopeAddressResult ParseEnvelopeAddress(std::string_view envelope, EnvelopeField field);

// The first mailbox of an address-list text ("Name <a@b>, c@d"), parsed with
// lib/mail's address parser; nullopt when it holds none.
std::optional<EnvelopeAddress> FirstAddressOfText(std::string_view text);

enum class SortKey { kArrival, kCc, kDate, kFrom, kSize, kSubject, kTo, kDisplayFrom, kDisplayTo };

std::optional<SortKey> SortKeyFromName(std::string_view upper_name);

struct SortSpec {
  SortKey key = SortKey::kArrival;
  bool reverse = false;
};

// nullopt when a key is unknown.
std::optional<std::vector<SortSpec>> SortSpecs(const std::vector<SortCriterion>& criteria);

// The sent date of RFC 5256 section 2.2: the Date header, or the internal date.
inline int64_t SentDate(int64_t date_header_unix, int64_t internal_date_unix) {
  return date_header_unix != 0 ? date_header_unix : internal_date_unix;
}

// What the server knows of one message (views stay valid during MakeSortRecord only).
struct SortInput {
  uint32_t seq = 0;     // sequence number: the final tie-breaker
  uint32_t number = 0;  // what the response reports (sequence number or UID)
  int64_t internal_date = 0;
  int64_t sent_date = 0;  // Date header; 0 = absent or unparseable
  uint64_t size = 0;
  std::string_view subject;   // decoded UTF-8
  std::string_view envelope;  // ENVELOPE wire form; empty = not stored
  std::string_view from;      // address-list texts, used when there is no envelope
  std::string_view to;
  std::string_view cc;
};

// The keys of one message; only the string keys named by the specs are filled.
struct SortRecord {
  uint32_t seq = 0;
  uint32_t number = 0;
  int64_t arrival = 0;
  int64_t sent = 0;  // SentDate
  uint64_t size = 0;
  std::string subject, from, to, cc, display_from, display_to;  // folded
};

SortRecord MakeSortRecord(const SortInput& in, std::span<const SortSpec> specs);

// Sorts by the specs, ties by sequence number.
void SortRecords(std::vector<SortRecord>& records, std::span<const SortSpec> specs);

}  // namespace columba::imap
