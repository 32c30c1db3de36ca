// commands.cc - the command table (commands.h).
// NEVER lists a TRANSACTION command for AUTHORIZATION or the other way round.
#include "services/pop3d/commands.h"

#include <array>

namespace columba::pop3d {

namespace {
using V = pop3::Verb;
constexpr unsigned kAny = kAuthorization | kTransaction;
const std::array<CommandSpec, 15> kCommands{{
    {V::kCapa, kAny, CmdCapa},           {V::kQuit, kAny, CmdQuit},
    {V::kStls, kAuthorization, CmdStls}, {V::kUser, kAuthorization, CmdUser},
    {V::kPass, kAuthorization, CmdPass}, {V::kApop, kAuthorization, CmdApop},
    {V::kAuth, kAuthorization, CmdAuth}, {V::kStat, kTransaction, CmdStat},
    {V::kList, kTransaction, CmdList},   {V::kUidl, kTransaction, CmdUidl},
    {V::kRetr, kTransaction, CmdRetr},   {V::kTop, kTransaction, CmdTop},
    {V::kDele, kTransaction, CmdDele},   {V::kRset, kTransaction, CmdRset},
    {V::kNoop, kTransaction, CmdNoop},
}};
}  // namespace

const CommandSpec* FindCommand(pop3::Verb verb) {
  for (const auto& c : kCommands)
    if (c.verb == verb) return &c;
  return nullptr;
}

}  // namespace columba::pop3d
