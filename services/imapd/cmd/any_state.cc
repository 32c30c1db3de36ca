// any_state.cc - CAPABILITY, LOGOUT (RFC 3501 6.1) and ID (RFC 2971):
// commands valid in every state; ENABLE (RFC 5161, authenticated state).
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

// ENABLE CONDSTORE / QRESYNC (RFC 7162 3.1, 3.2.3); other capabilities are
// ignored. "* ENABLED" lists what this command newly enabled (QRESYNC implies
// CONDSTORE without listing it). Only before a mailbox is selected (RFC 5161 3.1).
asio::awaitable<void> CmdEnable(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::EnableArgs>(cmd.args);
  if (s.selected()) co_return co_await s.Done(cmd.tag, "BAD", "ENABLE is not allowed with a mailbox selected.");
  std::string enabled = "* ENABLED";
  for (const auto& c : args.capabilities) {
    if (c == "CONDSTORE" && !s.condstore()) {
      s.EnableCondstore();
      enabled += " CONDSTORE";
    } else if (c == "QRESYNC" && !s.qresync()) {
      s.EnableQresync();
      enabled += " QRESYNC";
    } else if (c == "UTF8=ACCEPT" && !s.utf8()) {
      s.EnableUtf8();
      enabled += " UTF8=ACCEPT";
    } else if (c == "IMAP4REV2" && !s.rev2()) {
      s.EnableRev2();
      enabled += " IMAP4rev2";
    }
  }
  s.Queue(enabled + "\r\n");
  co_await s.Done(cmd.tag, "OK", "Enabled.");
}

}  // namespace columba::imapd

namespace columba::imapd {

// COMPRESS DEFLATE (RFC 4978): the OK goes out uncompressed, everything after
// it in both directions is raw DEFLATE (lib/net/deflate.h).
asio::awaitable<void> CmdCompress(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::CompressArgs>(cmd.args);
  if (s.compressed())
    co_return co_await s.Done(cmd.tag, "NO", "[COMPRESSIONACTIVE] DEFLATE is already active.");
  if (args.mechanism != "DEFLATE") co_return co_await s.Done(cmd.tag, "BAD", "Unknown compression mechanism.");
  co_await s.Done(cmd.tag, "OK", "DEFLATE active.");
  if (s.closing()) co_return;
  if (auto r = s.StartCompression(); !r) {
    s.ctx().metrics.errors.Add({{"kind", "compression"}}).Increment();
    s.Close();
  }
}

}  // namespace columba::imapd
