// store.cc - message changes (issue 4): STORE / UID STORE (RFC 3501 6.4.6,
// UNCHANGEDSINCE RFC 7162 3.1.3), EXPUNGE / UID EXPUNGE (RFC 3501 6.4.3,
// RFC 4315), COPY / UID COPY (COPYUID), MOVE / UID MOVE (RFC 6851) and APPEND
// (RFC 3501 6.3.11, APPENDUID, MULTIAPPEND RFC 3502).
//
// DESCRIPTION
//   Sets are resolved against the session's UID list (sequence number n is
//   uids[n - 1]); UIDs the session has not been told about are ignored. Every
//   change goes through metad; untagged EXPUNGE responses are sent in
//   descending sequence order so each number is valid when it is read, and the
//   session's list is updated as they are queued. APPEND writes the bytes to
//   the blob store on the blocking pool, parses them once with lib/mail for
//   the ParsedFields metad caches (as lmtpd does), then calls metad Append.
//
// NEVER
//   Never reports a sequence number for a UID outside the session's list,
//   never answers OK when metad or the blob store failed.
#include <algorithm>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "lib/imap/imap_date.h"
#include "lib/imap/section.h"
#include "lib/imap/utf7.h"
#include "lib/mail/message.h"
#include "lib/rpc/parsed_fields.h"
#include "services/imapd/commands.h"
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

namespace {

std::string Unavailable() { return std::string(imap::kCodeUnavailable) + " Try again later."; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// System flags to the bitmask, keywords kept. False: a flag that cannot be stored.
bool SplitFlags(const std::vector<std::string>& flags, uint32_t& mask, std::vector<std::string>& keywords) {
  mask = 0;
  keywords.clear();
  for (const auto& f : flags) {
    if (!f.empty() && f[0] == '\\') {
      std::string l = Lower(f);
      if (l == "\\seen") mask |= imap::kFlagSeen;
      else if (l == "\\answered") mask |= imap::kFlagAnswered;
      else if (l == "\\flagged") mask |= imap::kFlagFlagged;
      else if (l == "\\deleted") mask |= imap::kFlagDeleted;
      else if (l == "\\draft") mask |= imap::kFlagDraft;
      else if (l == "\\recent") continue;  // cannot be set by a client; ignored
      else return false;
    } else {
      if (!imap::IsAtom(f)) return false;
      if (std::find(keywords.begin(), keywords.end(), f) == keywords.end()) keywords.push_back(f);
    }
  }
  return true;
}

// The session's UIDs addressed by `set` (UIDs for UID commands, sequence
// numbers otherwise), ascending. nullopt: a sequence number out of range.
std::optional<std::vector<uint32_t>> ResolveUids(const SelectedMailbox& sel, const imap::SequenceSet& set,
                                                 bool uid) {
  if (set.IsSaved()) return sel.SavedInView();  // "$": the last SEARCH ... RETURN (SAVE)
  const imap::UidList& known = sel.uids;
  std::vector<uint32_t> uids;
  if (uid) {
    auto r = set.Resolve(known.empty() ? 0 : known.back());
    for (const auto& range : r.ranges()) {
      auto lo = std::lower_bound(known.begin(), known.end(), range.first);
      auto hi = std::upper_bound(known.begin(), known.end(), range.last);
      if (lo < hi) uids.insert(uids.end(), lo, hi);
    }
  } else {
    auto r = set.Resolve(static_cast<uint32_t>(known.size()));
    for (const auto& range : r.ranges())
      if (range.last > known.size()) return std::nullopt;
    for (const auto& range : r.ranges())
      for (uint64_t n = range.first; n <= range.last; ++n) uids.push_back(known[n - 1]);
  }
  return uids;
}

// Sequence number of `uid` in the session's list, 0 when it is not there.
uint32_t SeqOf(const imap::UidList& known, uint32_t uid) {
  auto i = known.IndexOf(uid);
  return i ? static_cast<uint32_t>(*i) + 1 : 0;
}

// Reports the expunged UIDs the session knows (EXPUNGE or, with QRESYNC,
// VANISHED; cmd/idle.cc) and removes them from the session's list.
void ApplyExpunged(Session& s, std::vector<uint32_t> expunged) { ReportExpunged(s, std::move(expunged)); }

// The ParsedFields metad caches, exactly as lmtpd computes them (no trace headers here).
std::optional<v1::ParsedFields> ParseFields(std::string_view data) {
  auto fields = rpc::ComputeMessageFields(data);
  if (!fields) return std::nullopt;
  fields->parsed.set_part_offsets(imap::SerializePartMap(fields->part_map));
  return std::move(fields->parsed);
}

// Destination mailbox of COPY/MOVE by its wire name. Error text on failure.
asio::awaitable<Result<v1::Mailbox>> FindMailbox(Session& s, const std::string& wire_name) {
  auto name = MailboxFromWire(s, wire_name);
  if (!name) co_return Fail(ErrorKind::kNotFound, "bad name");
  v1::GetMailboxRequest req;
  req.set_account_id(s.account_id());
  req.set_name(*name);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::GetMailbox, std::move(req));
  if (!r) co_return tl::unexpected(r.error());
  co_return r->mailbox();
}

}  // namespace

asio::awaitable<void> CmdStore(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::StoreArgs>(cmd.args);
  auto& sel = *s.selected();
  if (sel.read_only) co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeReadOnly) + " Mailbox is read-only.");
  uint32_t mask = 0;
  std::vector<std::string> keywords;
  if (!SplitFlags(args.flags, mask, keywords)) co_return co_await s.Done(cmd.tag, "BAD", "Invalid flag.");
  auto uids = ResolveUids(sel, args.set, cmd.uid);
  if (!uids) co_return co_await s.Done(cmd.tag, "BAD", "Invalid message sequence number.");
  const std::string done = cmd.uid ? "UID STORE completed." : "Store completed.";
  if (uids->empty()) co_return co_await s.Done(cmd.tag, "OK", done);

  v1::StoreFlagsRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(sel.id);
  *req.mutable_uids() = ToUidSet(*uids);
  req.set_mode(args.mode == imap::StoreArgs::Mode::kAdd      ? v1::STORE_ADD
               : args.mode == imap::StoreArgs::Mode::kRemove ? v1::STORE_REMOVE
                                                             : v1::STORE_REPLACE);
  req.set_flags(mask);
  for (const auto& k : keywords) req.add_keywords(k);
  // UNCHANGEDSINCE 0 can never succeed (RFC 7162 3.1.3): every message fails.
  const bool conditional = args.unchanged_since.has_value();
  if (conditional) s.EnableCondstore();  // a CONDSTORE-enabling command (RFC 7162 3.1)
  if (conditional && *args.unchanged_since == 0) {
    std::vector<uint32_t> failed;
    for (uint32_t u : *uids) failed.push_back(cmd.uid ? u : SeqOf(sel.uids, u));
    co_return co_await s.Done(cmd.tag, "OK", imap::CodeModified(failed) + " Conditional store failed.");
  }
  if (conditional) req.set_unchanged_since(*args.unchanged_since);
  const uint64_t modseq_before = sel.modseq;
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::StoreFlags, std::move(req));
  const uint64_t account_epoch = s.Wrote();
  if (!r) {
    if (r.error().kind == ErrorKind::kInvalidInput) co_return co_await s.Done(cmd.tag, "BAD", "Invalid keyword.");
    log::Warn("StoreFlags failed", {{"error", r.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", Unavailable());
  }
  // This STORE was the only change since the session's last sync (MODSEQ moves
  // by one per change, and this one's is the mailbox's new HIGHESTMODSEQ; or
  // nothing changed at all): the session is still current and its own write
  // need not cost its next NOOP a metad call (SyncMailbox, watch_probe.h).
  // Not with CONDSTORE: the next sync then reports the new MODSEQ of a .SILENT
  // store. (A STORE that changed nothing does not move MODSEQ, so
  // HIGHESTMODSEQ = before + 1 then means someone else's change.)
  const uint64_t h = r->highestmodseq();
  const bool only_this = r->updated_size() == 0
                             ? h == modseq_before
                             : h == modseq_before + 1 && std::all_of(r->updated().begin(), r->updated().end(),
                                                                     [h](const auto& m) { return m.modseq() == h; });
  if (sel.synced_probe.ready && !s.condstore() && only_this) {
    sel.modseq = r->highestmodseq();
    sel.synced_probe.account_epoch = account_epoch;
  }
  // Untagged FETCH for each changed message (RFC 3501 6.4.6); with .SILENT
  // only when UNCHANGEDSINCE is used (RFC 7162 3.1.3 wants MODSEQ reported).
  for (const auto& m : r->updated()) {
    uint32_t seq = SeqOf(sel.uids, m.uid());
    if (!seq) continue;
    if (args.silent && !conditional) continue;
    std::string line = "* " + std::to_string(seq) + " FETCH (";
    if (!args.silent) {
      std::vector<std::string> kw(m.keywords().begin(), m.keywords().end());
      line += "FLAGS " + imap::FormatFlags(m.flags(), kw, false);
    }
    if (cmd.uid || s.qresync()) line += std::string(line.back() == '(' ? "" : " ") + "UID " + std::to_string(m.uid());
    if (conditional || s.condstore()) line += std::string(line.back() == '(' ? "" : " ") + "MODSEQ (" + std::to_string(m.modseq()) + ")";
    line += ")\r\n";
    s.Queue(line);
  }
  std::vector<uint32_t> failed;
  for (uint32_t u : r->failed_uids()) {
    uint32_t seq = SeqOf(sel.uids, u);
    if (!seq) continue;
    failed.push_back(cmd.uid ? u : seq);
  }
  std::sort(failed.begin(), failed.end());
  if (!failed.empty())
    co_return co_await s.Done(cmd.tag, "OK", imap::CodeModified(failed) + " Conditional store failed.");
  co_await s.Done(cmd.tag, "OK", done);
}

asio::awaitable<void> CmdExpunge(Session& s, const imap::Command& cmd) {
  auto& sel = *s.selected();
  if (sel.read_only) co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeReadOnly) + " Mailbox is read-only.");
  std::vector<uint32_t> uids;
  if (cmd.uid) {
    const auto& args = std::get<imap::SetArgs>(cmd.args);
    uids = *ResolveUids(sel, args.set, true);
  } else {
    uids = sel.uids.ToVector();  // only messages this session knows: it must report their numbers
  }
  const std::string done = cmd.uid ? "UID EXPUNGE completed." : "Expunge completed.";
  if (uids.empty()) co_return co_await s.Done(cmd.tag, "OK", done);
  v1::ExpungeRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(sel.id);
  *req.mutable_uids() = ToUidSet(uids);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::Expunge, std::move(req));
  s.Wrote();
  if (!r) {
    log::Warn("Expunge failed", {{"error", r.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", Unavailable());
  }
  ApplyExpunged(s, std::vector<uint32_t>(r->expunged_uids().begin(), r->expunged_uids().end()));
  co_await s.Done(cmd.tag, "OK", done);
}

asio::awaitable<void> CmdCopy(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::CopyArgs>(cmd.args);
  const bool move = cmd.name == "MOVE";
  const std::string verb = std::string(cmd.uid ? "UID " : "") + (move ? "MOVE" : "COPY");
  auto& sel = *s.selected();
  if (move && sel.read_only)
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeReadOnly) + " Mailbox is read-only.");
  auto uids = ResolveUids(sel, args.set, cmd.uid);
  if (!uids) co_return co_await s.Done(cmd.tag, "BAD", "Invalid message sequence number.");
  auto dest = co_await FindMailbox(s, args.mailbox);
  if (!dest) {
    if (dest.error().kind == ErrorKind::kNotFound || dest.error().kind == ErrorKind::kInvalidInput)
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeTryCreate) + " Mailbox doesn't exist.");
    log::Warn("GetMailbox failed", {{"error", dest.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", Unavailable());
  }
  if (uids->empty()) co_return co_await s.Done(cmd.tag, "OK", verb + " completed.");
  v1::CopyMessagesRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(sel.id);
  *req.mutable_uids() = ToUidSet(*uids);
  req.set_dest_mailbox_id(dest->mailbox_id());
  req.set_move(move);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::CopyMessages, std::move(req));
  s.Wrote();
  if (!r) {
    if (r.error().kind == ErrorKind::kQuotaExceeded)
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeOverQuota) + " Quota exceeded.");
    if (r.error().kind == ErrorKind::kNotFound)
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeTryCreate) + " Mailbox doesn't exist.");
    log::Warn("CopyMessages failed", {{"error", r.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", Unavailable());
  }
  std::vector<uint32_t> src(r->source_uids().begin(), r->source_uids().end());
  std::vector<uint32_t> dst(r->dest_uids().begin(), r->dest_uids().end());
  std::string code = src.empty() ? std::string() : imap::CodeCopyUid(r->dest_uidvalidity(), src, dst) + " ";
  if (move) {
    // RFC 6851 3.3: COPYUID goes in an untagged OK before the EXPUNGEs.
    if (!code.empty()) s.Queue("* OK " + code + "Moved UIDs.\r\n");
    ApplyExpunged(s, src);
    if (dest->mailbox_id() == sel.id) co_await SyncMailbox(s, false);
    co_return co_await s.Done(cmd.tag, "OK", verb + " completed.");
  }
  // New messages in the selected mailbox: EXISTS through the sync, in UID order.
  if (dest->mailbox_id() == sel.id) co_await SyncMailbox(s, false);
  co_await s.Done(cmd.tag, "OK", code + verb + " completed.");
}

asio::awaitable<void> CmdAppend(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::AppendArgs>(cmd.args);
  auto& ctx = s.ctx();
  auto name = MailboxFromWire(s, args.mailbox);
  if (!name) co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeTryCreate) + " Mailbox doesn't exist.");
  if (args.messages.empty()) co_return co_await s.Done(cmd.tag, "BAD", "Missing message.");

  // 1. Check every message's flags and date before storing anything.
  struct Prepared {
    uint32_t flags = 0;
    std::vector<std::string> keywords;
    int64_t internal_date = 0;
  };
  std::vector<Prepared> prep(args.messages.size());
  for (size_t i = 0; i < args.messages.size(); ++i) {
    const auto& m = args.messages[i];
    if (!SplitFlags(m.flags, prep[i].flags, prep[i].keywords))
      co_return co_await s.Done(cmd.tag, "BAD", "Invalid flag.");
    if (m.date_time) {
      auto dt = imap::ParseDateTime(*m.date_time);
      if (!dt) co_return co_await s.Done(cmd.tag, "BAD", "Invalid date-time.");
      prep[i].internal_date = dt->unix_time;
    }
  }

  // 2. Each message: blob, parse, metad Append. MULTIAPPEND is all or nothing
  //    (RFC 3502): on a failure the ones already appended are expunged again.
  uint64_t mailbox_id = 0;
  uint32_t uidvalidity = 0;
  std::vector<uint32_t> appended;
  std::optional<std::pair<std::string, std::string>> failure;  // status, text
  for (size_t i = 0; i < args.messages.size() && !failure; ++i) {
    const auto& m = args.messages[i];
    auto blob = co_await ctx.pool.Run([&]() { return ctx.blobs.Put(m.data); });
    if (!blob) {
      log::Warn("blob store put failed", {{"error", blob.error().message}});
      failure.emplace("NO", Unavailable());
      break;
    }
    v1::AppendRequest req;
    req.set_account_id(s.account_id());
    if (mailbox_id) req.set_mailbox_id(mailbox_id);
    else req.set_mailbox_name(*name);
    req.set_blob_id(*blob);
    req.set_size(m.data.size());
    req.set_flags(prep[i].flags);
    for (const auto& k : prep[i].keywords) req.add_keywords(k);
    req.set_internal_date_unix(prep[i].internal_date);
    if (auto f = ParseFields(m.data)) *req.mutable_parsed() = std::move(*f);
    auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::Append, std::move(req));
    s.Wrote();
    if (!r) {
      switch (r.error().kind) {
        case ErrorKind::kNotFound:
          failure.emplace("NO", std::string(imap::kCodeTryCreate) + " Mailbox doesn't exist.");
          break;
        case ErrorKind::kQuotaExceeded:
          failure.emplace("NO", std::string(imap::kCodeOverQuota) + " Quota exceeded.");
          break;
        case ErrorKind::kLimitExceeded:
          failure.emplace("NO", std::string(imap::kCodeTooBig) + " Message too big.");
          break;
        case ErrorKind::kInvalidInput:
          failure.emplace("NO", std::string(imap::kCodeCannot) + " " + r.error().message);
          break;
        default:
          log::Warn("Append failed", {{"error", r.error().message}});
          failure.emplace("NO", Unavailable());
      }
      break;
    }
    mailbox_id = r->mailbox_id();
    uidvalidity = r->uidvalidity();
    appended.push_back(r->uid());
  }
  if (failure) {
    if (!appended.empty()) {
      v1::ExpungeRequest req;
      req.set_account_id(s.account_id());
      req.set_mailbox_id(mailbox_id);
      std::vector<uint32_t> sorted = appended;
      std::sort(sorted.begin(), sorted.end());
      *req.mutable_uids() = ToUidSet(sorted);
      req.set_force(true);
      auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::Expunge, std::move(req));
      s.Wrote();
      if (!r) log::Warn("Expunge after failed MULTIAPPEND failed", {{"error", r.error().message}});
    }
    co_return co_await s.Done(cmd.tag, failure->first, failure->second);
  }
  if (s.selected() && s.selected()->id == mailbox_id) co_await SyncMailbox(s, false);
  co_await s.Done(cmd.tag, "OK", imap::CodeAppendUid(uidvalidity, appended) + " Append completed.");
}

}  // namespace columba::imapd
