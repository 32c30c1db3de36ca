// lmtp_handoff.h - smtpd's LMTP client: one message, its recipients, to lmtpd
// (RFC 2033), and each recipient's final reply.
//
// DESCRIPTION
//   Takes an idle connection to lmtpd (host:port) from a per-process pool, or
//   connects and sends LHLO; then, pipelined (RFC 2920), MAIL FROM (with
//   SMTPUTF8 when the message needs it), one RCPT per recipient and DATA;
//   then the dot-stuffed message and one reply per recipient lmtpd accepted.
//   A recipient refused at RCPT keeps that reply. A pooled connection that
//   turns out dead before lmtpd answered MAIL is replaced by a fresh one (no
//   byte of the message was sent). After a clean transaction the connection
//   goes back to the pool (at most 64 idle, reused within 30 s). Everything is
//   bounded by `timeout`.
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
