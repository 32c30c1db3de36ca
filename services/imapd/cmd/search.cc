// search.cc - SEARCH and UID SEARCH (RFC 3501 6.4.4, ESEARCH RFC 4731,
// MODSEQ criterion RFC 7162 3.1.5).
//
// DESCRIPTION
//   lib/imap's SearchKey tree is translated into metad SearchKeys and
//   evaluated by metad (one Search call), or, when every key is about UIDs,
//   flags, keywords or MODSEQ, on this process's index of the mailbox while it
//   is current (mailbox_index.h SearchIndex); the UIDs are filtered to
//   the session's UID list and answered as sequence numbers (SEARCH) or UIDs
//   (UID SEARCH), or as one ESEARCH line when RETURN (...) was given.
//
//   Translation: every node becomes "true", "false" or a metad key, so ALL,
//   OLD and empty groups vanish and RECENT / NEW (Columba has no \Recent)
//   become "false" without a round trip when the whole search is false.
//   Sequence-set keys become UID ranges: sequence range a:b is the UID range
//   uids[a-1]:uids[b-1], exact because every UID between the two that exists
//   in metad is in the session's list (newer messages get higher UIDs) and the
//   answer is filtered to the list anyway. Sequence numbers above EXISTS are
//   ignored. A nested AND (parenthesised group under OR/NOT) is sent as
//   none_of{none_of{a}, none_of{b}, ...}, since metad has no and_of.
//   Dates: BEFORE d = internal date < d 00:00 UTC, SINCE d = >= d 00:00 UTC,
//   ON d = both with d+1; the SENT* keys likewise on the Date: header.
//   OLDER/YOUNGER (RFC 5032) are relative to now.
//
//   MODSEQ: when the criteria hold a MODSEQ key, the response carries
//   (MODSEQ n), n = the highest mod-sequence of the matching messages (read
//   through metad Fetch, since Search reports only the mailbox's value); for
//   ESEARCH with only MIN and/or MAX it is the highest of those messages.
//
// NOT YET
//   SEARCHRES (RETURN (SAVE) and "$") answers NO [CANNOT] / BAD. CHARSET
//   accepts US-ASCII and UTF-8 only (strings are matched as UTF-8 bytes,
//   case-insensitively by metad).
//
// NEVER
//   Never reports a message the session has not been told about (results are
//   filtered to the session's UID list), never answers OK when metad failed.
//   EvaluateSearch (steps 1-2) is shared with SORT and THREAD (cmd/sort.cc).
#include <algorithm>
#include <chrono>
#include <limits>
#include <span>

#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "services/imapd/commands.h"
#include "services/imapd/mailbox_index.h"
#include "services/imapd/metad_fetch.h"

namespace columba::imapd {

namespace {

using KType = imap::SearchKey::Type;

// A translated node: matches everything, nothing, or what `key` matches.
struct Node {
  enum class Kind { kTrue, kFalse, kKey };
  Kind kind = Kind::kTrue;
  v1::SearchKey key;

  static Node True() { return Node{}; }
  static Node False() { return Node{Kind::kFalse, {}}; }
  static Node Key(v1::SearchKey k) { return Node{Kind::kKey, std::move(k)}; }
};

// What the translation needs from the session and what it learns.
struct Translation {
  const std::vector<uint32_t>& known;  // the session's UID list
  int64_t now_unix = 0;
  bool has_modseq = false;  // a MODSEQ criterion was seen
  bool uses_saved = false;  // "$" was seen (SEARCHRES)
  std::vector<uint32_t> saved;  // the saved result within the view
};

int64_t DayStart(const imap::SearchDate& d) {
  using namespace std::chrono;
  const year_month_day ymd{year{d.year}, month{static_cast<unsigned>(d.month)}, day{static_cast<unsigned>(d.day)}};
  return duration_cast<seconds>(sys_days{ymd}.time_since_epoch()).count();
}

constexpr int64_t kDay = 24 * 60 * 60;

v1::SearchKey Flags(uint32_t mask, bool set) {
  v1::SearchKey k;
  if (set) k.set_flags_set(mask);
  else k.set_flags_unset(mask);
  return k;
}

Node Not(Node n) {
  switch (n.kind) {
    case Node::Kind::kTrue: return Node::False();
    case Node::Kind::kFalse: return Node::True();
    case Node::Kind::kKey: break;
  }
  v1::SearchKey k;
  *k.mutable_none_of()->add_keys() = std::move(n.key);
  return Node::Key(std::move(k));
}

// AND of translated children: trues dropped, any false is false.
Node And(std::vector<Node> nodes) {
  std::vector<v1::SearchKey> keys;
  for (auto& n : nodes) {
    if (n.kind == Node::Kind::kFalse) return Node::False();
    if (n.kind == Node::Kind::kKey) keys.push_back(std::move(n.key));
  }
  if (keys.empty()) return Node::True();
  if (keys.size() == 1) return Node::Key(std::move(keys[0]));
  // a AND b = NOT (NOT a OR NOT b) = none_of{none_of{a}, none_of{b}}.
  v1::SearchKey k;
  for (auto& key : keys) {
    auto* inner = k.mutable_none_of()->add_keys();
    *inner->mutable_none_of()->add_keys() = std::move(key);
  }
  return Node::Key(std::move(k));
}

Node Or(Node a, Node b) {
  if (a.kind == Node::Kind::kTrue || b.kind == Node::Kind::kTrue) return Node::True();
  if (a.kind == Node::Kind::kFalse) return b;
  if (b.kind == Node::Kind::kFalse) return a;
  v1::SearchKey k;
  *k.mutable_any_of()->add_keys() = std::move(a.key);
  *k.mutable_any_of()->add_keys() = std::move(b.key);
  return Node::Key(std::move(k));
}

Node Uids(v1::UidSet set) {
  if (set.ranges_size() == 0) return Node::False();
  v1::SearchKey k;
  *k.mutable_uids() = std::move(set);
  return Node::Key(std::move(k));
}

Node SequenceKey(const imap::SequenceSet& set, Translation& t) {
  if (set.IsSaved()) {
    t.uses_saved = true;
    return t.saved.empty() ? Node::False() : Uids(ToUidSet(t.saved));
  }
  const auto& known = t.known;
  auto resolved = set.Resolve(static_cast<uint32_t>(known.size()));
  v1::UidSet uids;
  for (const auto& r : resolved.ranges()) {
    if (r.first > known.size()) break;  // ranges are sorted: the rest are beyond EXISTS too
    const uint64_t last = std::min<uint64_t>(r.last, known.size());
    auto* u = uids.add_ranges();
    u->set_first(known[r.first - 1]);
    u->set_last(known[last - 1]);
  }
  return Uids(std::move(uids));
}

Node UidKey(const imap::SequenceSet& set, Translation& t) {
  if (set.IsSaved()) {
    t.uses_saved = true;
    return t.saved.empty() ? Node::False() : Uids(ToUidSet(t.saved));
  }
  auto resolved = set.Resolve(t.known.empty() ? 0 : t.known.back());
  v1::UidSet uids;
  for (const auto& r : resolved.ranges()) {
    auto* u = uids.add_ranges();
    u->set_first(r.first);
    u->set_last(r.last);
  }
  return Uids(std::move(uids));
}

Node Translate(const imap::SearchKey& key, Translation& t) {
  v1::SearchKey k;
  switch (key.type) {
    case KType::kAnd: {
      std::vector<Node> nodes;
      nodes.reserve(key.children.size());
      for (const auto& c : key.children) nodes.push_back(Translate(c, t));
      return And(std::move(nodes));
    }
    case KType::kOr:
      if (key.children.size() != 2) return Node::False();
      return Or(Translate(key.children[0], t), Translate(key.children[1], t));
    case KType::kNot:
      if (key.children.size() != 1) return Node::False();
      return Not(Translate(key.children[0], t));
    case KType::kAll:
    case KType::kOld: return Node::True();  // no \Recent: every message is old
    case KType::kNew:
    case KType::kRecent: return Node::False();
    case KType::kAnswered: return Node::Key(Flags(imap::kFlagAnswered, true));
    case KType::kDeleted: return Node::Key(Flags(imap::kFlagDeleted, true));
    case KType::kDraft: return Node::Key(Flags(imap::kFlagDraft, true));
    case KType::kFlagged: return Node::Key(Flags(imap::kFlagFlagged, true));
    case KType::kSeen: return Node::Key(Flags(imap::kFlagSeen, true));
    case KType::kUnanswered: return Node::Key(Flags(imap::kFlagAnswered, false));
    case KType::kUndeleted: return Node::Key(Flags(imap::kFlagDeleted, false));
    case KType::kUndraft: return Node::Key(Flags(imap::kFlagDraft, false));
    case KType::kUnflagged: return Node::Key(Flags(imap::kFlagFlagged, false));
    case KType::kUnseen: return Node::Key(Flags(imap::kFlagSeen, false));
    case KType::kKeyword: k.set_keyword(key.value); break;
    case KType::kUnkeyword: k.set_unkeyword(key.value); break;
    case KType::kBcc: k.set_bcc(key.value); break;
    case KType::kBody: k.set_body(key.value); break;
    case KType::kCc: k.set_cc(key.value); break;
    case KType::kFrom: k.set_from(key.value); break;
    case KType::kSubject: k.set_subject(key.value); break;
    case KType::kText: k.set_text(key.value); break;
    case KType::kTo: k.set_to(key.value); break;
    case KType::kHeader:
      k.mutable_header()->set_name(key.field);
      k.mutable_header()->set_value(key.value);
      break;
    case KType::kBefore: k.set_before_unix(DayStart(key.date)); break;
    case KType::kSince: k.set_since_unix(DayStart(key.date)); break;
    case KType::kOn: {
      v1::SearchKey since, before;
      since.set_since_unix(DayStart(key.date));
      before.set_before_unix(DayStart(key.date) + kDay);
      std::vector<Node> both;
      both.push_back(Node::Key(std::move(since)));
      both.push_back(Node::Key(std::move(before)));
      return And(std::move(both));
    }
    case KType::kSentBefore: k.set_sent_before_unix(DayStart(key.date)); break;
    case KType::kSentSince: k.set_sent_since_unix(DayStart(key.date)); break;
    case KType::kSentOn: {
      v1::SearchKey since, before;
      since.set_sent_since_unix(DayStart(key.date));
      before.set_sent_before_unix(DayStart(key.date) + kDay);
      std::vector<Node> both;
      both.push_back(Node::Key(std::move(since)));
      both.push_back(Node::Key(std::move(before)));
      return And(std::move(both));
    }
    case KType::kLarger: k.set_larger(key.number); break;
    case KType::kSmaller:
      if (key.number == 0) return Node::False();
      k.set_smaller(key.number);
      break;
    case KType::kSequenceSet: return SequenceKey(key.set, t);
    case KType::kUid: return UidKey(key.set, t);
    case KType::kModSeq:
      t.has_modseq = true;
      if (key.number == 0) return Node::True();
      k.set_modseq_at_least(key.number);
      break;
    case KType::kOlder: {  // internal date at least n seconds ago
      const int64_t n = static_cast<int64_t>(std::min<uint64_t>(key.number, std::numeric_limits<int32_t>::max()));
      k.set_before_unix(t.now_unix - n + 1);
      break;
    }
    case KType::kYounger: {  // internal date at most n seconds ago
      const int64_t n = static_cast<int64_t>(std::min<uint64_t>(key.number, std::numeric_limits<int32_t>::max()));
      k.set_since_unix(t.now_unix - n);
      break;
    }
  }
  return Node::Key(std::move(k));
}

bool HasOption(const std::vector<std::string>& opts, std::string_view o) {
  return std::find(opts.begin(), opts.end(), o) != opts.end();
}

}  // namespace

std::string SearchErrorReply(const Error& e) {
  if (e.kind == ErrorKind::kLimitExceeded) return std::string(imap::kCodeLimit) + " Search is too complex.";
  return std::string(imap::kCodeUnavailable) + " Try again later.";
}

asio::awaitable<Result<SearchMatches>> EvaluateSearch(Session& s, uint64_t mailbox_id, const imap::SearchKey& key,
                                                      const std::vector<uint32_t>& known) {
  SearchMatches out;
  // 1. Translate the key tree.
  Translation t{known, 0, false, false, s.selected() ? s.selected()->SavedInView() : std::vector<uint32_t>()};
  t.now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<v1::SearchKey> keys;
  bool nothing = false;
  if (key.type == KType::kAnd) {
    // The top-level conjunction goes to metad as separate (ANDed) keys.
    for (const auto& c : key.children) {
      Node n = Translate(c, t);
      if (n.kind == Node::Kind::kFalse) nothing = true;
      if (n.kind == Node::Kind::kKey) keys.push_back(std::move(n.key));
    }
  } else {
    Node n = Translate(key, t);
    if (n.kind == Node::Kind::kFalse) nothing = true;
    if (n.kind == Node::Kind::kKey) keys.push_back(std::move(n.key));
  }
  out.has_modseq = t.has_modseq;
  out.uses_saved = t.uses_saved;

  // 2. Evaluate in metad; keep what the session knows.
  // Keys on UIDs, flags, keywords and MODSEQ only: this process's index of
  // the mailbox answers when the Watch stream vouches for it (mailbox_index.h).
  if (!nothing && !known.empty() && IndexCanSearch(keys)) {
    if (auto index = co_await CurrentIndex(s, mailbox_id)) {
      const auto found = SearchIndex(*index, keys);  // (a named result: range-for would dangle)
      for (uint32_t uid : *found)
        if (std::binary_search(known.begin(), known.end(), uid)) out.uids.push_back(uid);
      co_return out;
    }
  }
  if (!nothing && !known.empty()) {
    v1::SearchRequest req;
    req.set_account_id(s.account_id());
    req.set_mailbox_id(mailbox_id);
    for (auto& k : keys) *req.add_keys() = std::move(k);
    auto r = co_await s.ctx().metad.Call(&v1::Metadata::Stub::async::Search, std::move(req));
    if (!r) {
      log::Warn("Search failed", {{"error", r.error().message}});
      co_return tl::unexpected(r.error());
    }
    for (uint32_t uid : r->uids())
      if (std::binary_search(known.begin(), known.end(), uid)) out.uids.push_back(uid);
    std::sort(out.uids.begin(), out.uids.end());
    out.uids.erase(std::unique(out.uids.begin(), out.uids.end()), out.uids.end());
  }
  co_return out;
}

asio::awaitable<void> CmdSearch(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::SearchArgs>(cmd.args);
  auto& ctx = s.ctx();
  const char* done = cmd.uid ? "UID SEARCH completed." : "Search completed.";

  const bool save = HasOption(args.return_options, "SAVE");
  // RFC 5182 2.1: a failed SEARCH ... SAVE leaves an empty saved result.
  if (save) s.selected()->saved.clear();
  if (args.charset && *args.charset != "US-ASCII" && *args.charset != "UTF-8")
    co_return co_await s.Done(cmd.tag, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset.");
  for (const auto& o : args.return_options)
    if (o != "MIN" && o != "MAX" && o != "ALL" && o != "COUNT" && o != "SAVE")
      co_return co_await s.Done(cmd.tag, "BAD", "Unknown RETURN option.");

  const SelectedMailbox& sel = *s.selected();
  const std::vector<uint32_t> known = sel.uids.ToVector();  // the view this command answers from

  // 1.-2. Translate the key tree and evaluate it in metad (EvaluateSearch).
  auto matches = co_await EvaluateSearch(s, sel.id, args.key, known);
  if (!matches) {
    std::string reply = SearchErrorReply(matches.error());
    co_return co_await s.Done(cmd.tag, "NO", std::move(reply));
  }
  const std::vector<uint32_t>& uids = matches->uids;

  // 3. The numbers to answer with.
  std::vector<uint32_t> numbers;
  numbers.reserve(uids.size());
  for (uint32_t uid : uids) {
    if (cmd.uid) {
      numbers.push_back(uid);
    } else {
      auto it = std::lower_bound(known.begin(), known.end(), uid);
      numbers.push_back(static_cast<uint32_t>(it - known.begin()) + 1);
    }
  }

  // 4. MODSEQ of the matches (only with a MODSEQ criterion).
  const auto& opts = args.return_options;
  const bool only_save = save && opts.size() == 1;
  // RFC 5182 2.1: SAVE alone, no ESEARCH. RFC 9051 6.4.4: IMAP4rev2 always answers ESEARCH.
  const bool esearch = (args.has_return || s.rev2()) && !only_save;
  const bool want_all = (!esearch && !only_save) || (esearch && (opts.empty() || HasOption(opts, "ALL")));
  const bool want_count = esearch && HasOption(opts, "COUNT");
  const bool want_min = esearch && HasOption(opts, "MIN");
  const bool want_max = esearch && HasOption(opts, "MAX");
  if (save) {
    // RFC 5182 2.4: with MIN and/or MAX only, just those are saved.
    auto& saved = s.selected()->saved;
    if (!uids.empty() && (want_min || want_max) && !HasOption(opts, "ALL") && !want_count) {
      if (want_min) saved.push_back(uids.front());
      if (want_max && (saved.empty() || saved.back() != uids.back())) saved.push_back(uids.back());
    } else {
      saved = uids;
    }
  }
  std::optional<uint64_t> modseq;
  if (matches->has_modseq && !uids.empty()) {
    // With only MIN and/or MAX, the mod-sequence of those messages (RFC 7162 3.1.5).
    std::vector<uint32_t> of = uids;
    if (esearch && !want_all && !want_count) {
      of.clear();
      if (want_min) of.push_back(uids.front());
      if (want_max && (of.empty() || of.back() != uids.back())) of.push_back(uids.back());
    }
    const size_t batch = std::max<uint32_t>(1, ctx.cfg.fetch_batch);
    uint64_t highest = 0;
    for (size_t start = 0; start < of.size(); start += batch) {
      std::span<const uint32_t> part(of.data() + start, std::min(batch, of.size() - start));
      auto metas = co_await FetchMeta(s, sel.id, ToUidSet(part), false);
      if (!metas) {
        log::Warn("Fetch failed", {{"error", metas.error().message}});
        co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeUnavailable) + " Try again later.");
      }
      for (const auto& m : *metas) highest = std::max<uint64_t>(highest, m.modseq());
    }
    if (highest) modseq = highest;
  }

  // 5. Answer.
  if (only_save) {
    // Nothing to say: the result is kept for "$".
  } else if (esearch) {
    imap::EsearchResponse e;
    e.tag = cmd.tag;
    e.uid = cmd.uid;
    if (want_min && !numbers.empty()) e.min = numbers.front();
    if (want_max && !numbers.empty()) e.max = numbers.back();
    if (want_count) e.count = numbers.size();
    if (want_all) e.all = numbers;
    e.modseq = modseq;
    s.Queue(imap::FormatEsearch(e));
  } else {
    std::string line = "* SEARCH";
    for (uint32_t n : numbers) {
      line += ' ';
      line += std::to_string(n);
      if (line.size() >= 64 * 1024) {  // queue long answers in pieces (one line on the wire)
        s.Queue(line);
        line.clear();
        if (!co_await s.FlushIfLarge()) co_return;
      }
    }
    if (modseq) line += " (MODSEQ " + std::to_string(*modseq) + ")";
    line += "\r\n";
    s.Queue(line);
  }
  co_await s.Done(cmd.tag, "OK", done);
}

}  // namespace columba::imapd
