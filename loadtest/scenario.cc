// scenario.cc - the table of columba-load scenarios (one row per subcommand).
//
// Only names and factories live here; never protocol code.
#include "loadtest/scenario.h"

#include <array>

namespace columba::loadtest {

namespace {

const std::array<ScenarioInfo, 6> kScenarios = {{
    {"lmtp", "deliver messages over LMTP (RFC 2033), one reply per recipient", 2424, &MakeLmtpScenario},
    {"smtp", "send messages to local recipients over SMTP (RFC 5321), reconnecting every N messages", 2525,
     &MakeSmtpScenario},
    {"imap", "IMAP sessions running a weighted mix of commands after LOGIN and SELECT", 2143, &MakeImapScenario},
    {"imap-idle", "many IMAP connections logged in and selected, held idle", 2143, &MakeImapIdleScenario},
    {"imap-notify", "LMTP delivery to an IDLEing IMAP session: time from 250 to EXISTS", 2143,
     &MakeImapNotifyScenario},
    {"pop3", "POP3 sessions: USER/PASS, STAT, UIDL, RETR of every message, QUIT (sessions/s)", 2110,
     &MakePop3Scenario},
}};

}  // namespace

std::span<const ScenarioInfo> Scenarios() { return kScenarios; }

const ScenarioInfo* FindScenario(std::string_view name) {
  for (const auto& s : kScenarios) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace columba::loadtest
