// fuzz_command.cc - libFuzzer target for pop3::ParseCommand (command.h).
//
// Checks invariants, abort()ing on a violation: an error is kInvalidInput with a
// message that formats to one -ERR line; a parsed command's fields respect the
// verb's rules (message numbers in range, names bounded, no CR/LF anywhere).
// Never does I/O beyond what libFuzzer gives it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/pop3/command.h"
#include "lib/pop3/response.h"

using namespace columba;
using namespace columba::pop3;

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}
bool Clean(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto cmd = ParseCommand(line);
  if (!cmd) {
    Check(cmd.error().kind == ErrorKind::kInvalidInput);
    std::string err = FormatErr("", cmd.error().message);
    Check(err.size() <= kMaxResponseLine && err.find('\n') == err.size() - 1);
    return 0;
  }
  Check(cmd->keyword.size() >= 1 && cmd->keyword.size() <= 4);
  Check(Clean(cmd->name) && Clean(cmd->secret) && Clean(cmd->initial.value_or("")));
  if (cmd->msg) Check(*cmd->msg >= 1 && *cmd->msg <= 0x7fffffffu);
  Check(cmd->lines <= 0x7fffffffu);
  Check(cmd->name.size() <= kMaxName);
  switch (cmd->verb) {
    case Verb::kRetr:
    case Verb::kDele:
    case Verb::kTop: Check(cmd->msg.has_value()); break;
    case Verb::kApop: Check(cmd->secret.size() == 32); break;
    case Verb::kPass: Check(!cmd->secret.empty()); break;
    case Verb::kUser: Check(!cmd->name.empty()); break;
    default: break;
  }
  Check(std::string_view(VerbName(cmd->verb)).size() >= 3);
  return 0;
}
