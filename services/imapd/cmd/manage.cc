// manage.cc - mailbox management (issue 4): CREATE (RFC 3501 6.3.3, CREATE-SPECIAL-USE
// RFC 6154), DELETE (6.3.4), RENAME (6.3.5), SUBSCRIBE / UNSUBSCRIBE (6.3.6-7),
// STATUS (6.3.10, STATUS=SIZE RFC 8438, DELETED RFC 9051) and NAMESPACE (RFC 2342).
//
// DESCRIPTION
//   Every command is one metad call. Names arrive in modified UTF-7 (utf7.h) and
//   go to metad as UTF-8; metad canonicalises INBOX and checks the hierarchy
//   (no empty levels). metad errors map to RFC 5530 response codes:
//   kUnavailable/kInternal -> [UNAVAILABLE], kNotFound -> [NONEXISTENT],
//   kAlreadyExists -> [ALREADYEXISTS], kConflict -> [INUSE],
//   kInvalidInput -> [CANNOT], kLimitExceeded -> [LIMIT].
//
// NEVER
//   Never creates or deletes INBOX, never sends metad a name that is not valid
//   modified UTF-7 on the wire, never answers OK when metad did not.
#include <cctype>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "lib/imap/utf7.h"
#include "services/imapd/commands.h"
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

namespace {

std::string Code(std::string_view code, std::string_view text) {
  std::string out(code);
  out += ' ';
  out += text;
  return out;
}

// The tagged NO for a failed metad call.
asio::awaitable<void> MetadFailure(Session& s, const imap::Command& cmd, const Error& e) {
  switch (e.kind) {
    case ErrorKind::kNotFound:
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNonExistent, "Mailbox doesn't exist."));
    case ErrorKind::kAlreadyExists:
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeAlreadyExists, "Mailbox already exists."));
    case ErrorKind::kConflict:
      co_return co_await s.Done(cmd.tag, "NO",
                                Code(imap::kCodeInUse, cmd.name == "DELETE"
                                                           ? "Mailbox has children, delete them first."
                                                           : "Mailbox is in use, try again."));
    case ErrorKind::kInvalidInput:
      co_return co_await s.Done(cmd.tag, "NO",
                                Code(imap::kCodeCannot, cmd.name == "RENAME"
                                                            ? "Can't rename mailbox to itself or below itself."
                                                            : "Invalid mailbox name."));
    case ErrorKind::kLimitExceeded:
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeLimit, "Mailbox name too long."));
    case ErrorKind::kQuotaExceeded:
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeOverQuota, "Quota exceeded."));
    case ErrorKind::kPermissionDenied:
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNoPerm, "Permission denied."));
    case ErrorKind::kUnavailable:
    case ErrorKind::kInternal:
      break;
  }
  log::Warn("metad call failed", {{"command", cmd.name}, {"error", e.message}});
  co_await s.Done(cmd.tag, "NO", Code(imap::kCodeUnavailable, "Try again later."));
}

std::optional<v1::SpecialUse> ParseSpecialUse(std::string_view attr) {
  std::string up(attr);
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "\\ALL") return v1::SPECIAL_USE_ALL;
  if (up == "\\ARCHIVE") return v1::SPECIAL_USE_ARCHIVE;
  if (up == "\\DRAFTS") return v1::SPECIAL_USE_DRAFTS;
  if (up == "\\FLAGGED") return v1::SPECIAL_USE_FLAGGED;
  if (up == "\\JUNK") return v1::SPECIAL_USE_JUNK;
  if (up == "\\SENT") return v1::SPECIAL_USE_SENT;
  if (up == "\\TRASH") return v1::SPECIAL_USE_TRASH;
  return std::nullopt;
}

}  // namespace

asio::awaitable<void> CmdCreate(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::CreateArgs>(cmd.args);
  std::string_view wire = args.mailbox;
  // RFC 3501 6.3.3: a trailing hierarchy delimiter only says the client means
  // to create children under the name; the name itself is created.
  while (!wire.empty() && wire.back() == '/') wire.remove_suffix(1);
  if (wire.empty()) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeCannot, "Invalid mailbox name."));
  auto name = MailboxFromWire(s, wire);
  if (!name)
    co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeCannot, "Mailbox name is not valid modified UTF-7."));
  if (*name == "INBOX")
    co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeAlreadyExists, "Mailbox already exists."));
  v1::SpecialUse use = v1::SPECIAL_USE_NONE;
  for (const auto& attr : args.special_use) {
    auto u = ParseSpecialUse(attr);
    if (!u) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeUseAttr, "Unsupported special-use attribute."));
    if (use != v1::SPECIAL_USE_NONE && use != *u)
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeUseAttr, "Only one special-use attribute per mailbox."));
    use = *u;
  }
  v1::CreateMailboxRequest req;
  req.set_account_id(s.account_id());
  req.set_name(*name);
  req.set_special_use(use);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::CreateMailbox, std::move(req));
  s.Wrote();
  if (!r) co_return co_await MetadFailure(s, cmd, r.error());
  co_await s.Done(cmd.tag, "OK", "Create completed.");
}

asio::awaitable<void> CmdDelete(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::MailboxArgs>(cmd.args);
  auto name = MailboxFromWire(s, args.mailbox);
  if (!name) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNonExistent, "Mailbox doesn't exist."));
  if (*name == "INBOX") co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeCannot, "INBOX can't be deleted."));
  v1::DeleteMailboxRequest req;
  req.set_account_id(s.account_id());
  req.set_name(*name);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::DeleteMailbox, std::move(req));
  s.Wrote();
  if (!r) co_return co_await MetadFailure(s, cmd, r.error());
  co_await s.Done(cmd.tag, "OK", "Delete completed.");
}

asio::awaitable<void> CmdRename(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::RenameArgs>(cmd.args);
  auto from = MailboxFromWire(s, args.from);
  if (!from) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNonExistent, "Mailbox doesn't exist."));
  std::string_view to_wire = args.to;
  while (!to_wire.empty() && to_wire.back() == '/') to_wire.remove_suffix(1);
  if (to_wire.empty()) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeCannot, "Invalid mailbox name."));
  auto to = MailboxFromWire(s, to_wire);
  if (!to)
    co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeCannot, "Mailbox name is not valid modified UTF-7."));
  if (*to == "INBOX")
    co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeAlreadyExists, "Mailbox already exists."));
  v1::RenameMailboxRequest req;
  req.set_account_id(s.account_id());
  req.set_old_name(*from);
  req.set_new_name(*to);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::RenameMailbox, std::move(req));
  s.Wrote();
  if (!r) co_return co_await MetadFailure(s, cmd, r.error());
  // A renamed mailbox keeps its id (INBOX's messages move to a new one instead).
  if (auto& sel = s.selected(); sel && *from != "INBOX" && sel->id == r->mailbox().mailbox_id())
    sel->name = r->mailbox().name();
  co_await s.Done(cmd.tag, "OK", "Rename completed.");
}

asio::awaitable<void> CmdSubscribe(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::MailboxArgs>(cmd.args);
  const bool subscribe = cmd.name == "SUBSCRIBE";
  auto name = MailboxFromWire(s, args.mailbox);
  if (!name) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNonExistent, "Mailbox doesn't exist."));
  v1::SubscribeRequest req;
  req.set_account_id(s.account_id());
  req.set_name(*name);
  req.set_subscribed(subscribe);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::Subscribe, std::move(req));
  if (!r) co_return co_await MetadFailure(s, cmd, r.error());
  co_await s.Done(cmd.tag, "OK", subscribe ? "Subscribe completed." : "Unsubscribe completed.");
}

asio::awaitable<void> CmdStatus(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::StatusArgs>(cmd.args);
  auto name = MailboxFromWire(s, args.mailbox);
  if (!name) co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNonExistent, "Mailbox doesn't exist."));
  v1::GetMailboxRequest req;
  req.set_account_id(s.account_id());
  req.set_name(*name);
  req.set_with_counts(true);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::GetMailbox, std::move(req));
  if (!r) {
    if (r.error().kind == ErrorKind::kInvalidInput)  // an empty level: no such mailbox can exist
      co_return co_await s.Done(cmd.tag, "NO", Code(imap::kCodeNonExistent, "Mailbox doesn't exist."));
    co_return co_await MetadFailure(s, cmd, r.error());
  }
  const auto& m = r->mailbox();
  std::string line = "* STATUS ";
  imap::AppendAstring(line, MailboxToWire(s, m.name()), s.utf8());
  line += " (";
  bool first = true;
  for (const auto& item : args.items) {
    std::string value;
    if (item == "MESSAGES") value = std::to_string(m.messages());
    else if (item == "RECENT") value = "0";
    else if (item == "UIDNEXT") value = std::to_string(m.uidnext());
    else if (item == "UIDVALIDITY") value = std::to_string(m.uidvalidity());
    else if (item == "UNSEEN") value = std::to_string(m.unseen());
    else if (item == "HIGHESTMODSEQ") value = std::to_string(m.highestmodseq());
    else if (item == "SIZE") value = std::to_string(m.size());
    else if (item == "DELETED") value = std::to_string(m.deleted());
    else if (item == "APPENDLIMIT") value = "NIL";
    else continue;  // the parser rejects unknown items; nothing else to report
    if (!first) line += ' ';
    first = false;
    line += item;
    line += ' ';
    line += value;
  }
  line += ")\r\n";
  s.Queue(line);
  co_await s.Done(cmd.tag, "OK", "Status completed.");
}

asio::awaitable<void> CmdNamespace(Session& s, const imap::Command& cmd) {
  // One personal namespace, no prefix, "/" as delimiter; no other users' or shared ones.
  s.Queue("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  co_await s.Done(cmd.tag, "OK", "Namespace completed.");
}

}  // namespace columba::imapd
