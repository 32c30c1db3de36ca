// watch.cc - metad Watch through grpc::ClientReadReactor.
#include "services/imapd/watch.h"

#include "lib/base/log.h"

namespace columba::imapd {

std::shared_ptr<MailboxWatch> MailboxWatch::Start(rpc::MetadClient& metad, uint64_t account_id, uint64_t mailbox_id,
                                                  std::shared_ptr<IdleSignal> sig) {
  std::shared_ptr<MailboxWatch> w(new MailboxWatch(std::move(sig)));
  w->self_ = w;
  w->req_.set_account_id(account_id);
  if (mailbox_id) w->req_.add_mailbox_ids(mailbox_id);
  metad.stub().async()->Watch(&w->ctx_, &w->req_, w.get());
  w->StartRead(&w->msg_);
  w->StartCall();
  return w;
}

void MailboxWatch::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  auto sig = sig_;
  asio::post(sig->timer.get_executor(), [sig] {
    sig->change = true;
    sig->Wake();
  });
  StartRead(&msg_);
}

void MailboxWatch::OnDone(const grpc::Status& s) {
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED)
    log::Info("metad Watch ended", {{"error", s.error_message()}});
  auto sig = sig_;
  asio::post(sig->timer.get_executor(), [sig] {
    sig->watch_ended = true;
    sig->Wake();
  });
  auto self = std::move(self_);  // may delete this on return
}

}  // namespace columba::imapd
