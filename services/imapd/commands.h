// commands.h - the imapd command table: one entry per command with its state
// requirements and handler (handlers live in cmd/*.cc, one file per group).
//
// NEVER
//   A handler is never called in a state its flags exclude: the session checks
//   needs_auth / not_authenticated_only / needs_selected before dispatching.
#pragma once

#include <string_view>

#include "lib/imap/command.h"
#include "services/imapd/session.h"

namespace columba::imapd {

using Handler = asio::awaitable<void> (*)(Session& s, const imap::Command& cmd);

struct CommandSpec {
  std::string_view name;
  bool needs_auth = false;               // authenticated state or later
  bool not_authenticated_only = false;   // LOGIN, AUTHENTICATE, STARTTLS
  bool needs_selected = false;           // selected state
  bool uid_allowed = false;              // may be prefixed with UID
  Handler handler = nullptr;
};

// nullptr when the command is not implemented in this server.
const CommandSpec* FindCommand(std::string_view name);

// Handlers (cmd/*.cc).
asio::awaitable<void> CmdCapability(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdLogout(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdId(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdEnable(Session& s, const imap::Command& cmd);  // RFC 5161
asio::awaitable<void> CmdCompress(Session& s, const imap::Command& cmd);  // RFC 4978
asio::awaitable<void> CmdStartTls(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdLogin(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdAuthenticate(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdList(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdSelect(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdUnselect(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdFetch(Session& s, const imap::Command& cmd);
// cmd/manage.cc
asio::awaitable<void> CmdCreate(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdDelete(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdRename(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdSubscribe(Session& s, const imap::Command& cmd);  // SUBSCRIBE and UNSUBSCRIBE
asio::awaitable<void> CmdStatus(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdNamespace(Session& s, const imap::Command& cmd);
// cmd/store.cc
asio::awaitable<void> CmdStore(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdExpunge(Session& s, const imap::Command& cmd);  // EXPUNGE and UID EXPUNGE
asio::awaitable<void> CmdCopy(Session& s, const imap::Command& cmd);     // COPY and MOVE
asio::awaitable<void> CmdAppend(Session& s, const imap::Command& cmd);
// cmd/idle.cc
asio::awaitable<void> CmdNoop(Session& s, const imap::Command& cmd);  // NOOP and CHECK
asio::awaitable<void> CmdIdle(Session& s, const imap::Command& cmd);
// Reports what changed in the selected mailbox since the session last looked
// (metad Changes): EXPUNGE, EXISTS, then FETCH (FLAGS); queued, not flushed.
// `allow_expunge` only where RFC 3501 7.4.1 allows EXPUNGE (NOOP, CHECK, IDLE);
// otherwise the expunged UIDs wait in SelectedMailbox::pending_expunged and new
// messages are still announced (APPEND/COPY into the selected mailbox: the view
// only ever grows in UID order, so another session's earlier append is not lost).
asio::awaitable<void> SyncMailbox(Session& s, bool allow_expunge = true);
// "* VANISHED uids" (QRESYNC) or "* n EXPUNGE" (descending) for each expunged
// UID in the session's list, which loses them; queued, not flushed (cmd/idle.cc).
void ReportExpunged(Session& s, std::vector<uint32_t> expunged);
// cmd/quota.cc (RFC 9208)
asio::awaitable<void> CmdGetQuota(Session& s, const imap::Command& cmd);
asio::awaitable<void> CmdGetQuotaRoot(Session& s, const imap::Command& cmd);
// cmd/search.cc
asio::awaitable<void> CmdSearch(Session& s, const imap::Command& cmd);
// The UIDs of `known` (ascending) matching a search program, evaluated by metad
// as SEARCH does; also used by SORT and THREAD.
struct SearchMatches {
  std::vector<uint32_t> uids;  // ascending, each in `known`
  bool has_modseq = false;     // the program holds a MODSEQ criterion
  bool uses_saved = false;     // it holds "$" (SEARCHRES: the saved result within the view)
};
asio::awaitable<Result<SearchMatches>> EvaluateSearch(Session& s, uint64_t mailbox_id, const imap::SearchKey& key,
                                                      const std::vector<uint32_t>& known);
// The NO text for a failed EvaluateSearch ("[LIMIT] ..." or "[UNAVAILABLE] ...").
std::string SearchErrorReply(const Error& e);
// cmd/sort.cc
asio::awaitable<void> CmdSort(Session& s, const imap::Command& cmd);    // SORT and UID SORT (RFC 5256)
asio::awaitable<void> CmdThread(Session& s, const imap::Command& cmd);  // THREAD and UID THREAD (RFC 5256)

}  // namespace columba::imapd
