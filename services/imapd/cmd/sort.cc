// sort.cc - SORT, UID SORT, THREAD and UID THREAD (RFC 5256).
//
// DESCRIPTION
//   The search program is evaluated by metad exactly as SEARCH does
//   (EvaluateSearch, cmd/search.cc). The matching messages' metadata is then
//   read with metad Fetch in pages of imap.fetch_batch UIDs (with the parsed
//   fields only when a key needs them: everything but ARRIVAL and SIZE), and
//   each page is reduced to small sort/thread records (lib/imap sort.h,
//   thread.h) before the next is read, so memory grows with the number of
//   matches, not with their header sizes. The result is answered as
//   "* SORT n ..." / "* THREAD (...)..." with sequence numbers, or UIDs for
//   the UID forms.
//
//   CHARSET: US-ASCII and UTF-8 (strings are compared as UTF-8), anything
//   else is NO [BADCHARSET (US-ASCII UTF-8)]. THREAD algorithms: REFERENCES
//   and ORDEREDSUBJECT, others BAD. DISPLAYFROM / DISPLAYTO (RFC 5957) are
//   sorted too. A message expunged by another session after the search is
//   left out of the answer (metad no longer returns it).
//
// NEVER
//   Never reports a message the session has not been told about (the search
//   result is filtered to the session's UID list), never answers OK when
//   metad failed, never reads message blobs.
#include <algorithm>
#include <span>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "lib/imap/sort.h"
#include "lib/imap/thread.h"
#include "services/imapd/commands.h"
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

namespace {

bool CharsetSupported(const std::string& charset) { return charset == "US-ASCII" || charset == "UTF-8"; }

uint32_t SequenceNumber(const std::vector<uint32_t>& known, uint32_t uid) {
  return static_cast<uint32_t>(std::lower_bound(known.begin(), known.end(), uid) - known.begin()) + 1;
}

// A tagged reply for a failure; status empty = success.
struct Outcome {
  std::string status;
  std::string text;
};

// The search, then every page of metadata handed to `each(meta, seq)`.
template <typename Each>
asio::awaitable<Outcome> ForEachMatch(Session& s, const imap::SearchKey& key,
                                                                   bool with_parsed, Each each) {
  const SelectedMailbox& sel = *s.selected();
  const uint64_t mailbox_id = sel.id;
  const std::vector<uint32_t> known = sel.uids.ToVector();  // the view this command answers from
  auto matches = co_await EvaluateSearch(s, mailbox_id, key, known);
  if (!matches) co_return Outcome{"NO", SearchErrorReply(matches.error())};
  const std::vector<uint32_t>& uids = matches->uids;
  const size_t batch = std::max<uint32_t>(1, s.ctx().cfg.fetch_batch);
  for (size_t start = 0; start < uids.size(); start += batch) {
    std::span<const uint32_t> part(uids.data() + start, std::min(batch, uids.size() - start));
    v1::UidSet set = ToUidSet(part);
    auto metas = co_await FetchMeta(s, mailbox_id, std::move(set), with_parsed);
    if (!metas) {
      log::Warn("Fetch failed", {{"error", metas.error().message}});
      co_return Outcome{"NO", std::string(imap::kCodeUnavailable) + " Try again later."};
    }
    for (const auto& m : *metas) {
      // Fetch ranges may cover UIDs between the matches: keep only the matches.
      if (!std::binary_search(part.begin(), part.end(), m.uid())) continue;
      each(m, SequenceNumber(known, m.uid()));
    }
  }
  co_return Outcome{};
}

}  // namespace

asio::awaitable<void> CmdSort(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::SortArgs>(cmd.args);
  const char* done = cmd.uid ? "UID SORT completed." : "SORT completed.";
  if (!CharsetSupported(args.charset))
    co_return co_await s.Done(cmd.tag, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset.");
  const auto specs = imap::SortSpecs(args.criteria);
  if (!specs || specs->empty()) co_return co_await s.Done(cmd.tag, "BAD", "Unknown sort criterion.");
  const bool with_parsed = std::any_of(specs->begin(), specs->end(), [](const imap::SortSpec& sp) {
    return sp.key != imap::SortKey::kArrival && sp.key != imap::SortKey::kSize;
  });

  std::vector<imap::SortRecord> records;
  const bool uid = cmd.uid;
  auto each = [&](const v1::MessageMeta& m, uint32_t seq) {
    const auto& p = m.parsed();
    imap::SortInput in;
    in.seq = seq;
    in.number = uid ? m.uid() : seq;
    in.internal_date = m.internal_date_unix();
    in.sent_date = p.sent_unix();
    in.size = m.size();
    in.subject = p.subject();
    in.envelope = p.envelope();
    in.from = p.from();
    in.to = p.to();
    in.cc = p.cc();
    records.push_back(imap::MakeSortRecord(in, *specs));
  };
  Outcome outcome = co_await ForEachMatch(s, args.key, with_parsed, each);
  if (!outcome.status.empty()) co_return co_await s.Done(cmd.tag, outcome.status, outcome.text);

  imap::SortRecords(records, *specs);
  std::string line = "* SORT";
  for (const auto& r : records) {
    line += ' ';
    line += std::to_string(r.number);
    if (line.size() >= 64 * 1024) {  // queue long answers in pieces (one line on the wire)
      s.Queue(line);
      line.clear();
      if (!co_await s.FlushIfLarge()) co_return;
    }
  }
  line += "\r\n";
  s.Queue(line);
  co_await s.Done(cmd.tag, "OK", done);
}

asio::awaitable<void> CmdThread(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::ThreadArgs>(cmd.args);
  const char* done = cmd.uid ? "UID THREAD completed." : "THREAD completed.";
  const bool references = args.algorithm == "REFERENCES";
  if (!references && args.algorithm != "ORDEREDSUBJECT")
    co_return co_await s.Done(cmd.tag, "BAD", "Unknown thread algorithm.");
  if (!CharsetSupported(args.charset))
    co_return co_await s.Done(cmd.tag, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset.");

  std::vector<imap::ThreadRecord> records;
  const bool uid = cmd.uid;
  auto each = [&](const v1::MessageMeta& m, uint32_t seq) {
    const auto& p = m.parsed();
    imap::ThreadInput in;
    in.seq = seq;
    in.number = uid ? m.uid() : seq;
    in.sent_date = imap::SentDate(p.sent_unix(), m.internal_date_unix());
    in.subject = p.subject();
    in.message_id = p.message_id();
    in.in_reply_to = p.in_reply_to();
    in.references = p.references();
    records.push_back(imap::MakeThreadRecord(in));
  };
  Outcome outcome = co_await ForEachMatch(s, args.key, true, each);
  if (!outcome.status.empty()) co_return co_await s.Done(cmd.tag, outcome.status, outcome.text);

  // Records arrive in ascending UID order, which is sequence order.
  imap::ThreadForest forest =
      references ? imap::ThreadReferences(std::move(records)) : imap::ThreadOrderedSubject(std::move(records));
  std::string line = "* THREAD";
  if (!forest.roots.empty()) line += ' ';
  line += imap::FormatThreads(forest);
  line += "\r\n";
  s.Queue(line);
  co_await s.Done(cmd.tag, "OK", done);
}

}  // namespace columba::imapd
