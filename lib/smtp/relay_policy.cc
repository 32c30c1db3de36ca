// relay_policy.cc - DecideRelay and RoutesElsewhere (relay_policy.h).
#include "lib/smtp/relay_policy.h"

namespace columba::smtp {

std::string_view RelayDecision::reason() const {
  switch (verdict) {
    case RelayVerdict::kLocal: return "local";
    case RelayVerdict::kRelayDomain: return "relay_domain";
    case RelayVerdict::kTrustedNetwork: return "trusted_network";
    case RelayVerdict::kAuthenticated: return "authenticated";
    case RelayVerdict::kPopBeforeSmtp: return "pop_before_smtp";
    case RelayVerdict::kClientCertificate: return "client_certificate";
    case RelayVerdict::kRefused: return "refused";
  }
  return "refused";
}

Reply RelayDecision::reply() const {
  if (accepted()) return Reply{250, "2.1.5", "Ok"};
  return Reply{554, "5.7.1", "Relay access denied"};
}

bool RoutesElsewhere(const Path& rcpt) {
  if (!rcpt.source_route.empty()) return true;
  return rcpt.local_part.find_first_of("%!@") != std::string::npos;
}

RelayDecision DecideRelay(const RelayClient& client, const Path& rcpt, DomainClass domain) {
  // The grants that let a client send anywhere, strongest evidence first.
  auto granted = [&]() -> RelayDecision {
    if (client.trusted_network) return {RelayVerdict::kTrustedNetwork};
    if (client.authenticated) return {RelayVerdict::kAuthenticated};
    if (client.pop_before_smtp) return {RelayVerdict::kPopBeforeSmtp};
    if (client.trusted_client_cert) return {RelayVerdict::kClientCertificate};
    return {RelayVerdict::kRefused};
  };
  if (RoutesElsewhere(rcpt)) return granted();
  switch (domain) {
    case DomainClass::kLocal: return {RelayVerdict::kLocal};
    case DomainClass::kRelay: return {RelayVerdict::kRelayDomain};
    case DomainClass::kOther: return granted();
  }
  return {RelayVerdict::kRefused};
}

}  // namespace columba::smtp
