// metad_client.h - how front-ends reach metad: a gRPC channel plus helpers that
// let asio coroutines await unary calls without blocking any thread.
//
// `co_await client.Call(&Stub::async::Append, req)` starts the call with gRPC's
// callback API and resumes the coroutine on its own executor when gRPC
// completes; the result is Result<Response> with the status mapped back to an
// ErrorKind (UNAVAILABLE/DEADLINE_EXCEEDED -> kUnavailable, RESOURCE_EXHAUSTED ->
// kQuotaExceeded, ...). Every call has a deadline, so a hung metad becomes a
// temporary failure, never a stuck session; within the deadline a call waits for
// metad to come (back) up. Blocking variants exist for the CLI.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "columba/v1/metadata.grpc.pb.h"
#include "lib/base/result.h"
#include "lib/net/asio_compat.h"

namespace columba::rpc {

Error FromStatus(const grpc::Status& s);

// A channel to metad with the reconnect settings every client uses (shared by
// MetadClient and QueueClient so one process can keep one connection).
std::shared_ptr<grpc::Channel> MakeMetadChannel(const std::string& target);

class MetadClient {
 public:
  // target: "host:port" of metad (or of a load balancer in front of replicas).
  MetadClient(const std::string& target, std::chrono::milliseconds deadline);

  v1::Metadata::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  std::chrono::milliseconds deadline() const { return deadline_; }
  // Current channel state; asks gRPC to connect when idle (for readiness probes).
  grpc_connectivity_state channel_state() { return channel_->GetState(true); }
  // False while the channel is failing to connect (for /readyz).
  bool Reachable() {
    auto s = channel_state();
    return s != GRPC_CHANNEL_TRANSIENT_FAILURE && s != GRPC_CHANNEL_SHUTDOWN;
  }

  // Awaits a unary call. `method` is a pointer to the async stub member, e.g.
  // &v1::Metadata::Stub::async::Append.
  template <class Req, class Resp>
  asio::awaitable<Result<Resp>> Call(
      void (v1::Metadata::Stub::async::*method)(grpc::ClientContext*, const Req*, Resp*, std::function<void(grpc::Status)>),
      Req req) {
    struct State {
      grpc::ClientContext ctx;
      Req req;
      Resp resp;
    };
    auto st = std::make_shared<State>();
    st->req = std::move(req);
    st->ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    // Wait (up to the deadline) for metad to be reachable instead of failing fast
    // while the channel reconnects after a metad restart.
    st->ctx.set_wait_for_ready(true);
    auto* async = stub_->async();
    grpc::Status status = co_await asio::async_initiate<decltype(asio::use_awaitable), void(grpc::Status)>(
        [&](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          (async->*method)(&st->ctx, &st->req, &st->resp, [h, ex, st](grpc::Status s) {
            asio::post(ex, [h, s]() mutable { (*h)(s); });
          });
        },
        asio::use_awaitable);
    if (!status.ok()) co_return tl::unexpected(FromStatus(status));
    co_return std::move(st->resp);
  }

  // Blocking unary call (CLI and tests only; never on an event loop).
  template <class Req, class Resp>
  Result<Resp> CallSync(grpc::Status (v1::Metadata::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                        const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    Resp resp;
    grpc::Status s = ((*stub_).*method)(&ctx, req, &resp);
    if (!s.ok()) return tl::unexpected(FromStatus(s));
    return resp;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Metadata::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace columba::rpc
