// service.cc - RPC handlers: validate nothing here that PgStore validates, run the
// transaction on a worker, map the result to a gRPC status, record metrics.
#include "services/metad/service.h"

#include <asio/post.hpp>

#include <chrono>
#include <deque>

#include "lib/base/log.h"

namespace columba::metad {

namespace v1 = ::columba::v1;

grpc::Status ToStatus(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kInvalidInput: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case ErrorKind::kNotFound: return {grpc::StatusCode::NOT_FOUND, e.message};
    case ErrorKind::kAlreadyExists: return {grpc::StatusCode::ALREADY_EXISTS, e.message};
    case ErrorKind::kConflict: return {grpc::StatusCode::FAILED_PRECONDITION, e.message};
    case ErrorKind::kPermissionDenied: return {grpc::StatusCode::PERMISSION_DENIED, e.message};
    case ErrorKind::kQuotaExceeded: return {grpc::StatusCode::RESOURCE_EXHAUSTED, e.message, "quota"};
    case ErrorKind::kLimitExceeded: return {grpc::StatusCode::OUT_OF_RANGE, e.message};
    case ErrorKind::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, e.message};
    case ErrorKind::kInternal: return {grpc::StatusCode::INTERNAL, e.message};
  }
  return {grpc::StatusCode::INTERNAL, e.message};
}

const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    default: return "INTERNAL";
  }
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
  return kBuckets;
}


Metrics::Metrics(prometheus::Registry& r)
    : rpcs(prometheus::BuildCounter().Name("columba_metad_rpcs_total").Help("RPCs handled, by method and status code").Register(r)),
      latency(prometheus::BuildHistogram().Name("columba_metad_rpc_seconds").Help("RPC latency including queueing, by method").Register(r)),
      gauges(prometheus::BuildGauge().Name("columba_metad_state").Help("metad state: queue (waiting requests), watchers (open Watch streams), pg_up (1 when PostgreSQL answers)").Register(r)),
      queue(gauges.Add({{"what", "queue"}})),
      watchers(gauges.Add({{"what", "watchers"}})),
      pg_up(gauges.Add({{"what", "pg_up"}})),
      notices(prometheus::BuildCounter().Name("columba_metad_change_notices_total").Help("Change notices received over LISTEN").Register(r).Add({})) {}

MetadataService::MetadataService(std::shared_ptr<pg::PgStore> store, WatchHub& hub, size_t workers, size_t max_queue,
                                 Metrics& metrics)
    : store_(std::move(store)), hub_(hub), pool_(workers), max_queue_(max_queue), metrics_(metrics) {}

MetadataService::~MetadataService() { pool_.join(); }

bool MetadataService::Submit(std::function<void()> fn) {
  if (pending_.fetch_add(1) >= max_queue_) {
    pending_.fetch_sub(1);
    return false;
  }
  metrics_.queue.Set(static_cast<double>(pending_.load()));
  asio::post(pool_, [this, fn = std::move(fn)] {
    fn();
    metrics_.queue.Set(static_cast<double>(pending_.fetch_sub(1) - 1));
  });
  return true;
}

#define COLUMBA_UNARY(Name)                                                                              \
  grpc::ServerUnaryReactor* MetadataService::Name(Ctx* ctx, const v1::Name##Request* req,                \
                                                  v1::Name##Response* resp) {                            \
    return Unary(ctx, #Name, req, resp, [this](const v1::Name##Request& r) { return store_->Name(r); }); \
  }
COLUMBA_UNARY(AddDomain)
COLUMBA_UNARY(ListDomains)
COLUMBA_UNARY(EnsureAccount)
COLUMBA_UNARY(GetAccount)
COLUMBA_UNARY(DeleteAccount)
COLUMBA_UNARY(GetQuota)
COLUMBA_UNARY(CreateMailbox)
COLUMBA_UNARY(RenameMailbox)
COLUMBA_UNARY(DeleteMailbox)
COLUMBA_UNARY(ListMailboxes)
COLUMBA_UNARY(GetMailbox)
COLUMBA_UNARY(Subscribe)
COLUMBA_UNARY(Append)
COLUMBA_UNARY(StoreFlags)
COLUMBA_UNARY(CopyMessages)
COLUMBA_UNARY(Expunge)
COLUMBA_UNARY(Changes)
COLUMBA_UNARY(Search)
#undef COLUMBA_UNARY

// One page, unary: the common small FETCH (a few UIDs) without a stream's extra
// round trips; the caller streams the rest with Fetch(after_uid) when `more`.
grpc::ServerUnaryReactor* MetadataService::FetchPage(Ctx* ctx, const v1::FetchRequest* req, v1::FetchResponse* resp) {
  return Unary(ctx, "FetchPage", req, resp, [this](const v1::FetchRequest& r) -> Result<v1::FetchResponse> {
    v1::FetchRequest page = r;
    page.set_page_size(r.page_size() == 0 ? 1000 : std::min<uint32_t>(r.page_size(), 1000));
    auto out = store_->FetchPage(page, r.after_uid());
    if (out) out->set_more(static_cast<uint32_t>(out->messages_size()) == page.page_size());
    return out;
  });
}

// ------------------------------------------------------------ Fetch: paged stream

namespace {

class FetchReactor : public grpc::ServerWriteReactor<v1::FetchResponse> {
 public:
  FetchReactor(MetadataService& svc, const v1::FetchRequest* req) : svc_(svc), req_(*req) {
    page_size_ = req_.page_size() == 0 ? 1000 : std::min<uint32_t>(req_.page_size(), 10000);
    req_.set_page_size(page_size_);
    after_ = req_.after_uid();
    NextPage();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    if (last_) return Finish(grpc::Status::OK);
    NextPage();
  }
  void OnDone() override { delete this; }

 private:
  void NextPage() {
    bool ok = svc_.Submit([this] {
      auto r = svc_.store().FetchPage(req_, after_);
      if (!r) {
        auto st = ToStatus(r.error());
        svc_.metrics().rpcs.Add({{"method", "Fetch"}, {"code", CodeName(st.error_code())}}).Increment();
        return Finish(st);
      }
      page_ = std::move(*r);
      int n = page_.messages_size();
      if (n == 0 || static_cast<uint32_t>(n) < page_size_)
        svc_.metrics().rpcs.Add({{"method", "Fetch"}, {"code", "OK"}}).Increment();  // once per stream
      if (n == 0) return Finish(grpc::Status::OK);
      after_ = page_.messages(n - 1).uid();
      last_ = static_cast<uint32_t>(n) < page_size_;
      StartWrite(&page_);
    });
    if (!ok) Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "metad overloaded"));
  }
  MetadataService& svc_;
  v1::FetchRequest req_;
  v1::FetchResponse page_;
  uint32_t page_size_;
  uint32_t after_ = 0;
  bool last_ = false;
};

// ------------------------------------------------------------ Watch: pushed changes

class WatchReactor : public grpc::ServerWriteReactor<v1::MailboxChange>, public WatchSink {
 public:
  WatchReactor(MetadataService& svc, const v1::WatchRequest* req) : svc_(svc), account_(req->account_id()) {
    for (auto id : req->mailbox_ids()) filter_.insert(id);
    svc_.metrics().watchers.Increment();
    v1::MailboxChange ready;
    ready.set_ready(true);
    {
      std::lock_guard lk(mu_);
      queue_.push_back(ready);
      writing_ = true;
      current_ = queue_.front();
    }
    svc_.hub().Subscribe(account_, this);
    StartWrite(&current_);
  }

  void Push(const pg::ChangeNotice& n) override {
    if (n.mailbox_id != 0 && !filter_.empty() && !filter_.count(n.mailbox_id) && !n.list_changed) return;
    std::lock_guard lk(mu_);
    if (finished_) return;
    // Coalesce: a newer notice for the same mailbox replaces a queued older one.
    for (auto& q : queue_) {
      if (&q != &queue_.front() && q.mailbox_id() == n.mailbox_id) {
        if (n.highestmodseq >= q.highestmodseq()) {
          q.set_highestmodseq(n.highestmodseq);
          q.set_uidnext(n.uidnext);
        }
        q.set_mailbox_list_changed(q.mailbox_list_changed() || n.list_changed);
        return;
      }
    }
    if (queue_.size() >= 1024) {
      // A client that stopped reading: keep memory bounded by collapsing what is
      // queued into one "resync everything" change (mailbox_id 0).
      while (queue_.size() > 1) queue_.pop_back();
      v1::MailboxChange resync;
      resync.set_mailbox_list_changed(true);
      queue_.push_back(std::move(resync));
      return;
    }
    v1::MailboxChange c;
    c.set_mailbox_id(n.mailbox_id);
    c.set_highestmodseq(n.highestmodseq);
    c.set_uidnext(n.uidnext);
    c.set_mailbox_list_changed(n.list_changed);
    queue_.push_back(std::move(c));
    if (!writing_) {
      writing_ = true;
      current_ = queue_.front();
      StartWrite(&current_);
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lk(mu_);
    if (!queue_.empty()) queue_.pop_front();
    if (finished_pending_) {
      writing_ = false;
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "metad is shutting down"));
      return;
    }
    if (!ok || finished_) {
      writing_ = false;
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    current_ = queue_.front();
    StartWrite(&current_);
  }

  void OnCancel() override {
    std::lock_guard lk(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void Close() override {
    std::lock_guard lk(mu_);
    if (writing_) {
      finished_pending_ = true;  // OnWriteDone finishes once the write in flight completes
      return;
    }
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "metad is shutting down"));
  }

  void OnDone() override {
    svc_.hub().Unsubscribe(account_, this);
    svc_.metrics().watchers.Decrement();
    delete this;
  }

 private:
  void FinishLocked(grpc::Status st) {
    if (finished_) return;
    finished_ = true;
    Finish(st);
  }
  MetadataService& svc_;
  uint64_t account_;
  std::set<uint64_t> filter_;
  std::mutex mu_;
  std::deque<v1::MailboxChange> queue_;
  v1::MailboxChange current_;
  bool writing_ = false;
  bool finished_ = false;
  bool finished_pending_ = false;
};

}  // namespace

grpc::ServerWriteReactor<v1::FetchResponse>* MetadataService::Fetch(Ctx*, const v1::FetchRequest* req) {
  return new FetchReactor(*this, req);
}

grpc::ServerWriteReactor<v1::MailboxChange>* MetadataService::Watch(Ctx*, const v1::WatchRequest* req) {
  return new WatchReactor(*this, req);
}

}  // namespace columba::metad
