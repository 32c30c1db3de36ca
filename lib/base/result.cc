// result.cc - names of error kinds, used in logs and metric labels.
#include "lib/base/result.h"

namespace columba {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid_input";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kAlreadyExists: return "already_exists";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kPermissionDenied: return "permission_denied";
    case ErrorKind::kQuotaExceeded: return "quota_exceeded";
    case ErrorKind::kLimitExceeded: return "limit_exceeded";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace columba
