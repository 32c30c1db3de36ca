// scenario.cc - the table of columba-load scenarios (one row per subcommand).
//
// Only names and factories live here; never protocol code.
#include "loadtest/scenario.h"

#include <array>

namespace columba::loadtest {

namespace {

const std::array<ScenarioInfo, 1> kScenarios = {{
    {"lmtp", "deliver messages over LMTP (RFC 2033), one reply per recipient", 2424, &MakeLmtpScenario},
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
