// watch.h - metad's Watch stream (server streaming) read with gRPC's callback
// reactor, shared by every IDLE session of this process on one mailbox.
//
// DESCRIPTION
//   WatchHub::Subscribe(account, mailbox, signal) registers an IDLE session.
//   The first subscriber of a mailbox opens one Watch(account, mailbox)
//   stream; later ones share it (a thousand IDLE sessions on a shared
//   mailbox, or one user's phone, laptop and desktop, cost one stream here
//   and one watcher in metad). Every MailboxChange (the first one is `ready`)
//   sets IdleSignal::change on each subscriber and wakes it on its own
//   executor; a subscriber joining a stream that is already ready is woken
//   once at once, so it syncs what happened before it joined. When the stream
//   ends unexpectedly (metad gone) the hub reopens it after 5 s while anyone
//   is subscribed; the `ready` of the new stream makes everyone resync. The
//   stream is cancelled `linger` after the last Subscription went (unless a
//   new one came). Selected sessions subscribe
//   too (without a signal), so that NOOP can tell from Look() that nothing
//   changed without a metad call (cmd/idle.cc, SyncMailbox).
//
// NEVER
//   Never touches a Session: only IdleSignals, on their executors. Never
//   holds its lock while calling into gRPC's cancel or another component.
//   Never keeps a stream open for a mailbox nobody watches for longer than
//   `linger`.
#pragma once

#include <memory>

#include "services/imapd/session.h"
#include "services/imapd/watch_probe.h"

namespace columba::imapd {

struct IndexSnapshot;  // mailbox_index.h

class WatchHub {
 public:
  struct State;  // shared with the stream reactors (they may outlive the hub)

  // `ex`: where retry and linger timers run. `linger`: how long a mailbox's
  // stream (and index) stays after its last subscriber left, so that a client
  // logging in again finds them ready (0: closed at once).
  WatchHub(rpc::MetadClient& metad, asio::any_io_executor ex,
           std::chrono::milliseconds linger = std::chrono::milliseconds(0));
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Unsubscribes when destroyed.
  class Subscription {
   public:
    Subscription(std::weak_ptr<State> hub, uint64_t mailbox, uint64_t id)
        : hub_(std::move(hub)), mailbox_(mailbox), id_(id) {}
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    std::weak_ptr<State> hub_;
    uint64_t mailbox_;
    uint64_t id_;
  };

  // `sig` may be null: a selected (not idling) session keeps the stream open
  // so that Look() can vouch for the mailbox, without being woken.
  std::unique_ptr<Subscription> Subscribe(uint64_t account_id, uint64_t mailbox_id, std::shared_ptr<IdleSignal> sig);

  // What this process knows of a mailbox without asking metad (the rule that
  // uses it: watch_probe.h).
  using Probe = WatchProbe;
  Probe Look(uint64_t account_id, uint64_t mailbox_id) const;
  // After any write through this process to the account's mailboxes, so that
  // its other sessions read their own process's writes at once (the stream's
  // notice may still be on its way).
  // Returns the account's new epoch (what Look() now reports as account_epoch).
  uint64_t TouchAccount(uint64_t account_id);

  // The mailbox's index snapshot (mailbox_index.h) kept with its entry while
  // someone has it selected; PutIndex keeps `snap` unless the stored one is
  // newer, and refuses (false) a new one that would take the process's
  // snapshots past `max_bytes`.
  std::shared_ptr<const IndexSnapshot> Index(uint64_t mailbox_id) const;
  bool PutIndex(uint64_t mailbox_id, std::shared_ptr<const IndexSnapshot> snap, size_t max_bytes);
  size_t index_bytes() const;

  // Open Watch streams (tests, metrics).
  size_t streams() const;

 private:
  std::shared_ptr<State> st_;
};

}  // namespace columba::imapd
