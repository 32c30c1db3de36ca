// queue.h - smtpd's side of the durable queue (queue.proto, served by metad):
// Enqueue after DATA, and the runner that retries queued LOCAL recipients.
//
// DESCRIPTION
//   EnqueueMessage writes the message (with its Received: header) to the blob
//   store - durable when Put returns - and then asks metad to Enqueue the
//   envelope; the queue id comes back only after PostgreSQL committed. smtpd
//   sends 250 only after that (session.cc).
//
//   LocalQueueRunner: every `interval`, claims due ROUTE_LOCAL recipients with a
//   lease (any number of smtpd replicas run one; SKIP LOCKED leases keep them
//   apart), reads the blob, hands the message to lmtpd, and Completes each
//   recipient: 250 DELIVERED, 5xx FAILED, 4xx or lmtpd down DEFERRED with a
//   doubling delay (retry_base .. retry_max); past `lifetime` a temporary
//   failure becomes FAILED. A FAILED recipient's sender gets a failure notice
//   (RFC 3464) through the queue first, as its NOTIFY asks; when that cannot
//   be queued the recipient stays DEFERRED, so no failure goes unreported. ROUTE_REMOTE recipients wait for the outbound
//   relay (a later issue).
// NEVER
//   Never reports DELIVERED unless lmtpd answered 250 for that recipient. A
//   crash between lmtpd's 250 and Complete leaves the lease to expire: the
//   recipient is delivered again (a duplicate, never a loss).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "columba/v1/queue.pb.h"
#include "lib/base/result.h"
#include "lib/net/asio_compat.h"
#include "lib/net/blocking_pool.h"
#include "lib/smtp/dsn.h"
#include "lib/rpc/queue_client.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"

namespace columba::smtpd {

struct QueueContext {
  storage::BlobStore& blobs;
  rpc::QueueClient& queue;
  net::BlockingPool& pool;
  storage::Directory& directory;  // is a bounce's recipient local (lmtpd) or remote?
  std::string hostname;           // Reporting-MTA of failure notices
};

// Stores `message` and enqueues `request` (blob_id and size are filled in).
// The queue id, or an error: the caller answers 4xx.
asio::awaitable<Result<std::string>> EnqueueMessage(QueueContext& qc, v1::EnqueueRequest request,
                                                    const std::string& message);

// A failure notice (lib/smtp/dsn.h) for `failed` recipients of a message from
// `sender`, queued from the null sender to `sender` (ROUTE_LOCAL when its domain
// is local, else ROUTE_REMOTE). Ok(false) when no notice is wanted; an error
// when it could not be queued (the caller must not drop the failure then).
asio::awaitable<Result<bool>> EnqueueFailureNotice(QueueContext& qc, std::string sender, std::string envid,
                                                   std::string ret, std::time_t arrival,
                                                   std::vector<smtp::FailedRecipient> failed,
                                                   const std::string& message, std::string seed);

struct RunnerConfig {
  std::chrono::milliseconds interval{5000};    // between claims when the queue had nothing due
  std::chrono::seconds lease{300};
  std::chrono::seconds retry_base{60};         // first retry; doubles per attempt
  std::chrono::seconds retry_max{3600};
  std::chrono::seconds lifetime{5 * 24 * 3600};  // then temporary failures become permanent
  uint32_t batch = 50;                         // recipients per claim
  std::string lmtp_host = "127.0.0.1";
  uint16_t lmtp_port = 2424;
  std::string lhlo_name = "localhost";
  std::chrono::milliseconds lmtp_timeout{120'000};
};

// The delay before attempt `attempts + 1` (attempts already made).
std::chrono::seconds RetryDelay(uint32_t attempts, const RunnerConfig& cfg);

class LocalQueueRunner {
 public:
  LocalQueueRunner(QueueContext qc, RunnerConfig cfg, std::string worker);
  // Runs until `stop` is set (checked between rounds).
  asio::awaitable<void> Run(const bool& stop);
  // One claim-deliver-complete round; the number of recipients handled.
  asio::awaitable<Result<size_t>> RunOnce();

 private:
  asio::awaitable<void> Deliver(const v1::ClaimedMessage& claimed);
  QueueContext qc_;
  RunnerConfig cfg_;
  std::string worker_;
};

}  // namespace columba::smtpd
