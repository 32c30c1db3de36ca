// queue_client.cc - blocking calls to metad's Queue service; see queue_client.h.
#include "lib/rpc/queue_client.h"

#include "lib/rpc/metad_client.h"

namespace columba::rpc {

QueueClient::QueueClient(const std::string& target, std::chrono::milliseconds deadline)
    : QueueClient(MakeMetadChannel(target), deadline) {}

QueueClient::QueueClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline)
    : channel_(std::move(channel)), stub_(v1::Queue::NewStub(channel_)), deadline_(deadline) {}

template <class Req, class Resp>
Result<Resp> QueueClient::Call(grpc::Status (v1::Queue::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                               const Req& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
  ctx.set_wait_for_ready(true);
  Resp resp;
  grpc::Status s = ((*stub_).*method)(&ctx, req, &resp);
  if (!s.ok()) return tl::unexpected(FromStatus(s));
  return resp;
}

Result<std::string> QueueClient::Enqueue(const v1::EnqueueRequest& req) {
  auto r = Call(&v1::Queue::Stub::Enqueue, req);
  if (!r) return tl::unexpected(r.error());
  if (r->queue_id().empty()) return Fail(ErrorKind::kInternal, "metad: Enqueue answered OK without a queue id");
  return r->queue_id();
}

Result<v1::ClaimResponse> QueueClient::Claim(const v1::ClaimRequest& req) { return Call(&v1::Queue::Stub::Claim, req); }

Result<v1::CompleteResponse> QueueClient::Complete(const v1::CompleteRequest& req) {
  return Call(&v1::Queue::Stub::Complete, req);
}

Result<v1::ListQueueResponse> QueueClient::List(const v1::ListQueueRequest& req) {
  return Call(&v1::Queue::Stub::ListQueue, req);
}

Result<v1::QueuedMessage> QueueClient::Get(const std::string& queue_id) {
  v1::GetQueuedRequest req;
  req.set_queue_id(queue_id);
  return Call(&v1::Queue::Stub::GetQueued, req);
}

Result<void> QueueClient::Delete(const std::string& queue_id) {
  v1::DeleteQueuedRequest req;
  req.set_queue_id(queue_id);
  auto r = Call(&v1::Queue::Stub::DeleteQueued, req);
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace columba::rpc
