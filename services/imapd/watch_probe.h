// watch_probe.h - what a mailbox's shared Watch stream says at one moment
// (WatchHub::Look), and the one rule by which it vouches for an earlier metad
// read: used by NOOP's sync (cmd/idle.cc) and the mailbox index (mailbox_index.h).
//
// DESCRIPTION
//   `epoch` changes whenever the stream (re)becomes ready, metad asks for a
//   resync, or the stream ends; `account_epoch` when a session of this
//   process writes to the account (WatchHub::TouchAccount); `seen` is the
//   highest MODSEQ notified on the stream. A metad read made after a ready
//   probe `before`, reflecting every change up to MODSEQ m, is still current
//   while a later probe is ready, has the same epochs and seen <= m: every
//   change committed after the read is notified on that stream, and every
//   write of this process touches the account. The read must also be younger
//   than `max_staleness` (imap.poll_max_staleness), so that a stream that
//   stalls without ending cannot hide a change for longer.
#pragma once

#include <chrono>
#include <cstdint>

namespace columba::imapd {

struct WatchProbe {
  bool ready = false;
  uint64_t epoch = 0;
  uint64_t account_epoch = 0;
  uint64_t seen = 0;
};

inline bool Vouches(const WatchProbe& before, uint64_t modseq, std::chrono::steady_clock::time_point read_at,
                    const WatchProbe& now_probe, std::chrono::steady_clock::time_point now,
                    std::chrono::milliseconds max_staleness) {
  return before.ready && now_probe.ready && now_probe.epoch == before.epoch &&
         now_probe.account_epoch == before.account_epoch && now_probe.seen <= modseq && now - read_at < max_staleness;
}

}  // namespace columba::imapd
