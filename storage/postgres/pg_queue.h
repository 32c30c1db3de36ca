// pg_queue.h - the outbound/retry queue in PostgreSQL: what metad does for each
// Queue RPC (proto/columba/v1/queue.proto).
//
// NAME
//   PgQueue - Enqueue, ListQueue, GetQueued, DeleteQueued, Claim, Complete.
// DESCRIPTION
//   Each method validates its request (bad input is kInvalidInput and nothing is
//   stored), then runs one transaction on a pooled connection and blocks; metad
//   calls them on its worker threads, never on gRPC completion threads. Schema:
//   migration v8 (migrations.cc). Claim leases recipients with SELECT ... FOR
//   UPDATE SKIP LOCKED, so any number of runners on any number of metad replicas
//   never get the same recipient; a lease that expires makes the recipient due
//   again. Complete deletes a message once none of its recipients is pending.
//   Enqueue forces synchronous_commit on for its transaction when the database
//   runs with it off: smtpd answers 250 on its reply.
// DIAGNOSTICS
//   kInvalidInput (bad request), kNotFound (no such queue id), kConflict (Complete
//   for recipients not leased by that worker), kUnavailable (PostgreSQL down or the
//   commit outcome unknown), kInternal (anything else).
// NEVER
//   Returns success for a change that was not committed; hands one recipient to
//   two workers with live leases; deletes a message that still has a pending
//   recipient (except on an operator's DeleteQueued).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "columba/v1/queue.pb.h"
#include "lib/base/result.h"
#include "storage/postgres/pg_store.h"

namespace columba::pg {

// Limits of the queue API (also documented in queue.proto).
struct QueueLimits {
  static constexpr int kMaxRecipients = 1000;
  static constexpr size_t kMaxAddress = 320;
  static constexpr size_t kMaxOrcpt = 500;
  static constexpr size_t kMaxEnvid = 100;
  static constexpr size_t kMaxHelo = 255;
  static constexpr size_t kMaxClientIp = 64;
  static constexpr size_t kMaxWorker = 128;
  static constexpr size_t kMaxError = 1000;
  static constexpr uint32_t kMaxDelaySeconds = 30 * 86400;
  static constexpr uint32_t kDefaultListLimit = 100, kMaxListLimit = 500;
  static constexpr uint32_t kDefaultClaimLimit = 100, kMaxClaimLimit = 1000;
  static constexpr uint32_t kDefaultLeaseSeconds = 300, kMaxLeaseSeconds = 3600;
};

class PgQueue {
 public:
  explicit PgQueue(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  Result<v1::EnqueueResponse> Enqueue(const v1::EnqueueRequest& r);
  Result<v1::ListQueueResponse> ListQueue(const v1::ListQueueRequest& r);
  Result<v1::QueuedMessage> GetQueued(const v1::GetQueuedRequest& r);
  Result<v1::DeleteQueuedResponse> DeleteQueued(const v1::DeleteQueuedRequest& r);
  Result<v1::ClaimResponse> Claim(const v1::ClaimRequest& r);
  Result<v1::CompleteResponse> Complete(const v1::CompleteRequest& r);

 private:
  std::shared_ptr<ConnectionPool> pool_;
};

// Checks and normalises an Enqueue request (upper-cases NOTIFY/RET/BODY keywords,
// "" BODY becomes 7BIT); kInvalidInput says what is wrong. Pure: no SQL.
Result<v1::EnqueueRequest> CheckEnqueue(const v1::EnqueueRequest& r);

// True for a queue id as Enqueue makes them: 16 lowercase hex digits.
bool IsValidQueueId(std::string_view id);

}  // namespace columba::pg
