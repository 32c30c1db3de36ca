// queue_client.h - how front-ends reach the outbound queue in metad (queue.proto).
//
// NAME
//   rpc::QueueClient - blocking Enqueue / Claim / Complete / List / Get / Delete.
// SYNOPSIS
//   rpc::QueueClient q(metad.channel(), std::chrono::seconds(10));   // or (target, deadline)
//   auto id = q.Enqueue(req);              // Result<std::string>: the queue id
//   if (!id) reply(id.error().Temporary() ? "451 4.3.0 ..." : "554 5.3.0 ...");
// DESCRIPTION
//   Calls block the calling thread: run them on a blocking pool (smtpd's
//   BlockingPool, a runner thread, the CLI), never on an event-loop thread. Every
//   call has the deadline given at construction and waits, within it, for metad
//   to become reachable (wait_for_ready), so a metad restart is ridden out rather
//   than failed fast. Statuses map to ErrorKind as for MetadClient (FromStatus):
//   UNAVAILABLE / DEADLINE_EXCEEDED / CANCELLED -> kUnavailable (Temporary()),
//   INVALID_ARGUMENT -> kInvalidInput, NOT_FOUND -> kNotFound,
//   FAILED_PRECONDITION -> kConflict (Complete on a lease held by someone else).
// NEVER
//   Reports success for an Enqueue metad did not answer OK. A deadline that
//   passes after metad committed is reported as kUnavailable: the caller answers
//   4xx and the sender retries (a possible duplicate, never a loss).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "columba/v1/queue.grpc.pb.h"
#include "lib/base/result.h"

namespace columba::rpc {

class QueueClient {
 public:
  // target: "host:port" of metad (or of a load balancer in front of replicas).
  QueueClient(const std::string& target, std::chrono::milliseconds deadline);
  // Shares an existing channel (e.g. MetadClient::channel()).
  QueueClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline);

  // The queue id once the message and its recipients are committed.
  Result<std::string> Enqueue(const v1::EnqueueRequest& req);
  Result<v1::ClaimResponse> Claim(const v1::ClaimRequest& req);
  Result<v1::CompleteResponse> Complete(const v1::CompleteRequest& req);
  Result<v1::ListQueueResponse> List(const v1::ListQueueRequest& req);
  Result<v1::QueuedMessage> Get(const std::string& queue_id);
  Result<void> Delete(const std::string& queue_id);

 private:
  template <class Req, class Resp>
  Result<Resp> Call(grpc::Status (v1::Queue::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Queue::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace columba::rpc
