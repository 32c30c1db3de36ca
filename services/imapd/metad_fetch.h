// metad_fetch.h - message metadata from metad (one unary FetchPage, then the
// streaming Fetch for the rest), and UID sets for requests.
//
// NEVER
//   Never runs the blocking gRPC stream reader on an event-loop thread: it runs
//   on the BlockingPool and the coroutine resumes on its own strand.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "services/imapd/session.h"

namespace columba::imapd {

// Metadata of the messages whose UIDs are in `uids` (a UidSet; last = 0 means
// up to the highest UID), ascending. Pages are collected: callers bound the set.
// `without_text`: parsed fields without body_text and headers (ENVELOPE, BODYSTRUCTURE).
asio::awaitable<Result<std::vector<v1::MessageMeta>>> FetchMeta(Session& s, uint64_t mailbox_id, v1::UidSet uids,
                                                                 bool with_parsed, uint64_t changed_since = 0,
                                                                 bool without_text = false);

// The same, one page at a time: `each` sees every message in UID order and
// nothing is collected, so memory stays at one page (SELECT of a mailbox of any
// size). `each` runs on a worker thread while the calling coroutine waits.
asio::awaitable<Result<void>> FetchMetaEach(Session& s, uint64_t mailbox_id, v1::UidSet uids, bool with_parsed,
                                            std::function<void(const v1::MessageMeta&)> each);

// What changed in a mailbox after `since` (metad Changes): messages changed or
// added (all of them: when Changes says it truncated, they come from Fetch with
// changed_since instead) and the UIDs expunged since.
struct MailboxChanges {
  std::vector<v1::MessageMeta> changed;
  std::vector<uint32_t> expunged;
  uint64_t highestmodseq = 0;  // of the mailbox when Changes ran
};
asio::awaitable<Result<MailboxChanges>> ChangesSince(Session& s, uint64_t mailbox_id, uint64_t since);

// "inbox", "Inbox/x" -> "INBOX", "INBOX/x": INBOX is case-insensitive.
std::string CanonicalInbox(std::string name);

// A mailbox name as the client sent it -> metad's UTF-8 name (INBOX canonical):
// modified UTF-7 (RFC 3501 5.1.3), or UTF-8 once UTF8=ACCEPT is enabled
// (RFC 6855 3). nullopt when it is not valid in that form.
std::optional<std::string> MailboxFromWire(const Session& s, std::string_view wire);
// metad's UTF-8 name -> the form this client reads.
std::string MailboxToWire(const Session& s, std::string_view name);

// The UidSet of ascending `uids` (consecutive runs of the list become ranges).
v1::UidSet ToUidSet(std::span<const uint32_t> uids);
v1::UidSet ToUidSet(const imap::UidList& uids);

}  // namespace columba::imapd
