// store.cc - message changes (issue 4): STORE, EXPUNGE / UID EXPUNGE, COPY, MOVE, APPEND.
//
// Placeholder handlers answer "NO [CANNOT] ... not supported yet" until each is
// implemented; the command table in commands.cc already routes to them.
#include "services/imapd/commands.h"

namespace columba::imapd {

asio::awaitable<void> CmdStore(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdExpunge(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdCopy(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdAppend(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

}  // namespace columba::imapd
