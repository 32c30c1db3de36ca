// any_state.cc - CAPABILITY, LOGOUT (RFC 3501 6.1) and ID (RFC 2971):
// commands valid in every state.
//
// NEVER
//   ID never logs or echoes the client's values beyond a bounded summary.
#include "lib/base/log.h"
#include "services/imapd/commands.h"

namespace columba::imapd {

asio::awaitable<void> CmdCapability(Session& s, const imap::Command& cmd) {
  s.Queue("* CAPABILITY " + s.Capabilities() + "\r\n");
  co_await s.Done(cmd.tag, "OK", "Capability completed.");
}

asio::awaitable<void> CmdLogout(Session& s, const imap::Command& cmd) {
  s.Queue("* BYE Logging out.\r\n");
  co_await s.Done(cmd.tag, "OK", "Logout completed.");
  s.Close();
}

asio::awaitable<void> CmdId(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::IdArgs>(cmd.args);
  if (args.params) {
    std::string name;
    for (const auto& [k, v] : *args.params)
      if ((k == "name" || k == "NAME") && v) name = v->substr(0, 64);
    log::Debug("client id", {{"peer", s.peer_ip()}, {"name", name}});
  }
  s.Queue("* ID (\"name\" \"Columba\")\r\n");
  co_await s.Done(cmd.tag, "OK", "ID completed.");
}

}  // namespace columba::imapd
