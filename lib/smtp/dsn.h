// dsn.h - delivery status notifications (RFC 3464) for recipients that failed
// permanently after the message was accepted: the bounce a sender gets back.
//
// NAME
//   WantsFailureNotice, BuildFailureNotice
// DESCRIPTION
//   Pure: envelope facts in, one RFC 5322 message out (multipart/report;
//   report-type=delivery-status, RFC 6522): a human-readable part, the
//   message/delivery-status part (Reporting-MTA, Original-Envelope-Id,
//   Arrival-Date; per recipient Original-Recipient, Final-Recipient, Action:
//   failed, Status, Diagnostic-Code), and the returned message: headers only
//   (text/rfc822-headers) when RET=HDRS or the message is larger than
//   `max_returned`, else the whole message (message/rfc822).
//   The notice goes from the null reverse-path `<>` (RFC 5321 4.5.5), so it can
//   never cause a bounce of its own.
// NEVER
//   Never builds a notice for the null sender or for a recipient whose NOTIFY
//   excludes FAILURE (WantsFailureNotice); never copies a line ending other than
//   CRLF into the notice.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace columba::smtp {

struct FailedRecipient {
  std::string address;      // the final recipient
  std::string orcpt;        // DSN ORCPT as kept ("rfc822;a@b"), "" when none
  std::string status;       // enhanced status, e.g. "5.2.2"
  std::string diagnostic;   // the remote reply, e.g. "552 5.2.2 Mailbox full"
};

struct FailureNotice {
  std::string reporting_mta;   // this host's name
  std::string sender;          // the original reverse-path (never empty here)
  std::string envid;           // DSN ENVID, "" when none
  std::string ret;             // "", "FULL" or "HDRS"
  std::time_t arrival = 0;     // when the message was accepted
  std::vector<FailedRecipient> recipients;
  std::string_view message;    // the original message (CRLF line ends)
  size_t max_returned = 256 * 1024;  // larger messages come back as headers only
  std::string boundary_seed;   // makes the MIME boundary unique (e.g. a queue id)
};

// RFC 3461 4.1: a failure notice goes out unless the sender is null or NOTIFY
// was given without FAILURE (NEVER, or only SUCCESS/DELAY).
bool WantsFailureNotice(std::string_view sender, std::string_view notify);

// The whole notice, headers (From MAILER-DAEMON, To the sender, Subject, Date,
// Message-ID, MIME) included, CRLF line ends.
std::string BuildFailureNotice(const FailureNotice& n);

}  // namespace columba::smtp
