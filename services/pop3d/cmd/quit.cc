// quit.cc - QUIT (RFC 1939 6): in AUTHORIZATION it just ends the session; in
// TRANSACTION it enters UPDATE: the messages marked by DELE are expunged in
// ONE metad Expunge call (one PostgreSQL transaction: all or none), and only
// after it committed does the client get "+OK".
//
// DESCRIPTION
//   Before writing, the maildrop lock is renewed once (MaildropLock::Confirm):
//   a session whose lease ran out (Redis gone for longer than the lease, or a
//   stalled process) may have a successor holding the maildrop and deletes
//   nothing. A metad failure is "-ERR [SYS/TEMP]" and nothing was deleted (the
//   client keeps its marks for next time, as RFC 1939 allows).
//
// NEVER
//   Never calls Expunge with an empty UID set (that would mean "every \Deleted
//   message"), never deletes without holding the lock, never says +OK before
//   the commit.
#include "lib/base/log.h"
#include "services/pop3d/commands.h"
#include "services/pop3d/maildrop.h"

namespace columba::pop3d {

asio::awaitable<void> CmdQuit(Session& s, const pop3::Command&) {
  ServerContext& ctx = s.ctx();
  s.Close();
  if (!s.authenticated()) {
    s.Ok("Bye.");
    co_return;
  }
  const Maildrop& d = s.maildrop();
  v1::ExpungeRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(d.mailbox_id);
  req.set_force(true);  // POP3 DELE needs no \Deleted flag
  uint64_t marked = 0;
  for (const auto& m : d.messages) {
    if (!m.deleted) continue;
    auto* r = req.mutable_uids()->add_ranges();
    r->set_first(m.uid);
    r->set_last(m.uid);
    ++marked;
  }
  if (marked == 0) {
    s.Ok("Bye.");
    co_return;
  }
  bool ours = co_await s.lock()->Confirm();
  if (!ours) {
    ctx.metrics.Error("lock_lost");
    s.Err("SYS/TEMP", "Maildrop lock lost; nothing was deleted.");
    co_return;
  }
  auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::Expunge, std::move(req));
  if (!r) {
    log::Warn("expunge failed", {{"error", r.error().message}});
    ctx.metrics.Error("metad");
    s.Err("SYS/TEMP", "Could not delete the messages; nothing was deleted.");
    co_return;
  }
  ctx.metrics.deleted_total.Increment(static_cast<double>(r->expunged_uids_size()));
  s.Ok("Bye, " + std::to_string(marked) + " messages deleted.");
}

}  // namespace columba::pop3d
