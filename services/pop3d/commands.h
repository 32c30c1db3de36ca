// commands.h - the POP3 command table: each verb, the states it is allowed in
// and its handler (one command group per file under cmd/).
//
// NEVER
//   A handler never runs in a state its entry does not allow (Session::Dispatch
//   checks first), and never leaves a command without exactly one status line.
#pragma once

#include "services/pop3d/session.h"

namespace columba::pop3d {

enum StateMask : unsigned { kAuthorization = 1, kTransaction = 2 };

using Handler = asio::awaitable<void> (*)(Session&, const pop3::Command&);

struct CommandSpec {
  pop3::Verb verb;
  unsigned states;
  Handler handler;
};

const CommandSpec* FindCommand(pop3::Verb verb);

// cmd/auth.cc: CAPA, STLS, USER, PASS, APOP, AUTH
asio::awaitable<void> CmdCapa(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdStls(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdUser(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdPass(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdApop(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdAuth(Session& s, const pop3::Command& cmd);
// cmd/maildrop.cc: STAT, LIST, UIDL, DELE, RSET, NOOP
asio::awaitable<void> CmdStat(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdList(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdUidl(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdDele(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdRset(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdNoop(Session& s, const pop3::Command& cmd);
// cmd/retrieve.cc: RETR, TOP
asio::awaitable<void> CmdRetr(Session& s, const pop3::Command& cmd);
asio::awaitable<void> CmdTop(Session& s, const pop3::Command& cmd);
// cmd/quit.cc: QUIT (and the UPDATE state)
asio::awaitable<void> CmdQuit(Session& s, const pop3::Command& cmd);

}  // namespace columba::pop3d
