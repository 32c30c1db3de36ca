// queue.cc - Enqueue after DATA and the local retry runner (queue.h).
#include "services/smtpd/queue.h"

#include <algorithm>
#include <ctime>

#include "lib/base/log.h"
#include "services/smtpd/lmtp_handoff.h"

namespace columba::smtpd {

asio::awaitable<Result<std::string>> EnqueueMessage(QueueContext& qc, v1::EnqueueRequest request,
                                                    const std::string& message) {
  // Blob first (durable when Put returns), then the rows that name it: a crash
  // in between leaves an unreferenced blob for the GC, never a row without a body.
  auto id = co_await qc.pool.Run([&qc, &message] { return qc.blobs.Put(message); });
  if (!id) co_return tl::unexpected(id.error());
  request.set_blob_id(*id);
  request.set_size(message.size());
  co_return co_await qc.pool.Run([&qc, &request] { return qc.queue.Enqueue(request); });
}

asio::awaitable<Result<bool>> EnqueueFailureNotice(QueueContext& qc, std::string sender, std::string envid,
                                                   std::string ret, std::time_t arrival,
                                                   std::vector<smtp::FailedRecipient> failed,
                                                   const std::string& message, std::string seed) {
  if (failed.empty() || sender.empty()) co_return false;
  smtp::FailureNotice n;
  n.reporting_mta = qc.hostname;
  n.sender = sender;
  n.envid = envid;
  n.ret = ret;
  n.arrival = arrival;
  n.recipients = std::move(failed);
  n.message = message;
  n.boundary_seed = seed;
  std::string notice = smtp::BuildFailureNotice(n);
  std::string domain = storage::DomainOf(storage::NormalizeAddress(sender).value_or(sender));
  auto local = co_await qc.pool.Run([&qc, &domain] { return qc.directory.IsLocalDomain(domain); });
  if (!local) co_return tl::unexpected(local.error());
  v1::EnqueueRequest req;
  req.set_sender("");  // RFC 5321 4.5.5: notices come from the null reverse-path
  req.set_body("7BIT");
  auto* r = req.add_recipients();
  r->set_address(sender);
  r->set_route(*local ? v1::ROUTE_LOCAL : v1::ROUTE_REMOTE);
  auto id = co_await EnqueueMessage(qc, std::move(req), notice);
  if (!id) co_return tl::unexpected(id.error());
  log::Info("failure notice queued", {{"queue_id", *id}, {"recipients", std::to_string(n.recipients.size())}});
  co_return true;
}

std::chrono::seconds RetryDelay(uint32_t attempts, const RunnerConfig& cfg) {
  auto d = cfg.retry_base;
  for (uint32_t i = 1; i < attempts && d < cfg.retry_max; ++i) d *= 2;
  return std::min(d, cfg.retry_max);
}

LocalQueueRunner::LocalQueueRunner(QueueContext qc, RunnerConfig cfg, std::string worker)
    : qc_(qc), cfg_(std::move(cfg)), worker_(std::move(worker)) {}

asio::awaitable<void> LocalQueueRunner::Run(const bool& stop) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stop) {
    auto handled = co_await RunOnce();
    if (!handled) log::Warn("queue runner", {{"error", handled.error().message}});
    // A full batch means more may be due: go on at once; otherwise wait.
    if (handled && *handled >= cfg_.batch) continue;
    timer.expires_after(cfg_.interval);
    co_await timer.async_wait(net::kNoThrow);
  }
}

asio::awaitable<Result<size_t>> LocalQueueRunner::RunOnce() {
  v1::ClaimRequest req;
  req.set_worker(worker_);
  req.set_route(v1::ROUTE_LOCAL);
  req.set_limit(cfg_.batch);
  req.set_lease_seconds(static_cast<uint32_t>(cfg_.lease.count()));
  auto claimed = co_await qc_.pool.Run([this, &req] { return qc_.queue.Claim(req); });
  if (!claimed) co_return tl::unexpected(claimed.error());
  size_t n = 0;
  for (const auto& m : claimed->messages()) {
    n += static_cast<size_t>(m.message().recipients_size());
    co_await Deliver(m);
  }
  co_return n;
}

asio::awaitable<void> LocalQueueRunner::Deliver(const v1::ClaimedMessage& claimed) {
  const v1::QueuedMessage& m = claimed.message();
  std::vector<std::string> addresses;
  for (const auto& r : m.recipients()) addresses.push_back(r.address());
  std::string blob_id = m.blob_id();
  auto body = co_await qc_.pool.Run([this, &blob_id] { return storage::ReadAll(qc_.blobs, blob_id); });
  std::vector<smtp::Reply> replies;
  if (body) {
    std::string sender = m.sender();
    replies = co_await HandOffToLmtp(cfg_.lmtp_host, cfg_.lmtp_port, cfg_.lhlo_name, sender, addresses, *body,
                                     cfg_.lmtp_timeout, m.smtputf8());
  } else {
    // The body is unreadable now (blob store down): try again later.
    replies.assign(addresses.size(), smtp::Reply{451, "4.3.0", "blob store: " + body.error().message});
  }
  const bool expired = std::time(nullptr) - m.created_at() > cfg_.lifetime.count();
  std::vector<smtp::FailedRecipient> notify;  // failed recipients whose sender wants to know
  std::vector<v1::RecipientResult*> noticed;
  v1::CompleteRequest done;
  done.set_queue_id(m.id());
  done.set_worker(worker_);
  for (int i = 0; i < m.recipients_size(); ++i) {
    const auto& rcpt = m.recipients(i);
    const smtp::Reply& r = replies[static_cast<size_t>(i)];
    auto* res = done.add_results();
    res->set_key(rcpt.key());
    if (r.code == 250) {
      res->set_outcome(v1::OUTCOME_DELIVERED);
      continue;
    }
    res->set_error(std::to_string(r.code) + " " + r.enhanced + " " + r.text);
    if (r.code >= 500 || expired) {
      res->set_outcome(v1::OUTCOME_FAILED);
      if (smtp::WantsFailureNotice(m.sender(), rcpt.notify())) {
        std::string status = r.enhanced.empty() || r.enhanced[0] != '5' ? "5.4.7" : r.enhanced;  // 5.4.7: expired
        notify.push_back({rcpt.address(), rcpt.orcpt(), status, res->error()});
        noticed.push_back(res);
      }
    } else {
      res->set_outcome(v1::OUTCOME_DEFERRED);
      res->set_retry_after_seconds(static_cast<uint32_t>(RetryDelay(rcpt.attempts() + 1, cfg_).count()));
    }
  }
  if (!notify.empty()) {
    Result<bool> queued = Fail(ErrorKind::kUnavailable, "message body unreadable");
    if (body)
      queued = co_await EnqueueFailureNotice(qc_, m.sender(), m.envid(), m.ret(), m.created_at(), notify, *body,
                                             m.id());
    if (!queued) {
      // The notice could not be kept: report nothing final, try again later.
      log::Warn("failure notice not queued", {{"queue_id", m.id()}, {"error", queued.error().message}});
      for (auto* res : noticed) {
        res->set_outcome(v1::OUTCOME_DEFERRED);
        res->set_retry_after_seconds(static_cast<uint32_t>(cfg_.retry_base.count()));
      }
    }
  }
  auto completed = co_await qc_.pool.Run([this, &done] { return qc_.queue.Complete(done); });
  if (!completed) {
    // The lease will expire and the recipients are delivered again: a duplicate, never a loss.
    log::Warn("queue complete failed", {{"queue_id", m.id()}, {"error", completed.error().message}});
  } else {
    log::Info("queue delivery", {{"queue_id", m.id()}, {"pending", std::to_string(completed->pending())}});
  }
}

}  // namespace columba::smtpd
