// commands.cc - the command table of this slice (see README.md for what is missing).
#include "services/imapd/commands.h"

#include <array>

namespace columba::imapd {

namespace {
// name, needs_auth, not_authenticated_only, needs_selected, uid_allowed, handler
constexpr std::array kCommands = {
    CommandSpec{"CAPABILITY", false, false, false, false, CmdCapability},
    CommandSpec{"NOOP", false, false, false, false, CmdNoop},
    CommandSpec{"LOGOUT", false, false, false, false, CmdLogout},
    CommandSpec{"ID", false, false, false, false, CmdId},
    CommandSpec{"STARTTLS", false, true, false, false, CmdStartTls},
    CommandSpec{"LOGIN", false, true, false, false, CmdLogin},
    CommandSpec{"AUTHENTICATE", false, true, false, false, CmdAuthenticate},
    CommandSpec{"LIST", true, false, false, false, CmdList},
    CommandSpec{"LSUB", true, false, false, false, CmdList},
    CommandSpec{"SELECT", true, false, false, false, CmdSelect},
    CommandSpec{"EXAMINE", true, false, false, false, CmdSelect},
    CommandSpec{"UNSELECT", true, false, true, false, CmdUnselect},
    CommandSpec{"CLOSE", true, false, true, false, CmdUnselect},
    CommandSpec{"FETCH", true, false, true, true, CmdFetch},
    CommandSpec{"CREATE", true, false, false, false, CmdCreate},
    CommandSpec{"DELETE", true, false, false, false, CmdDelete},
    CommandSpec{"RENAME", true, false, false, false, CmdRename},
    CommandSpec{"SUBSCRIBE", true, false, false, false, CmdSubscribe},
    CommandSpec{"UNSUBSCRIBE", true, false, false, false, CmdSubscribe},
    CommandSpec{"STATUS", true, false, false, false, CmdStatus},
    CommandSpec{"GETQUOTA", true, false, false, false, CmdGetQuota},
    CommandSpec{"GETQUOTAROOT", true, false, false, false, CmdGetQuotaRoot},
    CommandSpec{"NAMESPACE", true, false, false, false, CmdNamespace},
    CommandSpec{"STORE", true, false, true, true, CmdStore},
    CommandSpec{"EXPUNGE", true, false, true, true, CmdExpunge},
    CommandSpec{"COPY", true, false, true, true, CmdCopy},
    CommandSpec{"MOVE", true, false, true, true, CmdCopy},
    CommandSpec{"APPEND", true, false, false, false, CmdAppend},
    CommandSpec{"SEARCH", true, false, true, true, CmdSearch},
    CommandSpec{"CHECK", true, false, true, false, CmdNoop},
    CommandSpec{"IDLE", true, false, false, false, CmdIdle},
    CommandSpec{"ENABLE", true, false, false, false, CmdEnable},
    CommandSpec{"COMPRESS", true, false, false, false, CmdCompress},
    CommandSpec{"SORT", true, false, true, true, CmdSort},
    CommandSpec{"THREAD", true, false, true, true, CmdThread},
};
}  // namespace

const CommandSpec* FindCommand(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace columba::imapd
