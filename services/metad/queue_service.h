// queue_service.h - the gRPC Queue service of columba-metad (queue.proto).
//
// NAME
//   QueueService - Enqueue, ListQueue, GetQueued, DeleteQueued, Claim, Complete.
// DESCRIPTION
//   Each RPC runs its PgQueue transaction on the MetadataService worker pool
//   (MetadataService::Unary: the same bounded queue, back-pressure, metrics
//   columba_metad_rpcs_total{method} and error mapping as the Metadata RPCs), so
//   gRPC threads never block on PostgreSQL. Validation lives in PgQueue.
// NEVER
//   Answers OK before the transaction committed; answers OK on doubt (a commit
//   whose outcome is unknown is UNAVAILABLE: smtpd then answers 4xx and the
//   sender retries, at worst a duplicate, never a loss).
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "columba/v1/queue.grpc.pb.h"
#include "services/metad/service.h"
#include "storage/postgres/pg_queue.h"

namespace columba::metad {

class QueueService final : public columba::v1::Queue::CallbackService {
 public:
  // `runner` provides the worker pool and metrics; it must outlive this service.
  QueueService(std::shared_ptr<pg::PgQueue> queue, MetadataService& runner)
      : queue_(std::move(queue)), runner_(runner) {}

  using Ctx = grpc::CallbackServerContext;
  grpc::ServerUnaryReactor* Enqueue(Ctx*, const v1::EnqueueRequest*, v1::EnqueueResponse*) override;
  grpc::ServerUnaryReactor* ListQueue(Ctx*, const v1::ListQueueRequest*, v1::ListQueueResponse*) override;
  grpc::ServerUnaryReactor* GetQueued(Ctx*, const v1::GetQueuedRequest*, v1::QueuedMessage*) override;
  grpc::ServerUnaryReactor* DeleteQueued(Ctx*, const v1::DeleteQueuedRequest*, v1::DeleteQueuedResponse*) override;
  grpc::ServerUnaryReactor* Claim(Ctx*, const v1::ClaimRequest*, v1::ClaimResponse*) override;
  grpc::ServerUnaryReactor* Complete(Ctx*, const v1::CompleteRequest*, v1::CompleteResponse*) override;

 private:
  std::shared_ptr<pg::PgQueue> queue_;
  MetadataService& runner_;
};

}  // namespace columba::metad
