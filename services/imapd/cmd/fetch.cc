// fetch.cc - FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8; BINARY RFC 3516).
//
// DESCRIPTION
//   The requested set is resolved against the session's UID list, then
//   metadata comes from metad in batches of fetch_batch UIDs (so one command
//   over a large mailbox holds one batch at a time). FLAGS, UID, RFC822.SIZE,
//   INTERNALDATE and MODSEQ come from the metadata; ENVELOPE, BODYSTRUCTURE
//   and BODY from the ParsedFields stored at delivery; body sections are cut
//   from the blob read through the blob store on the blocking pool and parsed
//   with lib/mail (lib/imap/section.h FetchBody). A non-PEEK body fetch in a
//   read-write mailbox sets \Seen through metad first and reports the new
//   FLAGS, as RFC 3501 requires. CONDSTORE/QRESYNC (RFC 7162): the
//   CHANGEDSINCE modifier keeps messages with MODSEQ above it (and adds
//   MODSEQ), VANISHED first reports the set's UIDs expunged since then.
//
// NEVER
//   Never reports a message the session has not been told about (UIDs not in
//   the session's list are skipped), never sends a partial FETCH line: a
//   message's response is built whole before it is queued.
#include <algorithm>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "lib/imap/imap_date.h"
#include "lib/imap/section.h"
#include "lib/mail/message.h"
#include "services/imapd/commands.h"
#include "services/imapd/mailbox_index.h"
#include "services/imapd/message_cache.h"
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

namespace {

using Type = imap::FetchItem::Type;

constexpr size_t kCacheFetchesUpTo = 256;  // messages per FETCH that go into the message cache

imap::SectionSpec ToSpec(const imap::FetchSection& s) {
  imap::SectionSpec spec;
  spec.part = s.part;
  spec.fields = s.header_fields;
  switch (s.text) {
    case imap::FetchSection::Text::kAll: spec.text = imap::SectionText::kNone; break;
    case imap::FetchSection::Text::kHeader: spec.text = imap::SectionText::kHeader; break;
    case imap::FetchSection::Text::kHeaderFields: spec.text = imap::SectionText::kHeaderFields; break;
    case imap::FetchSection::Text::kHeaderFieldsNot: spec.text = imap::SectionText::kHeaderFieldsNot; break;
    case imap::FetchSection::Text::kText: spec.text = imap::SectionText::kText; break;
    case imap::FetchSection::Text::kMime: spec.text = imap::SectionText::kMime; break;
  }
  return spec;
}

std::optional<imap::SectionPartial> ToPartial(const imap::FetchItem& item) {
  if (!item.partial) return std::nullopt;
  return imap::SectionPartial{item.partial->first, item.partial->second};
}

std::string PartText(const std::vector<uint32_t>& part) {
  std::string out;
  for (uint32_t p : part) {
    if (!out.empty()) out += '.';
    out += std::to_string(p);
  }
  return out;
}

bool NeedsBlob(Type t) {
  return t == Type::kBodySection || t == Type::kRfc822 || t == Type::kRfc822Header || t == Type::kRfc822Text ||
         t == Type::kBinary || t == Type::kBinarySize;
}

bool SetsSeen(const imap::FetchItem& i) {
  return ((i.type == Type::kBodySection || i.type == Type::kBinary) && !i.peek) || i.type == Type::kRfc822 ||
         i.type == Type::kRfc822Text;
}

// Why one message's FETCH line could not be built.
struct ItemFailure {
  std::string status;  // "NO" / "BAD"
  std::string text;
};

// The blob and its parse, loaded once per message when an item needs them.
struct LoadedMessage {
  std::string raw;
  std::optional<mail::ParsedMessage> parsed;
};

// Builds " NAME value" items for one message into `line`.
std::optional<ItemFailure> AppendItems(std::string& line, const std::vector<imap::FetchItem>& items,
                                       const v1::MessageMeta& meta, const LoadedMessage* msg) {
  auto body = [&](const imap::SectionSpec& spec, std::optional<imap::SectionPartial> partial)
      -> std::optional<std::string> {
    if (!msg->parsed) {
      // Unparseable blob: only the whole message can be served.
      if (spec.part.empty() && spec.text == imap::SectionText::kNone && !partial) return msg->raw;
      return std::nullopt;
    }
    auto r = imap::FetchBody(*msg->parsed, spec, partial);
    if (!r) return std::nullopt;
    return *r;
  };
  auto fail = [](std::string status, std::string text) { return ItemFailure{std::move(status), std::move(text)}; };
  for (const auto& item : items) {
    if (line.empty() || line.back() != '(') line += ' ';  // empty: right after a streamed literal
    switch (item.type) {
      case Type::kFlags: {
        std::vector<std::string> kw(meta.keywords().begin(), meta.keywords().end());
        line += "FLAGS " + imap::FormatFlags(meta.flags(), kw, false);
        break;
      }
      case Type::kUid: line += "UID " + std::to_string(meta.uid()); break;
      case Type::kRfc822Size: line += "RFC822.SIZE " + std::to_string(meta.size()); break;
      case Type::kInternalDate: line += "INTERNALDATE " + imap::FormatDateTime(meta.internal_date_unix(), 0); break;
      case Type::kModSeq: line += "MODSEQ (" + std::to_string(meta.modseq()) + ")"; break;
      case Type::kEnvelope:
        line += "ENVELOPE ";
        if (!meta.parsed().envelope().empty()) line += meta.parsed().envelope();
        else if (msg && msg->parsed) line += mail::Envelope(*msg->parsed);
        else return fail("NO", "[SERVERBUG] Message metadata incomplete.");
        break;
      case Type::kBodyStructure:
        line += "BODYSTRUCTURE ";
        if (!meta.parsed().bodystructure().empty()) line += meta.parsed().bodystructure();
        else if (msg && msg->parsed) line += mail::BodyStructure(*msg->parsed, true);
        else return fail("NO", "[SERVERBUG] Message metadata incomplete.");
        break;
      case Type::kBody:
        line += "BODY ";
        if (!meta.parsed().body().empty()) line += meta.parsed().body();
        else if (msg && msg->parsed) line += mail::BodyStructure(*msg->parsed, false);
        else return fail("NO", "[SERVERBUG] Message metadata incomplete.");
        break;
      case Type::kRfc822:
      case Type::kRfc822Header:
      case Type::kRfc822Text: {
        imap::SectionSpec spec;
        const char* name = "RFC822";
        if (item.type == Type::kRfc822Header) spec.text = imap::SectionText::kHeader, name = "RFC822.HEADER";
        if (item.type == Type::kRfc822Text) spec.text = imap::SectionText::kText, name = "RFC822.TEXT";
        auto data = body(spec, std::nullopt);
        if (!data) return fail("NO", "[SERVERBUG] Message could not be parsed.");
        line += std::string(name) + " ";
        imap::AppendLiteral(line, *data);
        break;
      }
      case Type::kBodySection: {
        auto spec = ToSpec(item.section);
        auto partial = ToPartial(item);
        if (!msg->parsed && !(spec.part.empty() && spec.text == imap::SectionText::kNone && !partial))
          return fail("NO", "[SERVERBUG] Message could not be parsed.");
        std::string data;
        if (msg->parsed) {
          auto r = imap::FetchBody(*msg->parsed, spec, partial);
          if (!r) return fail("BAD", imap::SectionErrorText(r.error()));
          data = std::move(*r);
        } else {
          data = msg->raw;
        }
        line += "BODY[" + imap::FormatSection(spec) + "]";
        if (partial) line += "<" + std::to_string(partial->offset) + ">";
        line += ' ';
        imap::AppendLiteral(line, data);
        break;
      }
      case Type::kBinary:
      case Type::kBinarySize: {
        if (!msg->parsed) return fail("NO", "[SERVERBUG] Message could not be parsed.");
        const auto& part = item.section.part;
        if (item.type == Type::kBinarySize) {
          auto n = imap::FetchBinarySize(*msg->parsed, part);
          if (!n) return fail("NO", std::string(imap::kCodeUnknownCte) + " " + imap::SectionErrorText(n.error()));
          line += "BINARY.SIZE[" + PartText(part) + "] " + std::to_string(*n);
        } else {
          auto partial = ToPartial(item);
          auto r = imap::FetchBinary(*msg->parsed, part, partial);
          if (!r) return fail("NO", std::string(imap::kCodeUnknownCte) + " " + imap::SectionErrorText(r.error()));
          line += "BINARY[" + PartText(part) + "]";
          if (partial) line += "<" + std::to_string(partial->offset) + ">";
          line += ' ';
          imap::AppendBinaryLiteral(line, *r);
        }
        break;
      }
    }
  }
  return std::nullopt;
}

// The byte range of the stored message an item returns, when it is a plain
// range of the whole message (BODY[] / BODY.PEEK[] / RFC822, with or without
// <partial>): such items are streamed from the blob store in chunks instead of
// loading the message. nullopt for everything else.
struct RawRange {
  std::string name;  // "BODY[]<0>", "RFC822"
  uint64_t offset = 0;
  uint64_t length = 0;
};
std::optional<RawRange> WholeMessageRange(const imap::FetchItem& item, uint64_t size) {
  if (item.type == Type::kRfc822) return RawRange{"RFC822", 0, size};
  if (item.type != Type::kBodySection || !item.section.part.empty() ||
      item.section.text != imap::FetchSection::Text::kAll)
    return std::nullopt;
  if (!item.partial) return RawRange{"BODY[]", 0, size};
  const uint64_t start = std::min<uint64_t>(item.partial->first, size);
  return RawRange{"BODY[]<" + std::to_string(item.partial->first) + ">", start,
                  std::min<uint64_t>(item.partial->second, size - start)};
}

constexpr uint64_t kStreamChunk = 64 * 1024;

// One message's FETCH line with its whole-message items streamed: the line up
// to each literal is queued, then the blob range follows chunk by chunk, so
// imapd holds kStreamChunk of the message at a time, not all of it.
asio::awaitable<std::optional<ItemFailure>> StreamMessage(Session& s, std::string line,
                                                          const std::vector<imap::FetchItem>& items,
                                                          const v1::MessageMeta& meta) {
  auto& ctx = s.ctx();
  for (const auto& item : items) {
    auto range = WholeMessageRange(item, meta.size());
    if (!range) {
      std::vector<imap::FetchItem> one{item};
      if (auto f = AppendItems(line, one, meta, nullptr)) co_return f;
      continue;
    }
    if (line.empty() || line.back() != '(') line += ' ';
    line += range->name + " {" + std::to_string(range->length) + "}\r\n";
    s.Queue(line);
    line.clear();
    for (uint64_t done = 0; done < range->length;) {
      const uint64_t n = std::min(kStreamChunk, range->length - done);
      const uint64_t at = range->offset + done;
      auto chunk = co_await ctx.pool.Run([&ctx, &meta, at, n]() { return ctx.blobs.Read(meta.blob_id(), at, n); });
      if (!chunk || chunk->size() != n) {
        // Part of the literal is on the wire: the response cannot be finished.
        log::Warn("blob read failed while streaming", {{"blob", meta.blob_id()}});
        s.Close();
        co_return ItemFailure{"NO", std::string(imap::kCodeUnavailable) + " Try again later."};
      }
      s.Queue(*chunk);
      done += n;
      if (!co_await s.FlushIfLarge()) co_return ItemFailure{"NO", "Connection closed."};
    }
  }
  s.Queue(line);  // the items after the last literal
  co_return std::nullopt;
}

}  // namespace

asio::awaitable<void> CmdFetch(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::FetchArgs>(cmd.args);
  auto& ctx = s.ctx();
  // RFC 7162 3.2.6: VANISHED only once QRESYNC is enabled.
  if (args.vanished && !s.qresync()) co_return co_await s.Done(cmd.tag, "BAD", "QRESYNC is not enabled.");
  const uint64_t changed_since = args.changed_since.value_or(0);
  const SelectedMailbox& sel = *s.selected();
  const std::vector<uint32_t> known = sel.uids.ToVector();  // the view this command answers from

  // 1. The UIDs to answer for, ascending.
  std::vector<uint32_t> uids;
  if (args.set.IsSaved()) {
    uids = sel.SavedInView();  // "$" (RFC 5182)
  } else if (cmd.uid) {
    auto set = args.set.Resolve(known.empty() ? 0 : known.back());
    for (const auto& r : set.ranges()) {
      auto lo = std::lower_bound(known.begin(), known.end(), r.first);
      auto hi = std::upper_bound(known.begin(), known.end(), r.last);
      if (lo < hi) uids.insert(uids.end(), lo, hi);
    }
  } else {
    auto set = args.set.Resolve(static_cast<uint32_t>(known.size()));
    for (const auto& r : set.ranges())
      if (r.last > known.size()) co_return co_await s.Done(cmd.tag, "BAD", "Invalid message sequence number.");
    for (const auto& r : set.ranges())
      for (uint64_t n = r.first; n <= r.last; ++n) uids.push_back(known[n - 1]);
  }

  // 2. What the items need.
  std::vector<imap::FetchItem> items = args.items;
  bool has_uid = false, has_flags = false, has_modseq = false, need_parsed = false, need_blob = false,
       sets_seen = false;
  for (const auto& i : items) {
    has_uid |= i.type == Type::kUid;
    has_flags |= i.type == Type::kFlags;
    has_modseq |= i.type == Type::kModSeq;
    need_parsed |= i.type == Type::kEnvelope || i.type == Type::kBodyStructure || i.type == Type::kBody;
    need_blob |= NeedsBlob(i.type);
    sets_seen |= SetsSeen(i);
  }
  if (cmd.uid && !has_uid) items.insert(items.begin(), imap::FetchItem{Type::kUid, false, {}, std::nullopt});
  sets_seen = sets_seen && !sel.read_only;
  // MODSEQ and CHANGEDSINCE are CONDSTORE-enabling (RFC 7162 3.1); CHANGEDSINCE
  // implies MODSEQ (3.1.4.1), and once enabled FLAGS come with MODSEQ.
  if (has_modseq || args.changed_since) s.EnableCondstore();
  if (!has_modseq && (args.changed_since || (s.condstore() && has_flags))) {
    items.push_back(imap::FetchItem{Type::kModSeq, false, {}, std::nullopt});
    has_modseq = true;
  }

  // UID FETCH ... (CHANGEDSINCE n VANISHED): UIDs of the set expunged after n
  // (RFC 7162 3.2.6), before the FETCH responses. '*' reaches past the view.
  if (args.vanished) {
    v1::ChangesRequest req;
    req.set_account_id(s.account_id());
    req.set_mailbox_id(sel.id);
    req.set_since_modseq(changed_since);
    req.set_page_size(1);  // only the tombstones are wanted
    auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::Changes, std::move(req));
    if (!r) {
      log::Warn("Changes failed", {{"error", r.error().message}});
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
    }
    auto set = args.set.Resolve(UINT32_MAX);
    std::vector<uint32_t> vanished;
    for (uint32_t u : r->expunged_uids())
      if (set.Contains(u) && !std::binary_search(known.begin(), known.end(), u)) vanished.push_back(u);
    std::sort(vanished.begin(), vanished.end());
    vanished.erase(std::unique(vanished.begin(), vanished.end()), vanished.end());
    if (!vanished.empty()) s.Queue("* VANISHED (EARLIER) " + imap::FormatUidSet(vanished) + "\r\n");
  }

  // From this process's index of the mailbox when the Watch stream vouches for
  // it (mailbox_index.h): UID, FLAGS and MODSEQ, and with the message cache
  // (message_cache.h) the unchanging rest; else from metad. A FETCH that sets
  // \Seen writes through metad anyway.
  const bool index_items_only = std::all_of(items.begin(), items.end(), [](const imap::FetchItem& i) {
    return i.type == Type::kUid || i.type == Type::kFlags || i.type == Type::kModSeq;
  });
  std::shared_ptr<const IndexSnapshot> index;
  if (index_items_only || (!sets_seen && ctx.cfg.message_cache_bytes > 0)) index = co_await CurrentIndex(s, sel.id);

  // 3. Batch by batch: metadata, \Seen, blobs, lines.
  const size_t batch = std::max<uint32_t>(1, ctx.cfg.fetch_batch);
  for (size_t start = 0; start < uids.size(); start += batch) {
    std::span<const uint32_t> part(uids.data() + start, std::min(batch, uids.size() - start));
    Result<std::vector<v1::MessageMeta>> metas;
    bool local = false;
    if (index) {
      std::vector<v1::MessageMeta> found;
      local = true;
      for (uint32_t u : part) {
        const IndexRec* r = index->Find(u);
        if (!r) continue;  // expunged meanwhile: metad would leave it out too
        if (index_items_only) {
          found.push_back(index->Meta(*r));
          continue;
        }
        auto cached = ctx.messages.Get(sel.id, u);
        if (!cached || (need_parsed && !cached->has_parsed())) {
          local = false;
          break;
        }
        v1::MessageMeta m = *cached;
        v1::MessageMeta current = index->Meta(*r);
        m.set_flags(current.flags());
        m.set_modseq(current.modseq());
        *m.mutable_keywords() = std::move(*current.mutable_keywords());
        found.push_back(std::move(m));
      }
      if (local) metas = std::move(found);
      if (!index_items_only) (local ? ctx.metrics.message_cache_hits : ctx.metrics.message_cache_misses).Increment();
    }
    if (!local) {
      metas = co_await FetchMeta(s, sel.id, ToUidSet(part), need_parsed, changed_since, /*without_text=*/true);
      // Only small FETCHes fill the cache: a client syncing a whole mailbox
      // would push out what interactive sessions use (and grow the process).
      if (metas && uids.size() <= kCacheFetchesUpTo)
        for (const auto& m : *metas) ctx.messages.Put(sel.id, m);
    }
    if (!metas) {
      log::Warn("Fetch failed", {{"error", metas.error().message}});
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
    }
    std::vector<uint32_t> newly_seen;
    if (sets_seen) {
      for (const auto& m : *metas)
        if (!(m.flags() & imap::kFlagSeen)) newly_seen.push_back(m.uid());
      if (!newly_seen.empty()) {
        v1::StoreFlagsRequest req;
        req.set_account_id(s.account_id());
        req.set_mailbox_id(sel.id);
        *req.mutable_uids() = ToUidSet(newly_seen);
        req.set_mode(v1::STORE_ADD);
        req.set_flags(imap::kFlagSeen);
        auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::StoreFlags, std::move(req));
        s.Wrote();
        if (!r) {
          log::Warn("StoreFlags failed", {{"error", r.error().message}});
          co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
        }
        for (auto& m : *metas)
          if (std::binary_search(newly_seen.begin(), newly_seen.end(), m.uid())) m.set_flags(m.flags() | imap::kFlagSeen);
        for (const auto& u : r->updated())  // the MODSEQ after setting \Seen
          for (auto& m : *metas)
            if (m.uid() == u.uid()) m.set_modseq(u.modseq());
      }
    }
    for (const auto& meta : *metas) {
      auto it = std::lower_bound(known.begin(), known.end(), meta.uid());
      if (it == known.end() || *it != meta.uid()) continue;  // not in this session's view
      if (args.changed_since && meta.modseq() <= changed_since) continue;
      const auto seq = static_cast<uint32_t>(it - known.begin()) + 1;
      bool parsed_missing = need_parsed && (meta.parsed().envelope().empty() || meta.parsed().bodystructure().empty());
      std::string line;  // what follows the last queued part of this response
      if (need_blob && !parsed_missing && meta.size() > ctx.cfg.fetch_stream_threshold &&
          std::all_of(items.begin(), items.end(), [&](const imap::FetchItem& i) {
            return !NeedsBlob(i.type) || WholeMessageRange(i, meta.size()).has_value();
          })) {
        ctx.metrics.fetch_bodies_streamed.Increment();
        std::string head = "* " + std::to_string(seq) + " FETCH (";
        auto f = co_await StreamMessage(s, std::move(head), items, meta);
        if (f) {
          if (s.closing()) co_return;
          co_return co_await s.Done(cmd.tag, f->status, f->text);
        }
      } else {
        std::optional<LoadedMessage> loaded;
        if (need_blob || parsed_missing) {
          auto raw = co_await ctx.pool.Run(
              [&]() { return ctx.blobs.Read(meta.blob_id(), 0, std::max<uint64_t>(meta.size(), 1)); });
          if (!raw) {
            log::Warn("blob read failed", {{"blob", meta.blob_id()}, {"error", raw.error().message}});
            co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
          }
          loaded.emplace();
          loaded->raw = std::move(*raw);
          if (auto p = mail::ParseMessage(loaded->raw)) loaded->parsed = std::move(*p);
        }
        line = "* " + std::to_string(seq) + " FETCH (";
        if (auto f = AppendItems(line, items, meta, loaded ? &*loaded : nullptr))
          co_return co_await s.Done(cmd.tag, f->status, f->text);
      }
      // The \Seen this FETCH set, when FLAGS was not asked for (RFC 3501 6.4.5).
      if (!has_flags && std::binary_search(newly_seen.begin(), newly_seen.end(), meta.uid())) {
        std::vector<std::string> kw(meta.keywords().begin(), meta.keywords().end());
        line += " FLAGS " + imap::FormatFlags(meta.flags(), kw, false);
        if (s.qresync() && !cmd.uid) line += " UID " + std::to_string(meta.uid());
        if (s.condstore() && !has_modseq) line += " MODSEQ (" + std::to_string(meta.modseq()) + ")";
      }
      line += ")\r\n";
      s.Queue(line);
      if (!co_await s.FlushIfLarge()) co_return;
    }
  }
  co_await s.Done(cmd.tag, "OK", cmd.uid ? "UID FETCH completed." : "Fetch completed.");
}

}  // namespace columba::imapd
