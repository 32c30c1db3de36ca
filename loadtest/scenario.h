// scenario.h - the interface every columba-load subcommand implements, and the
// table that names them.
//
// A scenario owns the protocol dialogue of one session; the Run owns timing,
// pacing and counting. Adding SMTP, IMAP or POP3 load is one new file
// (scenario_<name>.cc with a Make<Name>Scenario factory) plus one row in the
// table in scenario.cc. A scenario must never connect anywhere but the endpoint
// in Options, and must report every message it starts to the Run (Delivered or
// Failed) so the counts add up.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lib/net/asio_compat.h"
#include "loadtest/options.h"
#include "loadtest/run.h"

namespace columba::loadtest {

class Scenario {
 public:
  virtual ~Scenario() = default;
  // One session, from connect to logout. Loops on run.NextMessage() until it
  // returns nullopt; reconnects after connection-level errors.
  virtual asio::awaitable<void> RunSession(Run& run, int session_id) = 0;
  // Scenario-specific report parts (e.g. the per-command table of `imap`), given
  // the measured seconds: text lines appended to the text report, and JSON object
  // members (no braces) appended to the JSON object. Empty by default.
  virtual std::string ExtraText(double elapsed_s) const { return {}; }
  virtual std::string ExtraJsonMembers(double elapsed_s) const { return {}; }
  // Called once before the sessions start (e.g. raise limits, spawn a watcher).
  virtual void Start(Run& run) {}
};

struct ScenarioInfo {
  std::string_view name;     // the subcommand
  std::string_view summary;  // one line for --help
  uint16_t default_port;     // used when neither --target nor --unix is given
  std::unique_ptr<Scenario> (*make)(const Options&);
};

std::span<const ScenarioInfo> Scenarios();
const ScenarioInfo* FindScenario(std::string_view name);

// One factory per scenario file.
std::unique_ptr<Scenario> MakeLmtpScenario(const Options& options);
std::unique_ptr<Scenario> MakeSmtpScenario(const Options& options);        // scenario_smtp.cc
std::unique_ptr<Scenario> MakeImapScenario(const Options& options);        // scenario_imap.cc
std::unique_ptr<Scenario> MakeImapIdleScenario(const Options& options);    // scenario_imap.cc
std::unique_ptr<Scenario> MakeImapNotifyScenario(const Options& options);  // scenario_imap.cc
std::unique_ptr<Scenario> MakePop3Scenario(const Options& options);        // scenario_pop3.cc

}  // namespace columba::loadtest
