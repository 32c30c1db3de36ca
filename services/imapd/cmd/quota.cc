// quota.cc - GETQUOTA and GETQUOTAROOT (RFC 9208 QUOTA, resources STORAGE and
// MESSAGE): the account's quota as metad counts it.
//
// DESCRIPTION
//   One quota root per account, named "" (as Dovecot's default "User quota"
//   is one root for every mailbox). STORAGE is reported in units of 1024
//   octets (used rounded up), MESSAGE in messages; only limited resources are
//   listed, and an account without any limit has no quota root at all
//   (`* QUOTAROOT mailbox` with no root names; GETQUOTA "" is NO), since a
//   QUOTA response must list at least one resource. SETQUOTA is not offered:
//   limits come from the directory (columbactl user quota).
//
// NEVER
//   Changes anything; reports usage it did not get from metad.
#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "lib/imap/utf7.h"
#include "services/imapd/commands.h"
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

namespace {

// "(STORAGE used limit MESSAGE used limit)" for the limited resources; empty when none.
std::string Resources(const v1::Quota& q) {
  std::string out;
  auto add = [&out](std::string_view name, uint64_t used, uint64_t limit) {
    out += out.empty() ? "(" : " ";
    out += name;
    out += ' ' + std::to_string(used) + ' ' + std::to_string(limit);
  };
  if (q.storage_limit() > 0) add("STORAGE", (q.storage_used() + 1023) / 1024, q.storage_limit() / 1024);
  if (q.message_limit() > 0) add("MESSAGE", q.message_used(), q.message_limit());
  if (!out.empty()) out += ')';
  return out;
}

asio::awaitable<Result<v1::Quota>> GetQuota(Session& s) {
  v1::GetQuotaRequest req;
  req.set_account_id(s.account_id());
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::GetQuota, std::move(req));
  if (!r) co_return tl::unexpected(r.error());
  co_return r->quota();
}

}  // namespace

asio::awaitable<void> CmdGetQuotaRoot(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::MailboxArgs>(cmd.args);
  auto decoded = MailboxFromWire(s, args.mailbox);
  if (!decoded) co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeNonExistent) + " No such mailbox.");
  v1::GetMailboxRequest mreq;
  mreq.set_account_id(s.account_id());
  mreq.set_name(*decoded);
  auto mbox = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::GetMailbox, std::move(mreq));
  if (!mbox) {
    if (mbox.error().kind == ErrorKind::kNotFound)
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeNonExistent) + " No such mailbox.");
    log::Warn("GetMailbox failed", {{"error", mbox.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
  }
  auto quota = co_await GetQuota(s);
  if (!quota) {
    log::Warn("GetQuota failed", {{"error", quota.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
  }
  std::string line = "* QUOTAROOT ";
  imap::AppendAstring(line, args.mailbox, s.utf8());
  const std::string resources = Resources(*quota);
  if (!resources.empty()) line += " \"\"\r\n* QUOTA \"\" " + resources;
  line += "\r\n";
  s.Queue(line);
  co_await s.Done(cmd.tag, "OK", "Getquotaroot completed.");
}

asio::awaitable<void> CmdGetQuota(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::MailboxArgs>(cmd.args);
  auto quota = co_await GetQuota(s);
  if (!quota) {
    log::Warn("GetQuota failed", {{"error", quota.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
  }
  const std::string resources = Resources(*quota);
  if (!args.mailbox.empty() || resources.empty())
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeNonExistent) + " No such quota root.");
  s.Queue("* QUOTA \"\" " + resources + "\r\n");
  co_await s.Done(cmd.tag, "OK", "Getquota completed.");
}

}  // namespace columba::imapd
