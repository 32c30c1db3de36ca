// mailbox.cc - LIST / LSUB (RFC 3501 6.3.8-9, CHILDREN RFC 3348, SPECIAL-USE
// RFC 6154), SELECT / EXAMINE (6.3.1-2, CONDSTORE and QRESYNC RFC 7162),
// UNSELECT (RFC 3691) and CLOSE (6.4.2).
//
// DESCRIPTION
//   Mailbox names travel in modified UTF-7 (utf7.h) and are UTF-8 in metad.
//   LIST patterns are matched against the wire form of each name ('*' any
//   characters, '%' any but the delimiter '/'); "INBOX" matches in any case.
//   SELECT keeps only the selected mailbox's UID list in the session.
//
// NEVER
//   Never leaves a mailbox selected after a failed SELECT (RFC 3501 6.3.1).
#include <algorithm>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "lib/imap/utf7.h"
#include "services/imapd/commands.h"
#include "services/imapd/mailbox_index.h"
#include "services/imapd/metad_fetch.h"
#include "services/imapd/watch.h"

namespace columba::imapd {

namespace {

// '*' matches anything, '%' anything but '/'. Dynamic programming over
// pattern x name: no backtracking blow-up however many wildcards a client sends.
bool MatchPattern(std::string_view pattern, std::string_view name) {
  std::vector<char> prev(name.size() + 1, 0), cur(name.size() + 1, 0);
  prev[0] = 1;
  for (char p : pattern) {
    std::fill(cur.begin(), cur.end(), 0);
    if (p == '*' || p == '%') {
      cur[0] = prev[0];
      for (size_t j = 1; j <= name.size(); ++j)
        cur[j] = prev[j] || (cur[j - 1] && (p == '*' || name[j - 1] != '/'));
    } else {
      for (size_t j = 1; j <= name.size(); ++j) cur[j] = prev[j - 1] && name[j - 1] == p;
    }
    std::swap(prev, cur);
  }
  return prev[name.size()] != 0;
}


const char* SpecialUseAttribute(v1::SpecialUse u) {
  switch (u) {
    case v1::SPECIAL_USE_ALL: return "\\All";
    case v1::SPECIAL_USE_ARCHIVE: return "\\Archive";
    case v1::SPECIAL_USE_DRAFTS: return "\\Drafts";
    case v1::SPECIAL_USE_FLAGGED: return "\\Flagged";
    case v1::SPECIAL_USE_JUNK: return "\\Junk";
    case v1::SPECIAL_USE_SENT: return "\\Sent";
    case v1::SPECIAL_USE_TRASH: return "\\Trash";
    default: return nullptr;
  }
}

// SELECT ... (QRESYNC (uidvalidity modseq [known-uids])): "* VANISHED (EARLIER)"
// for UIDs expunged after modseq (within known-uids when given), then
// "* n FETCH (UID FLAGS MODSEQ)" for messages of the new view changed after it.
// `changed` comes from the same pages that built the view (so every message
// the view counts in EXISTS and changed after modseq is named, even one
// appended while SELECT ran); metad Changes supplies only the tombstones.
// seq-match-data is not needed: the tombstones are exact.
asio::awaitable<Result<std::string>> QresyncLines(Session& s, const SelectedMailbox& sel,
                                                  const imap::QresyncParams& q,
                                                  const std::vector<v1::MessageMeta>& changed) {
  v1::ChangesRequest req;
  req.set_account_id(s.account_id());
  req.set_mailbox_id(sel.id);
  req.set_since_modseq(q.modseq);
  req.set_page_size(1);  // only the expunged UIDs are used (they are not paged)
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::Changes, std::move(req));
  if (!r) co_return tl::unexpected(r.error());
  std::optional<imap::SequenceSet> known;
  if (q.known_uids) known = q.known_uids->Resolve(UINT32_MAX);
  std::vector<uint32_t> vanished;
  for (uint32_t u : r->expunged_uids()) {
    if (known && !known->Contains(u)) continue;
    // Expunged after the view was read: still in it, reported by a later sync.
    if (sel.uids.Contains(u)) continue;
    vanished.push_back(u);
  }
  std::sort(vanished.begin(), vanished.end());
  vanished.erase(std::unique(vanished.begin(), vanished.end()), vanished.end());
  std::string out;
  if (!vanished.empty()) out += "* VANISHED (EARLIER) " + imap::FormatUidSet(vanished) + "\r\n";
  for (const auto& m : changed) {  // ascending UIDs, all in the view
    auto seq = sel.uids.IndexOf(m.uid());
    if (!seq) continue;
    std::vector<std::string> kw(m.keywords().begin(), m.keywords().end());
    out += "* " + std::to_string(*seq + 1) + " FETCH (UID " + std::to_string(m.uid()) + " FLAGS " +
           imap::FormatFlags(m.flags(), kw, false) + " MODSEQ (" + std::to_string(m.modseq()) + "))\r\n";
  }
  co_return out;
}

}  // namespace

asio::awaitable<void> CmdList(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::ListArgs>(cmd.args);
  const bool lsub = cmd.name == "LSUB";
  const std::string_view verb = lsub ? "LSUB" : "LIST";
  bool subscribed_only = lsub;
  for (const auto& o : args.selection_options)
    if (o == "SUBSCRIBED") subscribed_only = true;
  if (!lsub && args.patterns.size() == 1 && args.patterns[0].empty()) {
    // RFC 3501 6.3.8: the delimiter and root name.
    s.Queue("* LIST (\\Noselect) \"/\" \"\"\r\n");
    co_return co_await s.Done(cmd.tag, "OK", "List completed.");
  }
  v1::ListMailboxesRequest req;
  req.set_account_id(s.account_id());
  req.set_subscribed_only(subscribed_only);
  auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::ListMailboxes, std::move(req));
  if (!r) {
    log::Warn("ListMailboxes failed", {{"error", r.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
  }
  std::vector<std::string> patterns;
  for (const auto& p : args.patterns) patterns.push_back(CanonicalInbox(args.reference + p));
  for (const auto& mb : r->mailboxes()) {
    std::string wire = MailboxToWire(s, mb.name());
    bool match = std::any_of(patterns.begin(), patterns.end(),
                             [&](const std::string& p) { return MatchPattern(p, wire); });
    if (!match) continue;
    std::vector<std::string> attrs;
    if (!lsub) attrs.push_back(mb.has_children() ? "\\HasChildren" : "\\HasNoChildren");
    if (const char* su = SpecialUseAttribute(mb.special_use()); su && !lsub) attrs.push_back(su);
    if (subscribed_only && !lsub) attrs.push_back("\\Subscribed");
    s.Queue(imap::FormatListLine(verb, attrs, '/', wire, s.utf8()));
  }
  co_await s.Done(cmd.tag, "OK", lsub ? "Lsub completed." : "List completed.");
}

asio::awaitable<void> CmdSelect(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::SelectArgs>(cmd.args);
  const bool examine = cmd.name == "EXAMINE";
  // RFC 7162 3.2.5: QRESYNC parameters without ENABLE QRESYNC are BAD.
  if (args.qresync && !s.qresync())
    co_return co_await s.Done(cmd.tag, "BAD", "QRESYNC is not enabled.");
  if (s.selected()) {
    s.selected().reset();
    s.Queue("* OK [CLOSED] Previous mailbox closed.\r\n");
  }
  if (args.condstore) s.EnableCondstore();
  auto name = MailboxFromWire(s, args.mailbox);
  if (!name) co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeNonExistent) + " Mailbox doesn't exist.");
  v1::GetMailboxRequest greq;
  greq.set_account_id(s.account_id());
  greq.set_name(*name);
  // Without QRESYNC the view comes with the mailbox in one call (runs of UIDs).
  // With it, the view and the changes to report must come from the same pages
  // (QresyncLines), so the messages are paged below instead.
  // When this process may have the mailbox indexed (mailbox_index.h), the view
  // comes from there if it is current, sparing metad the scan of every message.
  const bool try_index = !args.qresync && s.ctx().cfg.index_max_messages > 0;
  greq.set_with_view(!args.qresync && !try_index);
  auto mb = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::GetMailbox, v1::GetMailboxRequest(greq));
  if (!mb) {
    if (mb.error().kind == ErrorKind::kNotFound || mb.error().kind == ErrorKind::kInvalidInput)
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeNonExistent) + " Mailbox doesn't exist.");
    log::Warn("GetMailbox failed", {{"error", mb.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
  }
  const auto& m = mb->mailbox();
  v1::UidSet all;
  auto* range = all.add_ranges();
  range->set_first(1);
  range->set_last(0);
  SelectedMailbox sel;
  sel.id = m.mailbox_id();
  // Keep the mailbox's shared Watch stream open while selected; the first
  // sync after it is ready makes NOOP answerable from it (cmd/idle.cc).
  sel.watch = std::shared_ptr<WatchHub::Subscription>(s.ctx().watches.Subscribe(s.account_id(), sel.id, nullptr));
  sel.name = m.name();
  sel.uidvalidity = m.uidvalidity();
  sel.read_only = examine;
  sel.modseq = m.highestmodseq();
  uint32_t first_unseen = 0;
  uint32_t uidnext = m.uidnext();
  // Page by page (metad streams the mailbox): a 100,000-message mailbox costs
  // one page of metadata here, and the view is kept as UID runs.
  // QRESYNC: the messages of this view changed after the client's modseq.
  const bool qresync = args.qresync && args.qresync->uidvalidity == m.uidvalidity();
  const uint64_t client_modseq = qresync ? args.qresync->modseq : UINT64_MAX;
  std::vector<v1::MessageMeta> changed;
  Result<void> fetched;
  std::shared_ptr<const IndexSnapshot> index;
  if (try_index) index = co_await CurrentIndex(s, sel.id);
  if (index && index->modseq >= m.highestmodseq()) {
    // At least as new as the mailbox row just read: its view, MODSEQ and first unseen.
    for (const auto& r : index->recs) {
      sel.uids.push_back(r.uid);
      if (!first_unseen && !(r.flags & imap::kFlagSeen)) first_unseen = static_cast<uint32_t>(sel.uids.size());
    }
    if (!sel.uids.empty()) uidnext = std::max(uidnext, sel.uids.back() + 1);
    sel.modseq = index->modseq;
  } else if (!args.qresync) {
    if (try_index) {
      greq.set_with_view(true);
      mb = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::GetMailbox, std::move(greq));
      if (!mb || mb->mailbox().mailbox_id() != sel.id) {
        if (mb) log::Warn("GetMailbox: the mailbox changed under SELECT", {{"mailbox", sel.name}});
        else log::Warn("GetMailbox failed", {{"error", mb.error().message}});
        co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
      }
      sel.modseq = mb->mailbox().highestmodseq();
      uidnext = mb->mailbox().uidnext();
    }
    for (const auto& r : mb->view().ranges()) sel.uids.AppendRun(r.first(), r.last());
    if (!sel.uids.empty()) uidnext = std::max(uidnext, sel.uids.back() + 1);
    if (auto i = sel.uids.IndexOf(mb->first_unseen_uid()); i && mb->first_unseen_uid())
      first_unseen = static_cast<uint32_t>(*i) + 1;
  } else {
  fetched = co_await FetchMetaEach(
      s, m.mailbox_id(), std::move(all), false,
      [&sel, &first_unseen, &uidnext, &changed, client_modseq](const v1::MessageMeta& meta) {
        sel.uids.push_back(meta.uid());
        if (!first_unseen && !(meta.flags() & imap::kFlagSeen))
          first_unseen = static_cast<uint32_t>(sel.uids.size());
        uidnext = std::max(uidnext, meta.uid() + 1);
        if (meta.modseq() > client_modseq) changed.push_back(meta);
      });
  }
  if (!fetched) {
    log::Warn("Fetch failed", {{"error", fetched.error().message}});
    co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
  }
  const uint32_t all_flags =
      imap::kFlagSeen | imap::kFlagAnswered | imap::kFlagFlagged | imap::kFlagDeleted | imap::kFlagDraft;
  s.Queue("* FLAGS " + imap::FormatFlags(all_flags, {}, false) + "\r\n");
  if (examine)
    s.Queue("* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
  else
    s.Queue("* OK " + imap::CodePermanentFlags(all_flags, {}, true) + " Flags permitted.\r\n");
  s.Queue("* " + std::to_string(sel.uids.size()) + " EXISTS\r\n");
  if (s.rev2()) {
    // RFC 9051 6.3.2: no RECENT and no UNSEEN code; a LIST response names the mailbox.
    std::vector<std::string> attrs{m.has_children() ? "\\HasChildren" : "\\HasNoChildren"};
    if (const char* su = SpecialUseAttribute(m.special_use())) attrs.push_back(su);
    s.Queue(imap::FormatListLine("LIST", attrs, '/', MailboxToWire(s, m.name()), true));
  } else {
    s.Queue("* 0 RECENT\r\n");
    if (first_unseen) s.Queue("* OK " + imap::CodeUnseen(first_unseen) + " First unseen.\r\n");
  }
  s.Queue("* OK " + imap::CodeUidValidity(m.uidvalidity()) + " UIDs valid.\r\n");
  s.Queue("* OK " + imap::CodeUidNext(uidnext) + " Predicted next UID.\r\n");
  s.Queue("* OK " + imap::CodeHighestModseq(sel.modseq) + " Highest.\r\n");
  if (qresync) {
    // RFC 7162 3.2.5.1: what changed since the client's modseq.
    auto lines = co_await QresyncLines(s, sel, *args.qresync, changed);
    if (!lines) {
      log::Warn("Changes failed", {{"error", lines.error().message}});
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
    }
    s.Queue(*lines);
  }
  s.selected() = std::move(sel);
  co_await s.Done(cmd.tag, "OK",
                  std::string(examine ? imap::kCodeReadOnly : imap::kCodeReadWrite) +
                      (examine ? " Examine completed." : " Select completed."));
}

asio::awaitable<void> CmdUnselect(Session& s, const imap::Command& cmd) {
  auto& sel = *s.selected();
  if (cmd.name == "CLOSE" && !sel.read_only && !sel.uids.empty()) {
    // CLOSE expunges \Deleted messages silently (RFC 3501 6.4.2); UNSELECT does not.
    v1::ExpungeRequest req;
    req.set_account_id(s.account_id());
    req.set_mailbox_id(sel.id);
    *req.mutable_uids() = ToUidSet(sel.uids);
    auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::Expunge, std::move(req));
    s.Wrote();
    if (!r) {
      log::Warn("Expunge failed", {{"error", r.error().message}});
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
    }
  }
  s.selected().reset();
  co_await s.Done(cmd.tag, "OK", cmd.name == "CLOSE" ? "Close completed." : "Unselect completed.");
}

}  // namespace columba::imapd
