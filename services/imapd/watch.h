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
//   last Subscription to go cancels the stream.
//
// NEVER
//   Never touches a Session: only IdleSignals, on their executors. Never
//   holds its lock while calling into gRPC's cancel or another component.
//   Never keeps a stream open for a mailbox nobody watches.
#pragma once

#include <memory>

#include "services/imapd/session.h"

namespace columba::imapd {

class WatchHub {
 public:
  struct State;  // shared with the stream reactors (they may outlive the hub)

  // `ex`: where retry timers run.
  WatchHub(rpc::MetadClient& metad, asio::any_io_executor ex);
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

  std::unique_ptr<Subscription> Subscribe(uint64_t account_id, uint64_t mailbox_id, std::shared_ptr<IdleSignal> sig);

  // Open Watch streams (tests, metrics).
  size_t streams() const;

 private:
  std::shared_ptr<State> st_;
};

}  // namespace columba::imapd
