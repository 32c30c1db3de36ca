// parsed_fields.h - what a front-end tells metad about a message it stores:
// the ParsedFields (ENVELOPE, BODYSTRUCTURE, search fields, MIME part offsets)
// computed by one parse with lib/mail. Shared by lmtpd (delivery) and imapd
// (APPEND) so both cache exactly the same things.
//
// The part map is returned separately so a caller that prepends trace header
// lines (lmtpd) can shift it before serialising it into `part_offsets`.
#pragma once

#include <string_view>

#include "columba/v1/metadata.pb.h"
#include "lib/base/result.h"
#include "lib/imap/section.h"

namespace columba::rpc {

struct MessageFields {
  v1::ParsedFields parsed;  // part_offsets left empty
  imap::PartMap part_map;   // offsets within the parsed bytes
};

// kLimitExceeded / kInvalidInput when lib/mail refuses the message.
Result<MessageFields> ComputeMessageFields(std::string_view message);

}  // namespace columba::rpc
