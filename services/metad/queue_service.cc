// queue_service.cc - Queue RPC handlers: hand each request to PgQueue on the
// worker pool; see queue_service.h. Validates nothing itself (PgQueue does).
#include "services/metad/queue_service.h"

namespace columba::metad {

#define COLUMBA_QUEUE_UNARY(Name, Req, Resp)                                                              \
  grpc::ServerUnaryReactor* QueueService::Name(Ctx* ctx, const v1::Req* req, v1::Resp* resp) {            \
    return runner_.Unary(ctx, #Name, req, resp, [this](const v1::Req& r) { return queue_->Name(r); });    \
  }
COLUMBA_QUEUE_UNARY(Enqueue, EnqueueRequest, EnqueueResponse)
COLUMBA_QUEUE_UNARY(ListQueue, ListQueueRequest, ListQueueResponse)
COLUMBA_QUEUE_UNARY(GetQueued, GetQueuedRequest, QueuedMessage)
COLUMBA_QUEUE_UNARY(DeleteQueued, DeleteQueuedRequest, DeleteQueuedResponse)
COLUMBA_QUEUE_UNARY(Claim, ClaimRequest, ClaimResponse)
COLUMBA_QUEUE_UNARY(Complete, CompleteRequest, CompleteResponse)
#undef COLUMBA_QUEUE_UNARY

}  // namespace columba::metad
