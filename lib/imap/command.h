// command.h - typed IMAP commands as produced by the parser (parser.h).
//
// NAME
//   Command, CommandArgs and the per-command argument structs, SearchKey,
//   FetchItem, FetchSection
//
// DESCRIPTION
//   One struct per command shape; Command::args is a std::variant of them, so
//   a command handler does std::get<FetchArgs>(cmd.args) after dispatching on
//   Command::name. Strings are already unquoted / literal-decoded. Mailbox
//   names are as the client sent them (modified UTF-7 unless UTF8=ACCEPT is
//   enabled; see utf7.h), except that any case of "INBOX" is spelled "INBOX".
//   Atoms that are keywords of the grammar (flags, STATUS items, RETURN
//   options, capability names) are kept as sent except that grammar words are
//   upper-cased; flags keep their case (\Seen, $Forwarded).
//
// NEVER
//   Holds no I/O handles and no pointers into the parser's buffer: a Command
//   owns all its bytes and outlives the parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lib/imap/sequence_set.h"

namespace columba::imap {

// CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT EXPUNGE IDLE NAMESPACE.
struct NoArgs {
  bool operator==(const NoArgs&) const = default;
};

// AUTHENTICATE mechanism [initial-response] (SASL-IR, RFC 4959). The response
// is the base64 text as sent ("=" is an empty response); not decoded here.
struct AuthenticateArgs {
  std::string mechanism;  // upper-cased
  std::optional<std::string> initial_response;
};

struct LoginArgs {
  std::string user;
  std::string password;
};

struct EnableArgs {
  std::vector<std::string> capabilities;  // upper-cased
};

// SELECT/EXAMINE mailbox [(CONDSTORE | QRESYNC (...))] (RFC 7162).
struct QresyncParams {
  uint32_t uidvalidity = 0;
  uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  std::optional<SequenceSet> known_sequence_set;  // seq-match-data first half
  std::optional<SequenceSet> known_uid_set;       // seq-match-data second half
};
struct SelectArgs {
  std::string mailbox;
  bool condstore = false;
  std::optional<QresyncParams> qresync;
};

// CREATE mailbox [(USE (\Special ...))] (RFC 6154).
struct CreateArgs {
  std::string mailbox;
  std::vector<std::string> special_use;
};

// DELETE SUBSCRIBE UNSUBSCRIBE GETQUOTAROOT (mailbox); GETQUOTA (root name).
struct MailboxArgs {
  std::string mailbox;
};

struct RenameArgs {
  std::string from;
  std::string to;
};

// LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)]
// (RFC 5258, 5819, 6154) and LSUB reference pattern.
struct ListArgs {
  std::vector<std::string> selection_options;  // SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE
  std::string reference;
  std::vector<std::string> patterns;
  std::vector<std::string> return_options;  // SUBSCRIBED CHILDREN SPECIAL-USE STATUS
  std::vector<std::string> return_status_items;  // with RETURN (STATUS (...))
  bool extended = false;  // selection options, several patterns or RETURN present
};

struct StatusArgs {
  std::string mailbox;
  // MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE APPENDLIMIT
  // DELETED (upper-cased; unknown items are a parse error).
  std::vector<std::string> items;
};

// One message of APPEND (RFC 3502 MULTIAPPEND, RFC 3516 literal8).
struct AppendMessage {
  std::vector<std::string> flags;
  std::optional<std::string> date_time;  // as sent, e.g. "01-Feb-2026 10:00:00 +0100"
  std::string data;
  bool binary = false;  // sent as ~{n} literal8
};
struct AppendArgs {
  std::string mailbox;
  std::vector<AppendMessage> messages;
};

// Dates of SEARCH (date-text without time): 1-Feb-2026.
struct SearchDate {
  int year = 0;
  int month = 0;  // 1..12
  int day = 0;    // 1..31
  bool operator==(const SearchDate&) const = default;
};

// A node of the SEARCH key tree. kAnd holds a parenthesised group or the
// implicit conjunction of the top level; kOr has two children, kNot one.
struct SearchKey {
  enum class Type {
    kAnd, kOr, kNot,
    kAll, kAnswered, kDeleted, kDraft, kFlagged, kNew, kOld, kRecent, kSeen,
    kUnanswered, kUndeleted, kUndraft, kUnflagged, kUnseen,
    kKeyword, kUnkeyword,                          // value = flag
    kBcc, kBody, kCc, kFrom, kSubject, kText, kTo,  // value = string
    kHeader,                                        // field, value
    kBefore, kOn, kSince, kSentBefore, kSentOn, kSentSince,  // date
    kLarger, kSmaller,                              // number
    kSequenceSet, kUid,                             // set (may be "$")
    kModSeq,                                        // number (+ field/value: entry name/type)
    kOlder, kYounger,                               // number of seconds (RFC 5032 WITHIN)
  };
  Type type = Type::kAll;
  std::string field;
  std::string value;
  SearchDate date;
  uint64_t number = 0;
  SequenceSet set;
  std::vector<SearchKey> children;
};

struct SearchArgs {
  std::optional<std::string> charset;  // upper-cased
  bool has_return = false;             // RETURN (...) present: answer with ESEARCH
  std::vector<std::string> return_options;  // MIN MAX ALL COUNT SAVE (upper-cased)
  SearchKey key;                       // always kAnd at the root
};

// SORT (criteria) charset keys (RFC 5256).
struct SortCriterion {
  bool reverse = false;
  std::string key;  // ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO
};
struct SortArgs {
  std::vector<SortCriterion> criteria;
  std::string charset;
  SearchKey key;
};

// THREAD algorithm charset keys (RFC 5256).
struct ThreadArgs {
  std::string algorithm;  // REFERENCES ORDEREDSUBJECT
  std::string charset;
  SearchKey key;
};

// BODY[section] / BINARY[section] of FETCH.
struct FetchSection {
  enum class Text { kAll, kHeader, kHeaderFields, kHeaderFieldsNot, kText, kMime };
  std::vector<uint32_t> part;  // numeric path, e.g. 1.2.3; empty = whole message
  Text text = Text::kAll;
  std::vector<std::string> header_fields;  // upper-cased, for kHeaderFields(Not)
  bool operator==(const FetchSection&) const = default;
};

struct FetchItem {
  enum class Type {
    kEnvelope, kFlags, kInternalDate, kRfc822, kRfc822Header, kRfc822Size, kRfc822Text,
    kBody,            // BODY without section: non-extensible BODYSTRUCTURE
    kBodyStructure, kUid, kModSeq,
    kBodySection,     // BODY[...] / BODY.PEEK[...]
    kBinary,          // BINARY[...] / BINARY.PEEK[...]
    kBinarySize,      // BINARY.SIZE[...]
  };
  Type type = Type::kFlags;
  bool peek = false;
  FetchSection section;
  std::optional<std::pair<uint32_t, uint32_t>> partial;  // <offset.length>
};

struct FetchArgs {
  SequenceSet set;
  std::vector<FetchItem> items;  // macros ALL/FAST/FULL already expanded
  std::optional<uint64_t> changed_since;  // (CHANGEDSINCE n)
  bool vanished = false;                  // (... VANISHED), UID FETCH only
};

struct StoreArgs {
  enum class Mode { kReplace, kAdd, kRemove };
  SequenceSet set;
  std::optional<uint64_t> unchanged_since;
  Mode mode = Mode::kReplace;
  bool silent = false;
  std::vector<std::string> flags;
};

// UID EXPUNGE set (RFC 4315).
struct SetArgs {
  SequenceSet set;
};

// COPY and MOVE.
struct CopyArgs {
  SequenceSet set;
  std::string mailbox;
};

// ID (RFC 2971): NIL or a list of field/value pairs (value may be NIL).
struct IdArgs {
  std::optional<std::vector<std::pair<std::string, std::optional<std::string>>>> params;
};

struct CompressArgs {
  std::string mechanism;  // upper-cased, e.g. DEFLATE
};

// A command name the parser does not know; the server answers BAD.
struct UnknownArgs {
  std::string rest;  // the rest of the line after the name, unparsed
};

using CommandArgs =
    std::variant<NoArgs, AuthenticateArgs, LoginArgs, EnableArgs, SelectArgs, CreateArgs,
                 MailboxArgs, RenameArgs, ListArgs, StatusArgs, AppendArgs, SearchArgs,
                 SortArgs, ThreadArgs, FetchArgs, StoreArgs, SetArgs, CopyArgs, IdArgs, CompressArgs,
                 UnknownArgs>;

struct Command {
  std::string tag;
  std::string name;  // upper-case, without the UID prefix: "FETCH" for "UID FETCH"
  bool uid = false;
  CommandArgs args;
};

}  // namespace columba::imap
