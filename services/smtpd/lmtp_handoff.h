// lmtp_handoff.h - smtpd's LMTP client: one message, its recipients, to lmtpd
// (RFC 2033), and each recipient's final reply.
//
// DESCRIPTION
//   Connects to lmtpd (host:port), LHLO, MAIL FROM, one RCPT per recipient,
//   (with SMTPUTF8 when the message needs it), DATA with the dot-stuffed message, then reads one reply per recipient
//   lmtpd accepted at RCPT. A recipient refused at RCPT keeps that reply.
//   Everything is bounded by `timeout`.
//
// DIAGNOSTICS
//   A connection, protocol or timeout failure gives every recipient
//   "451 4.4.1": lmtpd may not have committed anything, and a 250 is only
//   ever what lmtpd said after its commit.
// NEVER
//   Never reports 250 for a recipient lmtpd did not answer 250 after DATA.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lib/net/asio_compat.h"
#include "lib/smtp/reply.h"

namespace columba::smtpd {

asio::awaitable<std::vector<smtp::Reply>> HandOffToLmtp(const std::string& host, uint16_t port,
                                                        const std::string& lhlo_name, const std::string& sender,
                                                        const std::vector<std::string>& recipients,
                                                        const std::string& message, std::chrono::milliseconds timeout,
                                                        bool smtputf8 = false);

}  // namespace columba::smtpd
