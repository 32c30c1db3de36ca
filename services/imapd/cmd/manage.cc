// manage.cc - mailbox management (issue 4): CREATE (CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, NAMESPACE.
//
// Placeholder handlers answer "NO [CANNOT] ... not supported yet" until each is
// implemented; the command table in commands.cc already routes to them.
#include "services/imapd/commands.h"

namespace columba::imapd {

asio::awaitable<void> CmdCreate(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdDelete(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdRename(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdSubscribe(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdStatus(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

asio::awaitable<void> CmdNamespace(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

}  // namespace columba::imapd
