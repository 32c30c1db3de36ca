// esmtp_params.h - the MAIL FROM and RCPT TO parameters of the ESMTP extensions
// Columba offers, checked and decoded: SIZE (RFC 1870), BODY (RFC 6152 8BITMIME,
// RFC 3030 BINARYMIME), SMTPUTF8 (RFC 6531), AUTH (RFC 4954 5, accepted and
// ignored), RET/ENVID and NOTIFY/ORCPT (RFC 3461 DSN).
//
// Pure: a parsed Command in, typed parameters or the reply to send out. Which
// extensions a server takes is the caller's choice (MailParamOptions); a
// parameter of an extension not offered is 555 5.5.4, as RFC 5321 4.1.1.11 asks.
// DSN values are kept as sent (ENVID/ORCPT still xtext-decoded and re-encoded
// canonically), so the outbound side can repeat them verbatim.
// NEVER
//   Never accepts a duplicate or malformed parameter, never echoes client bytes
//   other than a parameter keyword into a reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/base/result.h"
#include "lib/smtp/command.h"

namespace columba::smtp {

struct MailParamOptions {
  uint64_t max_size = 0;        // SIZE over this: 552 5.3.4
  bool smtputf8 = false;        // SMTPUTF8 offered
  bool dsn = false;             // RET / ENVID offered
  bool binarymime = false;      // BODY=BINARYMIME offered (needs CHUNKING)
  bool auth = false;            // AUTH=<mailbox> accepted (and ignored)
};

struct MailParams {
  std::optional<uint64_t> size;  // declared SIZE
  std::string body = "7BIT";     // 7BIT, 8BITMIME or BINARYMIME
  bool smtputf8 = false;
  std::string ret;               // "", "FULL" or "HDRS"
  std::string envid;             // decoded ENVID, "" when absent (at most 100 octets)
};

struct RcptParams {
  std::string notify;  // "", "NEVER", or a comma list of SUCCESS, FAILURE, DELAY (upper case)
  std::string orcpt;   // "addr-type;address" with the address decoded, "" when absent
};

// Both refusals carry the reply and whether it counts as a protocol error
// (everything but 552 over SIZE).
tl::expected<MailParams, MailParamRefusal> ParseMailParams(const Command& mail, const MailParamOptions& options);
tl::expected<RcptParams, MailParamRefusal> ParseRcptParams(const Command& rcpt, bool dsn);

}  // namespace columba::smtp
