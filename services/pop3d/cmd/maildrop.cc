// maildrop.cc - the TRANSACTION state's bookkeeping commands: STAT, LIST,
// UIDL (RFC 1939 5, 7), DELE, RSET, NOOP. They read the session's snapshot
// only (no metad call): message numbers and sizes are fixed for the session.
//
// NEVER
//   DELE never writes anything (the deletion happens in UPDATE, after QUIT);
//   a deleted message is never listed or numbered again in the session.
#include "services/pop3d/commands.h"

namespace columba::pop3d {

namespace {
constexpr std::string_view kNoSuchMessage = "No such message.";
}  // namespace

asio::awaitable<void> CmdStat(Session& s, const pop3::Command&) {
  const Maildrop& d = s.maildrop();
  s.Ok(std::to_string(d.Count()) + " " + std::to_string(d.Octets()));
  co_return;
}

asio::awaitable<void> CmdList(Session& s, const pop3::Command& cmd) {
  const Maildrop& d = s.maildrop();
  if (cmd.msg) {
    if (const auto* m = d.Find(*cmd.msg))
      s.Ok(std::to_string(*cmd.msg) + " " + std::to_string(m->size));
    else
      s.Err("", kNoSuchMessage);
    co_return;
  }
  std::string out = "+OK " + std::to_string(d.Count()) + " messages (" + std::to_string(d.Octets()) + " octets)\r\n";
  for (size_t i = 0; i < d.messages.size(); ++i) {
    if (d.messages[i].deleted) continue;
    out += std::to_string(i + 1);
    out += ' ';
    out += std::to_string(d.messages[i].size);
    out += "\r\n";
  }
  s.Queue(out + ".\r\n");
  co_await s.FlushIfLarge();
}

asio::awaitable<void> CmdUidl(Session& s, const pop3::Command& cmd) {
  const Maildrop& d = s.maildrop();
  if (cmd.msg) {
    if (const auto* m = d.Find(*cmd.msg))
      s.Ok(std::to_string(*cmd.msg) + " " + d.Uidl(*m));
    else
      s.Err("", kNoSuchMessage);
    co_return;
  }
  std::string out = "+OK\r\n";
  for (size_t i = 0; i < d.messages.size(); ++i) {
    if (d.messages[i].deleted) continue;
    out += std::to_string(i + 1);
    out += ' ';
    out += d.Uidl(d.messages[i]);
    out += "\r\n";
  }
  s.Queue(out + ".\r\n");
  co_await s.FlushIfLarge();
}

asio::awaitable<void> CmdDele(Session& s, const pop3::Command& cmd) {
  Maildrop& d = s.maildrop();
  if (!d.Find(*cmd.msg)) {
    // RFC 1939: "-ERR message 2 already deleted" for a marked one.
    bool marked = *cmd.msg <= d.messages.size() && d.messages[*cmd.msg - 1].deleted;
    s.Err("", marked ? "Message already deleted." : kNoSuchMessage);
    co_return;
  }
  d.messages[*cmd.msg - 1].deleted = true;
  s.Ok("Marked to be deleted.");
}

asio::awaitable<void> CmdRset(Session& s, const pop3::Command&) {
  Maildrop& d = s.maildrop();
  for (auto& m : d.messages) m.deleted = false;
  s.Ok(std::to_string(d.Count()) + " messages (" + std::to_string(d.Octets()) + " octets)");
  co_return;
}

asio::awaitable<void> CmdNoop(Session& s, const pop3::Command&) {
  s.Ok("");
  co_return;
}

}  // namespace columba::pop3d
