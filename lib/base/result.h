// result.h - the project's error type and Result<T> (tl::expected).
//
// Errors are classified by kind (STYLE habit 6) so each protocol maps them to
// its own reply: kInvalidInput -> 5xx / BAD, kUnavailable -> 4xx / NO [UNAVAILABLE],
// kQuotaExceeded -> 552 5.2.2 / NO [OVERQUOTA], and so on. Functions return values,
// never out-parameters. Programmer bugs are asserts, not Errors.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace columba {

enum class ErrorKind {
  kInvalidInput,      // the caller sent something malformed; retrying will not help
  kNotFound,          // the named thing does not exist
  kAlreadyExists,     // create of something that exists
  kConflict,          // a precondition (e.g. UNCHANGEDSINCE) failed
  kPermissionDenied,  // authenticated but not allowed
  kQuotaExceeded,     // storage or message-count quota would be exceeded
  kLimitExceeded,     // a configured size/count limit was crossed
  kUnavailable,       // a dependency is down or timed out; retry later
  kInternal,          // anything else; treated as temporary by protocol code
};

const char* ErrorKindName(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;

  bool Temporary() const { return kind == ErrorKind::kUnavailable || kind == ErrorKind::kInternal; }
};

template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> Fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message)});
}

}  // namespace columba
