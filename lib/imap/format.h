// format.h - IMAP response building blocks: strings, flags, UID sets, ESEARCH,
// response codes and LIST lines.
//
// NAME
//   AppendAstring, AppendString, AppendNstring, FormatFlags, FormatUidSet,
//   FormatEsearch, FormatListLine, Code*
//
// SYNOPSIS
//   std::string line = "* 3 FETCH (FLAGS ";
//   line += FormatFlags(kFlagSeen | kFlagFlagged, keywords, /*recent=*/false);
//   line += " BODY[HEADER.FIELDS (SUBJECT)] ";
//   AppendNstring(line, value, utf8_enabled);
//   std::string ok = "a1 OK " + CodeAppendUid(uidvalidity, uids) + " APPEND completed\r\n";
//
// DESCRIPTION
//   Pure string builders for imapd (RFC 3501, RFC 9051, RFC 4315 UIDPLUS,
//   RFC 4731 ESEARCH, RFC 7162 CONDSTORE/QRESYNC, RFC 6855 UTF8=ACCEPT,
//   RFC 5530 response codes). Each string is written in the cheapest form the
//   grammar allows: an atom when every byte is an ATOM-CHAR (astrings only),
//   else a quoted string, else a literal "{n}\r\n<bytes>". A literal is chosen
//   for CR, LF or NUL, for 8-bit bytes unless UTF8=ACCEPT is enabled and the
//   bytes are valid UTF-8, and for strings longer than kMaxQuotedLength.
//
// NEVER
//   Never emits a CR or LF outside a literal (except the line end the *Line /
//   FormatEsearch functions append themselves), never emits an atom that could
//   be read as NIL where a string is meant, never does I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace columba::imap {

// Longer strings go out as literals, as lib/mail's BODYSTRUCTURE does: quoted
// strings are parsed byte by byte by clients, literals are copied.
inline constexpr size_t kMaxQuotedLength = 1024;

// System flags as in proto SystemFlag (MessageMeta.flags).
inline constexpr uint32_t kFlagSeen = 1;
inline constexpr uint32_t kFlagAnswered = 2;
inline constexpr uint32_t kFlagFlagged = 4;
inline constexpr uint32_t kFlagDeleted = 8;
inline constexpr uint32_t kFlagDraft = 16;

// True when `c` is an ATOM-CHAR of RFC 3501 (printable ASCII except
// atom-specials: ( ) { SP CTL % * " \ ]).
bool IsAtomChar(char c);
// True when `s` is a non-empty atom (ATOM-CHARs only).
bool IsAtom(std::string_view s);

// astring: atom (']' allowed), quoted string or literal.
// Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

void AppendAstring(std::string& out, std::string_view s, bool utf8_enabled);
// string: quoted string or literal, never an atom.
void AppendString(std::string& out, std::string_view s, bool utf8_enabled);
// nstring: NIL for nullopt, otherwise as AppendString.
void AppendNstring(std::string& out, std::optional<std::string_view> s, bool utf8_enabled);
// Always a literal "{n}\r\n" + s (e.g. for BODY[...] data).
void AppendLiteral(std::string& out, std::string_view s);
// BINARY[...] data (RFC 3516): a literal8 "~{n}\r\n" + s when s holds a NUL
// (only clients that asked for BINARY ever get one), else a plain literal.
void AppendBinaryLiteral(std::string& out, std::string_view s);

// "(\Answered \Flagged \Deleted \Seen \Draft \Recent kw1 kw2)", Dovecot's order.
// Keywords that are not atoms cannot be sent as flags and are skipped.
std::string FormatFlags(uint32_t system_flags, std::span<const std::string> keywords, bool recent);

// A compact sequence-set such as "1:5,7,9:12" from UIDs in ascending order.
// Unsorted input or duplicates are tolerated (sorted and de-duplicated first).
// Empty input gives "" (which is not a valid set: callers omit the item).
std::string FormatUidSet(std::span<const uint32_t> uids);

// RFC 4731 (and RFC 7162 MODSEQ) ESEARCH response. Absent members are not
// sent; ALL, MIN and MAX are also not sent for an empty result, as RFC 4731
// section 3.1 asks, but COUNT 0 is.
struct EsearchResponse {
  std::optional<std::string> tag;  // the command's tag, for (TAG "x")
  bool uid = false;                // results are UIDs (UID SEARCH)
  std::optional<uint32_t> min;
  std::optional<uint32_t> max;
  std::optional<uint64_t> count;
  std::optional<std::vector<uint32_t>> all;  // ascending
  std::optional<uint64_t> modseq;            // highest mod-sequence of the matches
};
// "* ESEARCH (TAG "x") UID MIN 1 MAX 9 COUNT 5 ALL 1:5\r\n"
std::string FormatEsearch(const EsearchResponse& r);

// "* LIST (\HasNoChildren \Sent) "/" Sent\r\n". `verb` is LIST or LSUB;
// `name` is already in its wire encoding (modified UTF-7, or UTF-8 when
// UTF8=ACCEPT is enabled); attributes are sent as given (e.g. "\\Noselect").
std::string FormatListLine(std::string_view verb, std::span<const std::string> attributes, char delimiter,
                           std::string_view name, bool utf8_enabled);

// Response codes, brackets included.
std::string CodeAppendUid(uint32_t uidvalidity, std::span<const uint32_t> uids);  // [APPENDUID v set]
std::string CodeCopyUid(uint32_t uidvalidity, std::span<const uint32_t> source_uids,
                        std::span<const uint32_t> dest_uids);  // [COPYUID v src dst], sets in pairing order
std::string CodeUidValidity(uint32_t v);       // [UIDVALIDITY v]
std::string CodeUidNext(uint32_t next);        // [UIDNEXT n]
std::string CodeUnseen(uint32_t seq);          // [UNSEEN n]
std::string CodeHighestModseq(uint64_t modseq);  // [HIGHESTMODSEQ n]
std::string CodeModified(std::span<const uint32_t> set);  // [MODIFIED set]
std::string CodePermanentFlags(uint32_t system_flags, std::span<const std::string> keywords,
                               bool new_keywords_allowed);  // [PERMANENTFLAGS (... \*)]
inline constexpr std::string_view kCodeTooBig = "[TOOBIG]";
inline constexpr std::string_view kCodeOverQuota = "[OVERQUOTA]";
inline constexpr std::string_view kCodeUnavailable = "[UNAVAILABLE]";
inline constexpr std::string_view kCodeAuthenticationFailed = "[AUTHENTICATIONFAILED]";
inline constexpr std::string_view kCodeAuthorizationFailed = "[AUTHORIZATIONFAILED]";
inline constexpr std::string_view kCodeExpired = "[EXPIRED]";
inline constexpr std::string_view kCodePrivacyRequired = "[PRIVACYREQUIRED]";
inline constexpr std::string_view kCodeContactAdmin = "[CONTACTADMIN]";
inline constexpr std::string_view kCodeNoPerm = "[NOPERM]";
inline constexpr std::string_view kCodeInUse = "[INUSE]";
inline constexpr std::string_view kCodeExpungeIssued = "[EXPUNGEISSUED]";
inline constexpr std::string_view kCodeCorruption = "[CORRUPTION]";
inline constexpr std::string_view kCodeServerBug = "[SERVERBUG]";
inline constexpr std::string_view kCodeClientBug = "[CLIENTBUG]";
inline constexpr std::string_view kCodeCannot = "[CANNOT]";
inline constexpr std::string_view kCodeLimit = "[LIMIT]";
inline constexpr std::string_view kCodeAlreadyExists = "[ALREADYEXISTS]";
inline constexpr std::string_view kCodeNonExistent = "[NONEXISTENT]";
inline constexpr std::string_view kCodeTryCreate = "[TRYCREATE]";
inline constexpr std::string_view kCodeReadOnly = "[READ-ONLY]";
inline constexpr std::string_view kCodeReadWrite = "[READ-WRITE]";
inline constexpr std::string_view kCodeAlert = "[ALERT]";
inline constexpr std::string_view kCodeNoModseq = "[NOMODSEQ]";
inline constexpr std::string_view kCodeClosed = "[CLOSED]";
inline constexpr std::string_view kCodeUnknownCte = "[UNKNOWN-CTE]";
inline constexpr std::string_view kCodeUseAttr = "[USEATTR]";

}  // namespace columba::imap
