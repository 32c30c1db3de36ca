// metad_client.cc - channel setup and status mapping for metad clients.
#include "lib/rpc/metad_client.h"

namespace columba::rpc {

Error FromStatus(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: return {ErrorKind::kInvalidInput, s.error_message()};
    case grpc::StatusCode::NOT_FOUND: return {ErrorKind::kNotFound, s.error_message()};
    case grpc::StatusCode::ALREADY_EXISTS: return {ErrorKind::kAlreadyExists, s.error_message()};
    case grpc::StatusCode::FAILED_PRECONDITION: return {ErrorKind::kConflict, s.error_message()};
    case grpc::StatusCode::PERMISSION_DENIED: return {ErrorKind::kPermissionDenied, s.error_message()};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (s.error_details() == "quota") return {ErrorKind::kQuotaExceeded, s.error_message()};
      return {ErrorKind::kUnavailable, s.error_message()};
    case grpc::StatusCode::OUT_OF_RANGE: return {ErrorKind::kLimitExceeded, s.error_message()};
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
      return {ErrorKind::kUnavailable, "metad: " + s.error_message()};
    default: return {ErrorKind::kInternal, "metad: " + s.error_message()};
  }
}

std::shared_ptr<grpc::Channel> MakeMetadChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Reconnect quickly after a metad restart: deliveries wait for it. (Not
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also uses it as the connect timeout,
  // and 100 ms aborted healthy handshakes under load - "tcp handshaker shutdown".)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

MetadClient::MetadClient(const std::string& target, std::chrono::milliseconds deadline)
    : channel_(MakeMetadChannel(target)), stub_(v1::Metadata::NewStub(channel_)), deadline_(deadline) {}

}  // namespace columba::rpc
