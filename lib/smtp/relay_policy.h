// relay_policy.h - whether a recipient may be accepted: the one place that
// decides relaying (DESIGN invariant 6: no open relay, ever).
//
// DESCRIPTION
//   DecideRelay() takes what the SMTP session knows of its client and one
//   parsed RCPT TO path whose domain the caller has classified from the
//   directory (local, relay-for, other; `<postmaster>`, which has no domain,
//   is local), and answers accept (with the reason)
//   or refuse (with the reply). Pure: no I/O; the session looks up trusted
//   networks (after PROXY), SMTP AUTH, the POP-before-SMTP record (Redis) and
//   the TLS client certificate before asking.
//
//   The order, as Postfix's smtpd_relay_restrictions with
//   permit_mynetworks, permit_sasl_authenticated, POP-before-SMTP, permit_tls
//   clientcerts, reject_unauth_destination:
//     1. a path that routes elsewhere (RoutesElsewhere) is a relay attempt
//        whatever its domain: only a client allowed to relay may use it;
//     2. a local domain is delivered here, for anyone (unknown users are the
//        directory's 550 5.1.1, not this);
//     3. a domain this server relays for (backup MX) is accepted from anyone;
//     4. any other domain needs one of: trusted network, AUTH, a fresh
//        POP-before-SMTP record, a trusted client certificate.
//   Refusals are "554 5.7.1 Relay access denied", never echoing the address.
//
// NEVER
//   Never accepts a remote recipient for a client with none of the four
//   grants; never treats a routed local part ('%', '!', '@') or a source
//   route as local.
#pragma once

#include <string>
#include <string_view>

#include "lib/smtp/command.h"
#include "lib/smtp/reply.h"

namespace columba::smtp {

// How the directory classifies the recipient's domain.
enum class DomainClass {
  kLocal,  // a local domain: mailboxes here
  kRelay,  // a domain this server accepts to pass on (backup MX, relay_domains)
  kOther,  // anything else: the Internet
};

// What the session knows of its client when a RCPT arrives.
struct RelayClient {
  bool trusted_network = false;      // the client IP (after PROXY) is in trusted_networks
  bool authenticated = false;        // SMTP AUTH succeeded in this session
  bool pop_before_smtp = false;      // a fresh POP-before-SMTP record names the client IP
  bool trusted_client_cert = false;  // a TLS client certificate verified and is listed
};

enum class RelayVerdict {
  kLocal,             // delivered here
  kRelayDomain,       // accepted for a domain this server relays for
  kTrustedNetwork,    // relayed: client in trusted_networks
  kAuthenticated,     // relayed: SMTP AUTH
  kPopBeforeSmtp,     // relayed: POP-before-SMTP record
  kClientCertificate, // relayed: trusted TLS client certificate
  kRefused,           // 554 5.7.1
};

struct RelayDecision {
  RelayVerdict verdict = RelayVerdict::kRefused;
  bool accepted() const { return verdict != RelayVerdict::kRefused; }
  // Leaves the local domains (goes to the outbound queue).
  bool relayed() const { return accepted() && verdict != RelayVerdict::kLocal; }
  // "local", "relay_domain", "trusted_network", ... for logs and metric labels.
  std::string_view reason() const;
  // 250 2.1.5 when accepted, else 554 5.7.1 Relay access denied.
  Reply reply() const;
};

// True when the path names a mailbox somewhere else than its domain says: a
// source route (<@a:u@b>), or a local part with '%' (u%remote@here), '!'
// (remote!u@here) or '@' ("u@remote"@here). Some servers forward such
// addresses; this one treats them as relaying (Postfix: allow_untrusted_routing = no).
bool RoutesElsewhere(const Path& rcpt);

RelayDecision DecideRelay(const RelayClient& client, const Path& rcpt, DomainClass domain);

}  // namespace columba::smtp
