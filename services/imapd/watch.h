// watch.h - metad's Watch stream (server streaming) read with gRPC's callback
// reactor, for IDLE.
//
// DESCRIPTION
//   MailboxWatch::Start opens Watch(account, mailbox) and, for every
//   MailboxChange (the first one is `ready`), sets IdleSignal::change and
//   wakes the session on its strand; when the stream ends (metad gone, or
//   Cancel) it sets IdleSignal::watch_ended. No thread is held while
//   waiting: the reactor lives until gRPC calls OnDone.
//
// NEVER
//   Never touches the Session: only the shared IdleSignal, on its executor.
//   Cancel is safe at any time, also after the stream ended.
#pragma once

#include <memory>

#include "services/imapd/session.h"

namespace columba::imapd {

class MailboxWatch : public grpc::ClientReadReactor<v1::MailboxChange> {
 public:
  static std::shared_ptr<MailboxWatch> Start(rpc::MetadClient& metad, uint64_t account_id, uint64_t mailbox_id,
                                             std::shared_ptr<IdleSignal> sig);
  void Cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& s) override;

 private:
  explicit MailboxWatch(std::shared_ptr<IdleSignal> sig) : sig_(std::move(sig)) {}

  grpc::ClientContext ctx_;
  v1::WatchRequest req_;
  v1::MailboxChange msg_;
  std::shared_ptr<IdleSignal> sig_;
  std::shared_ptr<MailboxWatch> self_;  // until OnDone
};

}  // namespace columba::imapd
