// search.cc - SEARCH (issue 4): RFC 3501 keys evaluated by metad, ESEARCH.
//
// Placeholder handlers answer "NO [CANNOT] ... not supported yet" until each is
// implemented; the command table in commands.cc already routes to them.
#include "services/imapd/commands.h"

namespace columba::imapd {

asio::awaitable<void> CmdSearch(Session& s, const imap::Command& cmd) {
  co_await s.Done(cmd.tag, "NO", "[CANNOT] " + std::string(cmd.uid ? "UID " : "") + cmd.name + " is not supported yet.");
}

}  // namespace columba::imapd
