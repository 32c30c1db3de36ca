// mailbox_index.h - this process's copy of a selected mailbox's UIDs, flags,
// keywords and MODSEQs, shared by every session that has it selected, so that
// FETCH (FLAGS UID MODSEQ) needs no metad call while nothing changed.
//
// DESCRIPTION
//   A snapshot is immutable and reflects every change up to its `modseq` (it
//   may already show some later ones). It lives with the mailbox's Watch entry
//   in the WatchHub (watch.h), so it exists while a session of this process
//   has the mailbox selected. CurrentIndex() returns it when the Watch stream
//   vouches that nothing changed since it was read (the same rule as NOOP's,
//   watch_probe.h, including imap.poll_max_staleness); otherwise it refreshes
//   it with one metad Changes(since = its modseq) (or builds it: Changes for
//   the MODSEQ, Fetch 1:*, Changes again) and stores the newer snapshot for
//   the other sessions. Changes are authoritative, so a refresh is right
//   whatever the stream did meanwhile.
//
// NEVER
//   Never hands out a snapshot the stream does not vouch for; never builds one
//   for a mailbox above imap.index_max_messages or while the process's
//   snapshots hold more than imap.index_max_bytes (callers then ask metad).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/imapd/session.h"

namespace columba::imapd {

struct IndexRec {
  uint32_t uid = 0;
  uint32_t flags = 0;
  uint64_t modseq = 0;
  uint32_t keywords = 0;  // index into IndexSnapshot::keyword_sets; 0 = none
};

struct IndexSnapshot {
  uint64_t modseq = 0;
  WatchProbe probe;  // taken before the read that made it (watch_probe.h)
  std::chrono::steady_clock::time_point read_at;
  std::vector<IndexRec> recs;                          // ascending UID
  std::vector<std::vector<std::string>> keyword_sets;  // [0] is empty

  const IndexRec* Find(uint32_t uid) const;
  size_t Bytes() const;
  // The message as metad's Fetch would give it, with uid, flags, keywords and modseq only.
  v1::MessageMeta Meta(const IndexRec& r) const;
};

// The current snapshot of one of the session's account's mailboxes (one
// this session has subscribed to: selected), or null when there is none to be
// had (index off, stream not ready, mailbox too large, budget spent, metad
// failing): the caller then asks metad.
asio::awaitable<std::shared_ptr<const IndexSnapshot>> CurrentIndex(Session& s, uint64_t mailbox_id);

// SEARCH on a snapshot: the UIDs (ascending) matching all `keys`, or nullopt
// when a key needs more than UIDs, flags, keywords and MODSEQ (metad then).
std::optional<std::vector<uint32_t>> SearchIndex(const IndexSnapshot& s, const std::vector<v1::SearchKey>& keys);
bool IndexCanSearch(const std::vector<v1::SearchKey>& keys);

// Pure parts, for tests: a snapshot from messages (at `modseq`), and the next
// one after Changes since its modseq.
std::shared_ptr<IndexSnapshot> BuildSnapshot(std::vector<v1::MessageMeta> messages, uint64_t modseq);
std::shared_ptr<IndexSnapshot> ApplyChanges(const IndexSnapshot& base, const std::vector<v1::MessageMeta>& changed,
                                            const std::vector<uint32_t>& expunged, uint64_t modseq);

}  // namespace columba::imapd
