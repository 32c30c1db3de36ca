// idle.cc - NOOP / CHECK (RFC 3501 6.1.2, 6.4.1) with untagged updates, IDLE
// (RFC 2177), and SyncMailbox: what other sessions (on any imapd) changed in
// the selected mailbox.
//
// DESCRIPTION
//   The session remembers the selected mailbox's HIGHESTMODSEQ; SyncMailbox
//   asks metad Changes(since = that) and reports, in this order, EXPUNGE
//   (descending sequence numbers, so each number is valid when sent), EXISTS
//   for new UIDs, then FETCH (FLAGS ... UID ...) for changed messages still
//   in the view. Changes of this session's own STORE are reported again
//   (harmless duplicates). Once CONDSTORE is enabled the FETCH responses
//   carry MODSEQ; with QRESYNC enabled expunges are "* VANISHED uids".
//
//   IDLE sends "+ idling", opens metad Watch for the selected mailbox
//   (watch.h, no thread held), and runs SyncMailbox whenever it reports a
//   change (also once when it becomes ready, closing the gap since the last
//   sync). DONE ends it; a line other than DONE ends it with BAD. The idle
//   timeout applies (BYE); a Watch that fails is reopened after 5 s (with a
//   sync, so nothing is lost). The Watch is cancelled whenever IDLE ends.
//
// NEVER
//   Never sends EXPUNGE outside NOOP, CHECK and IDLE (RFC 3501 7.4.1), and
//   never ends IDLE with a socket read still pending.
#include <algorithm>
#include <unordered_set>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "services/imapd/commands.h"
#include "services/imapd/metad_fetch.h"
#include "services/imapd/watch.h"

namespace columba::imapd {

namespace {
constexpr auto kDrainCheck = std::chrono::seconds(10);
}  // namespace

void ReportExpunged(Session& s, std::vector<uint32_t> expunged) {
  auto& sel = *s.selected();
  // Expunges seen by an earlier sync where they could not be reported go out now.
  expunged.insert(expunged.end(), sel.pending_expunged.begin(), sel.pending_expunged.end());
  sel.pending_expunged.clear();
  std::sort(expunged.begin(), expunged.end());
  std::vector<uint32_t> gone;  // ascending, in the session's list
  for (size_t i = sel.uids.size(); i > 0; --i) {
    if (!std::binary_search(expunged.begin(), expunged.end(), sel.uids[i - 1])) continue;
    if (!s.qresync()) s.Queue("* " + std::to_string(i) + " EXPUNGE\r\n");
    gone.insert(gone.begin(), sel.uids[i - 1]);
    sel.uids.erase(sel.uids.begin() + static_cast<std::ptrdiff_t>(i - 1));
  }
  // RFC 7162 3.2.10: with QRESYNC enabled, VANISHED replaces EXPUNGE.
  if (s.qresync() && !gone.empty()) s.Queue("* VANISHED " + imap::FormatUidSet(gone) + "\r\n");
}

asio::awaitable<void> SyncMailbox(Session& s, bool allow_expunge) {
  if (!s.selected()) co_return;
  const uint64_t mailbox_id = s.selected()->id;
  const uint64_t since = s.selected()->modseq;
  // The Watch stream first (watch_probe.h): unchanged since this
  // session's last metad read, and that read recent enough, means no call.
  const auto now = std::chrono::steady_clock::now();
  const auto probe = s.ctx().watches.Look(s.account_id(), mailbox_id);
  {
    auto& sel = *s.selected();
    if (Vouches(sel.synced_probe, sel.modseq, sel.synced_at, probe, now, s.ctx().cfg.poll_max_staleness)) {
      s.ctx().metrics.syncs_watch.Increment();
      if (allow_expunge && !sel.pending_expunged.empty()) ReportExpunged(s, {});
      co_return;
    }
  }
  s.ctx().metrics.syncs_metad.Increment();
  auto r = co_await ChangesSince(s, mailbox_id, since);
  if (!r) {
    s.ctx().metrics.errors.Add({{"kind", "changes"}}).Increment();
    log::Warn("Changes failed", {{"error", r.error().message}});
    co_return;
  }
  std::vector<v1::MessageMeta>& changed = r->changed;
  // The session may have changed (UNSELECT cannot interleave, but be safe).
  if (!s.selected() || s.selected()->id != mailbox_id) co_return;
  auto& sel = *s.selected();

  // 1. EXPUNGE (highest sequence number first) or VANISHED; kept for later
  // where RFC 3501 7.4.1 forbids them (the UIDs stay in the view until then).
  std::unordered_set<uint32_t> expunged(r->expunged.begin(), r->expunged.end());
  if (allow_expunge)
    ReportExpunged(s, r->expunged);
  else
    sel.pending_expunged.insert(sel.pending_expunged.end(), r->expunged.begin(), r->expunged.end());

  // 2. EXISTS for UIDs above the view.
  std::sort(changed.begin(), changed.end(), [](const auto& a, const auto& b) { return a.uid() < b.uid(); });
  const uint32_t top = sel.uids.empty() ? 0 : sel.uids.back();
  bool added = false;
  for (const auto& m : changed) {
    if (m.uid() <= top || expunged.count(m.uid())) continue;
    if (!sel.uids.empty() && sel.uids.back() == m.uid()) continue;
    sel.uids.push_back(m.uid());
    added = true;
  }
  if (added) s.Queue("* " + std::to_string(sel.uids.size()) + " EXISTS\r\n");

  // 3. FETCH for changed messages that were already in the view.
  for (const auto& m : changed) {
    if (m.uid() > top) continue;
    auto it = std::lower_bound(sel.uids.begin(), sel.uids.end(), m.uid());
    if (it == sel.uids.end() || *it != m.uid()) continue;
    std::vector<std::string> keywords(m.keywords().begin(), m.keywords().end());
    std::string line = "* " + std::to_string(it - sel.uids.begin() + 1) + " FETCH (FLAGS " +
                       imap::FormatFlags(m.flags(), keywords, false) + " UID " + std::to_string(m.uid());
    if (s.condstore()) line += " MODSEQ (" + std::to_string(m.modseq()) + ")";
    line += ")\r\n";
    s.Queue(line);
  }
  sel.modseq = std::max(sel.modseq, r->highestmodseq);
  // Trust the stream from here on only if it was ready before the read.
  sel.synced_probe = probe;
  sel.synced_at = now;
}

asio::awaitable<void> CmdNoop(Session& s, const imap::Command& cmd) {
  co_await SyncMailbox(s);
  co_await s.Done(cmd.tag, "OK", cmd.name == "CHECK" ? "CHECK completed." : "NOOP completed.");
}

asio::awaitable<void> CmdIdle(Session& s, const imap::Command& cmd) {
  s.Queue("+ idling\r\n");
  if (!co_await s.Flush()) co_return;
  s.parser().ExpectIdleDone();

  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + s.ctx().cfg.idle_timeout;
  auto sig = std::make_shared<IdleSignal>(co_await asio::this_coro::executor);
  // One metad Watch per mailbox in this process, shared (watch.h); it wakes
  // `sig` for every change and once when this subscription starts.
  std::unique_ptr<WatchHub::Subscription> watch;
  if (s.selected()) watch = s.ctx().watches.Subscribe(s.account_id(), s.selected()->id, sig);

  enum class End { kDone, kBad, kClosed, kTimeout, kDraining } end = End::kClosed;
  imap::ProtocolError bad;
  for (;;) {
    imap::ParseEvent ev = s.parser().Next();
    if (ev.kind == imap::ParseEvent::Kind::kIdleDone) {
      end = End::kDone;
      break;
    }
    if (ev.kind == imap::ParseEvent::Kind::kError) {
      end = End::kBad;
      bad = std::move(ev.error);
      break;
    }
    if (s.input_closed() || s.closing()) {
      end = End::kClosed;
      break;
    }
    s.StartIdleRead(sig);
    if (sig->change) {
      sig->change = false;
      co_await SyncMailbox(s);
      if (!co_await s.Flush()) {
        end = End::kClosed;
        break;
      }
      continue;
    }
    if (s.ctx().runtime.draining()) {
      end = End::kDraining;
      break;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      end = End::kTimeout;
      break;
    }
    auto until = std::min(deadline, now + kDrainCheck);
    sig->timer.expires_at(until);
    co_await sig->timer.async_wait(net::kNoThrow);
  }
  watch.reset();  // unsubscribe (the last one closes the stream)

  if (end == End::kDone) co_return co_await s.Done(cmd.tag, "OK", "IDLE terminated.");
  if (end == End::kBad) {
    s.ctx().metrics.errors.Add({{"kind", "syntax"}}).Increment();
    // Not a ?: with a std::string temporary inside co_await (GCC 12 coroutine bug).
    std::string text = bad.text.empty() ? std::string("Expected DONE.") : bad.text;
    co_return co_await s.Done(cmd.tag, "BAD", text);
  }
  // Leaving the session: no read may outlive it.
  if (s.idle_read_pending()) {
    s.CancelIdleRead();
    while (s.idle_read_pending()) {
      sig->timer.expires_after(std::chrono::seconds(1));
      co_await sig->timer.async_wait(net::kNoThrow);
    }
  }
  if (end == End::kTimeout) s.Queue("* BYE Autologout; idle for too long.\r\n");
  if (end == End::kDraining) s.Queue("* BYE Server shutting down.\r\n");
  if (end != End::kClosed) co_await s.Flush();
  s.Close();
}

}  // namespace columba::imapd
