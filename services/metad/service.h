// service.h - the gRPC Metadata service of columba-metad (callback API).
//
// Each RPC hands its request to a bounded worker pool where PgStore runs the
// transaction; gRPC's own threads never block on PostgreSQL. When more than
// `max_queue` requests wait, new ones get UNAVAILABLE at once (back-pressure,
// never unbounded memory). Errors map to gRPC codes as documented in the proto;
// a success status is only ever returned after the transaction committed.
#pragma once

#include <atomic>
#include <memory>

#include <asio/thread_pool.hpp>
#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "columba/v1/metadata.grpc.pb.h"
#include "services/metad/watch_hub.h"
#include "storage/postgres/pg_store.h"

namespace columba::metad {

grpc::Status ToStatus(const Error& e);
// The `code` label of columba_metad_rpcs_total.
const char* CodeName(grpc::StatusCode c);
// Buckets of columba_metad_rpc_seconds.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

// Metrics of metad, declared in one place (names documented in docs/operations.md).
struct Metrics {
  explicit Metrics(prometheus::Registry& r);
  prometheus::Family<prometheus::Counter>& rpcs;         // columba_metad_rpcs_total{method,code}
  prometheus::Family<prometheus::Histogram>& latency;    // columba_metad_rpc_seconds{method}
  prometheus::Family<prometheus::Gauge>& gauges;         // columba_metad_*: queue, watchers, pg_up
  prometheus::Gauge& queue;
  prometheus::Gauge& watchers;
  prometheus::Gauge& pg_up;
  prometheus::Counter& notices;
};

class MetadataService final : public columba::v1::Metadata::CallbackService {
 public:
  MetadataService(std::shared_ptr<pg::PgStore> store, WatchHub& hub, size_t workers, size_t max_queue,
                  Metrics& metrics);
  ~MetadataService() override;

  using Ctx = grpc::CallbackServerContext;
  grpc::ServerUnaryReactor* AddDomain(Ctx*, const v1::AddDomainRequest*, v1::AddDomainResponse*) override;
  grpc::ServerUnaryReactor* ListDomains(Ctx*, const v1::ListDomainsRequest*, v1::ListDomainsResponse*) override;
  grpc::ServerUnaryReactor* EnsureAccount(Ctx*, const v1::EnsureAccountRequest*, v1::EnsureAccountResponse*) override;
  grpc::ServerUnaryReactor* GetAccount(Ctx*, const v1::GetAccountRequest*, v1::GetAccountResponse*) override;
  grpc::ServerUnaryReactor* DeleteAccount(Ctx*, const v1::DeleteAccountRequest*, v1::DeleteAccountResponse*) override;
  grpc::ServerUnaryReactor* GetQuota(Ctx*, const v1::GetQuotaRequest*, v1::GetQuotaResponse*) override;
  grpc::ServerUnaryReactor* CreateMailbox(Ctx*, const v1::CreateMailboxRequest*, v1::CreateMailboxResponse*) override;
  grpc::ServerUnaryReactor* RenameMailbox(Ctx*, const v1::RenameMailboxRequest*, v1::RenameMailboxResponse*) override;
  grpc::ServerUnaryReactor* DeleteMailbox(Ctx*, const v1::DeleteMailboxRequest*, v1::DeleteMailboxResponse*) override;
  grpc::ServerUnaryReactor* ListMailboxes(Ctx*, const v1::ListMailboxesRequest*, v1::ListMailboxesResponse*) override;
  grpc::ServerUnaryReactor* GetMailbox(Ctx*, const v1::GetMailboxRequest*, v1::GetMailboxResponse*) override;
  grpc::ServerUnaryReactor* Subscribe(Ctx*, const v1::SubscribeRequest*, v1::SubscribeResponse*) override;
  grpc::ServerUnaryReactor* Append(Ctx*, const v1::AppendRequest*, v1::AppendResponse*) override;
  grpc::ServerWriteReactor<v1::FetchResponse>* Fetch(Ctx*, const v1::FetchRequest*) override;
  grpc::ServerUnaryReactor* FetchPage(Ctx*, const v1::FetchRequest*, v1::FetchResponse*) override;
  grpc::ServerUnaryReactor* StoreFlags(Ctx*, const v1::StoreFlagsRequest*, v1::StoreFlagsResponse*) override;
  grpc::ServerUnaryReactor* CopyMessages(Ctx*, const v1::CopyMessagesRequest*, v1::CopyMessagesResponse*) override;
  grpc::ServerUnaryReactor* Expunge(Ctx*, const v1::ExpungeRequest*, v1::ExpungeResponse*) override;
  grpc::ServerUnaryReactor* Changes(Ctx*, const v1::ChangesRequest*, v1::ChangesResponse*) override;
  grpc::ServerUnaryReactor* Search(Ctx*, const v1::SearchRequest*, v1::SearchResponse*) override;
  grpc::ServerWriteReactor<v1::MailboxChange>* Watch(Ctx*, const v1::WatchRequest*) override;

  // Runs fn on the worker pool unless the queue is full; returns false when refused.
  bool Submit(std::function<void()> fn);
  pg::PgStore& store() { return *store_; }
  Metrics& metrics() { return metrics_; }
  WatchHub& hub() { return hub_; }
  void Shutdown() { pool_.join(); }

 private:
  template <class Req, class Resp, class Fn>
  grpc::ServerUnaryReactor* Unary(Ctx* ctx, const char* method, const Req* req, Resp* resp, Fn fn);

  std::shared_ptr<pg::PgStore> store_;
  WatchHub& hub_;
  asio::thread_pool pool_;
  std::atomic<size_t> pending_{0};
  size_t max_queue_;
  Metrics& metrics_;
};

}  // namespace columba::metad
