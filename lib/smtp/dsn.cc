// dsn.cc - RFC 3464 failure notices (dsn.h).
#include "lib/smtp/dsn.h"

#include <functional>

#include "lib/smtp/reply.h"

namespace columba::smtp {

namespace {

std::string RfcDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// One header or field value on one line: controls (CR, LF included) become spaces.
std::string OneLine(std::string_view v) { return SanitizeReplyText(v); }

// The header block of `message` (up to the first empty line), CRLF-terminated.
std::string_view HeaderBlock(std::string_view message) {
  size_t end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

}  // namespace

bool WantsFailureNotice(std::string_view sender, std::string_view notify) {
  if (sender.empty()) return false;
  if (notify.empty()) return true;  // RFC 3461 4.1: default is FAILURE (and DELAY)
  return notify.find("FAILURE") != std::string_view::npos;
}

std::string BuildFailureNotice(const FailureNotice& n) {
  const std::string host = OneLine(n.reporting_mta);
  const std::string boundary =
      "=_columba_dsn_" + std::to_string(std::hash<std::string>{}(n.boundary_seed + n.sender)) + "_" +
      std::to_string(n.arrival);
  const bool headers_only = n.ret == "HDRS" || n.message.size() > n.max_returned;
  std::string out;
  out += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">\r\n";
  out += "To: <" + OneLine(n.sender) + ">\r\n";
  out += "Subject: Undelivered Mail Returned to Sender\r\n";
  out += "Date: " + RfcDate(std::time(nullptr)) + "\r\n";
  out += "Message-ID: <dsn." + boundary.substr(14) + "@" + host + ">\r\n";
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  out += "\r\nThis is a MIME-encapsulated delivery status notification.\r\n";

  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  out += "This is the mail system at host " + host + ".\r\n\r\n";
  out += "Your message could not be delivered to one or more recipients.\r\n";
  out += "It is attached below. The recipients and the reasons:\r\n\r\n";
  for (const auto& r : n.recipients) out += "<" + OneLine(r.address) + ">: " + OneLine(r.diagnostic) + "\r\n";

  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: message/delivery-status\r\n\r\n";
  out += "Reporting-MTA: dns; " + host + "\r\n";
  if (!n.envid.empty()) out += "Original-Envelope-Id: " + OneLine(n.envid) + "\r\n";
  out += "Arrival-Date: " + RfcDate(n.arrival) + "\r\n";
  for (const auto& r : n.recipients) {
    out += "\r\n";
    if (!r.orcpt.empty()) out += "Original-Recipient: " + OneLine(r.orcpt) + "\r\n";
    out += "Final-Recipient: rfc822; " + OneLine(r.address) + "\r\n";
    out += "Action: failed\r\n";
    out += "Status: " + OneLine(r.status.empty() ? "5.0.0" : r.status) + "\r\n";
    if (!r.diagnostic.empty()) out += "Diagnostic-Code: smtp; " + OneLine(r.diagnostic) + "\r\n";
  }

  out += "\r\n--" + boundary + "\r\n";
  if (headers_only) {
    out += "Content-Type: text/rfc822-headers\r\n\r\n";
    out += HeaderBlock(n.message);
  } else {
    out += "Content-Type: message/rfc822\r\n\r\n";
    out += n.message;
    if (n.message.size() < 2 || n.message.substr(n.message.size() - 2) != "\r\n") out += "\r\n";
  }
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace columba::smtp
