// parser.cc - IMAP command framing (lines and literals) and grammar. See parser.h.
//
// The grammar half (class Reader) works on one complete command. Errors are
// sticky: the first failure is kept, every later primitive returns an empty
// value, and loops stop on !ok(). Recursion (SEARCH groups, NOT, OR) is bounded
// by limits.max_nesting. Never performs I/O; never uses regex.
#include "lib/imap/parser.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <optional>
#include <utility>

namespace columba::imap {
namespace {

bool IsAtomOctet(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}
bool IsAStringOctet(char c) { return IsAtomOctet(c) || c == ']'; }
bool IsListOctet(char c) { return IsAtomOctet(c) || c == '%' || c == '*' || c == ']'; }
bool IsTagOctet(char c) { return IsAStringOctet(c) && c != '+'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string NormaliseInbox(std::string name) {
  if (IEquals(name, "INBOX")) return "INBOX";
  return name;
}

// The tag at the start of a command, if it is a valid tag.
std::string TagOf(std::string_view cmd) {
  size_t n = 0;
  while (n < cmd.size() && IsTagOctet(cmd[n])) ++n;
  if (n == 0 || (n < cmd.size() && cmd[n] != ' ')) return "";
  return std::string(cmd.substr(0, n));
}

struct LiteralMarker {
  uint64_t size = 0;
  bool sync = true;
  bool minus = false;
};

// A literal marker ending the line ("{12}", "{12+}", "{12-}", "~{12}"), if any.
std::optional<LiteralMarker> TrailingLiteral(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  size_t end = line.size() - 1;
  LiteralMarker m;
  if (end > 0 && (line[end - 1] == '+' || line[end - 1] == '-')) {
    m.sync = false;
    m.minus = line[end - 1] == '-';
    --end;
  }
  size_t start = end;
  while (start > 0 && IsDigit(line[start - 1])) --start;
  if (start == end || start == 0 || line[start - 1] != '{') return std::nullopt;
  if (end - start > 19) {
    m.size = UINT64_MAX;  // larger than any limit
  } else {
    for (size_t i = start; i < end; ++i) m.size = m.size * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  return m;
}

struct Fault {
  std::string code;
  std::string text;
};

class Reader {
 public:
  Reader(std::string_view s, const std::vector<size_t>& literals, const ParserLimits& limits,
         const ParserOptions& options)
      : s_(s), literals_(literals), limits_(limits), options_(options) {}

  bool ok() const { return !fault_.has_value(); }
  const Fault& fault() const { return *fault_; }
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  size_t pos() const { return i_; }

  void Fail(std::string text, std::string code = "") {
    if (!fault_) fault_ = Fault{std::move(code), std::move(text)};
  }
  void Limit(std::string text) { Fail(std::move(text), "LIMIT"); }

  bool Consume(char c) {
    if (ok() && Peek() == c && !AtEnd()) {
      ++i_;
      return true;
    }
    return false;
  }
  void Expect(char c, const char* what) {
    if (!Consume(c)) Fail(std::string("expected ") + what);
  }
  // One or more spaces (liberal: some clients double them).
  void Space() {
    if (!ok()) return;
    if (Peek() != ' ' || AtEnd()) {
      Fail("expected space");
      return;
    }
    while (!AtEnd() && Peek() == ' ') ++i_;
  }
  bool TrySpace() {
    if (!ok() || AtEnd() || Peek() != ' ') return false;
    while (!AtEnd() && Peek() == ' ') ++i_;
    return true;
  }
  void End() {
    while (!AtEnd() && Peek() == ' ') ++i_;  // trailing spaces: liberal
    if (ok() && !AtEnd()) Fail("unexpected characters at end of command");
  }

  std::string_view Run(bool (*pred)(char)) {
    size_t start = i_;
    while (ok() && !AtEnd() && pred(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  std::string Atom(const char* what = "atom") {
    auto a = Run(IsAtomOctet);
    if (ok() && a.empty()) Fail(std::string("expected ") + what);
    return std::string(a);
  }
  std::string UpperAtom(const char* what = "atom") { return Upper(Atom(what)); }

  // The next atom-like word (without consuming it), upper-cased.
  std::string PeekWord() const {
    size_t j = i_;
    while (j < s_.size() && IsAStringOctet(s_[j])) ++j;
    return Upper(s_.substr(i_, j - i_));
  }
  bool TryWord(std::string_view w) {
    if (!ok()) return false;
    size_t j = i_;
    while (j < s_.size() && IsAtomOctet(s_[j])) ++j;
    if (IEquals(s_.substr(i_, j - i_), w)) {
      i_ = j;
      return true;
    }
    return false;
  }

  uint64_t Number64(const char* what = "number") {
    if (!ok()) return 0;
    if (!IsDigit(Peek()) || AtEnd()) {
      Fail(std::string("expected ") + what);
      return 0;
    }
    uint64_t v = 0;
    while (!AtEnd() && IsDigit(Peek())) {
      uint64_t d = static_cast<uint64_t>(s_[i_] - '0');
      if (v > (UINT64_MAX - d) / 10 || v * 10 + d > 0x7FFFFFFFFFFFFFFFull) {
        Fail(std::string(what) + " too large");
        return 0;
      }
      v = v * 10 + d;
      ++i_;
    }
    return v;
  }
  uint32_t Number32(const char* what = "number") {
    uint64_t v = Number64(what);
    if (v > 0xFFFFFFFFull) {
      Fail(std::string(what) + " too large");
      return 0;
    }
    return static_cast<uint32_t>(v);
  }
  uint32_t NzNumber(const char* what = "number") {
    uint32_t v = Number32(what);
    if (ok() && v == 0) Fail(std::string(what) + " must not be 0");
    return v;
  }

  std::string Quoted() {
    std::string out;
    if (!ok()) return out;
    ++i_;  // opening quote
    while (true) {
      if (AtEnd()) {
        Fail("unterminated quoted string");
        return out;
      }
      char c = s_[i_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (AtEnd() || (s_[i_] != '\\' && s_[i_] != '"')) {
          Fail("invalid escape in quoted string");
          return out;
        }
        out.push_back(s_[i_++]);
        continue;
      }
      auto u = static_cast<unsigned char>(c);
      if (u == 0 || c == '\r' || c == '\n') {
        Fail("invalid character in quoted string");
        return out;
      }
      if (u >= 0x80 && !options_.utf8_accept) {
        Fail("8-bit character in quoted string (use a literal)");
        return out;
      }
      out.push_back(c);
    }
  }

  // {n} {n+} {n-} or, with allow_binary, ~{n}. Returns the octets.
  std::string Literal(bool allow_binary, bool* binary = nullptr) {
    std::string out;
    if (!ok()) return out;
    bool is8 = false;
    if (Peek() == '~') {
      if (!allow_binary) {
        Fail("literal8 is not allowed here");
        return out;
      }
      is8 = true;
      ++i_;
    }
    Expect('{', "literal");
    uint64_t n = Number64("literal size");
    if (!Consume('+')) Consume('-');
    Expect('}', "'}'");
    if (!ok()) return out;
    if (!std::binary_search(literals_.begin(), literals_.end(), i_)) {
      Fail("literal must end the line");
      return out;
    }
    if (n > s_.size() - i_) {
      Fail("literal truncated");
      return out;
    }
    out.assign(s_.substr(i_, n));
    i_ += n;
    if (!is8 && out.find('\0') != std::string::npos) {
      Fail("NUL in literal (use literal8)");
    }
    if (binary != nullptr) *binary = is8;
    return out;
  }

  bool AtLiteral() const { return Peek() == '{'; }

  std::string String() {
    if (Peek() == '"') return Quoted();
    if (AtLiteral()) return Literal(false);
    Fail("expected string");
    return "";
  }
  std::string AString() {
    if (Peek() == '"' || AtLiteral()) return String();
    auto a = Run(IsAStringOctet);
    if (ok() && a.empty()) Fail("expected astring");
    return std::string(a);
  }
  std::optional<std::string> NString() {
    if (TryWord("NIL")) return std::nullopt;
    return String();
  }
  std::string Mailbox() { return NormaliseInbox(AString()); }
  std::string ListMailbox() {
    if (Peek() == '"' || AtLiteral()) return String();
    auto a = Run(IsListOctet);
    if (ok() && a.empty()) Fail("expected mailbox pattern");
    return std::string(a);
  }

  // A flag: "\Seen", "$Forwarded", "Junk". Liberal like Dovecot: '\' inside.
  std::string Flag() {
    size_t start = i_;
    if (Peek() == '\\') ++i_;
    while (ok() && !AtEnd() && (IsAtomOctet(s_[i_]) || s_[i_] == '\\')) ++i_;
    if (ok() && (i_ == start || (i_ == start + 1 && s_[start] == '\\'))) Fail("expected flag");
    return std::string(s_.substr(start, i_ - start));
  }
  // "(" [flag *(SP flag)] ")"
  std::vector<std::string> FlagList() {
    std::vector<std::string> flags;
    Expect('(', "'(' of flag list");
    while (ok() && Peek() != ')') {
      if (!flags.empty()) Space();
      if (Peek() == ')') break;  // trailing space
      flags.push_back(Flag());
      if (flags.size() > limits_.max_list_items) Limit("too many flags");
    }
    Expect(')', "')' of flag list");
    return flags;
  }

  SequenceSet SeqSet() {
    if (!ok()) return {};
    auto text = Run([](char c) { return IsDigit(c) || c == '*' || c == ':' || c == ',' || c == '$'; });
    auto r = SequenceSet::Parse(text, limits_.sequence_set);
    if (!r) {
      if (r.error().kind == ErrorKind::kLimitExceeded) {
        Limit(r.error().message);
      } else {
        Fail(r.error().message);
      }
      return {};
    }
    return std::move(*r);
  }

  // Parenthesised list of upper-cased atoms: "(A B C)".
  std::vector<std::string> AtomList(const char* what) {
    std::vector<std::string> out;
    Expect('(', what);
    while (ok() && Peek() != ')') {
      if (!out.empty()) Space();
      out.push_back(UpperAtom(what));
      if (out.size() > limits_.max_list_items) Limit("list too long");
    }
    Expect(')', what);
    return out;
  }

  // Depth of parentheses for the nesting limit.
  bool Enter() {
    if (++depth_ > limits_.max_nesting) {
      Limit("too deeply nested");
      return false;
    }
    return true;
  }
  void Leave() { --depth_; }

  size_t search_keys = 0;
  const ParserLimits& limits() const { return limits_; }

 private:
  std::string_view s_;
  const std::vector<size_t>& literals_;
  const ParserLimits& limits_;
  const ParserOptions& options_;
  size_t i_ = 0;
  size_t depth_ = 0;
  std::optional<Fault> fault_;
};

// ---- SEARCH ----

std::optional<SearchDate> ParseDateText(std::string_view t) {
  static constexpr std::string_view kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                 "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  size_t i = 0;
  int day = 0;
  size_t nd = 0;
  while (i < t.size() && IsDigit(t[i]) && nd < 2) day = day * 10 + (t[i++] - '0'), ++nd;
  if (nd == 0 || i >= t.size() || t[i] != '-') return std::nullopt;
  ++i;
  if (i + 4 > t.size() || t[i + 3] != '-') return std::nullopt;
  int month = 0;
  std::string mon = Upper(t.substr(i, 3));
  for (int m = 0; m < 12; ++m) {
    if (mon == kMonths[m]) month = m + 1;
  }
  if (month == 0) return std::nullopt;
  i += 4;
  if (t.size() - i != 4) return std::nullopt;
  int year = 0;
  for (; i < t.size(); ++i) {
    if (!IsDigit(t[i])) return std::nullopt;
    year = year * 10 + (t[i] - '0');
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day < 1 || day > kDays[month - 1]) return std::nullopt;
  if (month == 2 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) {
    return std::nullopt;
  }
  return SearchDate{year, month, day};
}

SearchDate ReadDate(Reader& r) {
  std::string text;
  if (r.Peek() == '"') {
    text = r.Quoted();
  } else {
    text = std::string(r.Run([](char c) { return IsAtomOctet(c); }));
  }
  if (!r.ok()) return {};
  auto d = ParseDateText(text);
  if (!d) {
    r.Fail("invalid date (expected e.g. 1-Feb-2026)");
    return {};
  }
  return *d;
}

SearchKey ReadSearchKey(Reader& r);

// key *(SP key) up to ')' or the end of the command, into an AND node.
SearchKey ReadSearchKeys(Reader& r, bool in_parens) {
  SearchKey group;
  group.type = SearchKey::Type::kAnd;
  while (r.ok()) {
    group.children.push_back(ReadSearchKey(r));
    if (!r.ok()) break;
    if (!r.TrySpace()) break;
    if (r.AtEnd() || (in_parens && r.Peek() == ')')) break;  // trailing space
  }
  return group;
}

SearchKey ReadSearchKey(Reader& r) {
  using T = SearchKey::Type;
  SearchKey k;
  if (!r.ok()) return k;
  if (++r.search_keys > r.limits().max_search_keys) {
    r.Limit("too many search keys");
    return k;
  }
  char c = r.Peek();
  if (c == '(') {
    if (!r.Enter()) return k;
    r.Consume('(');
    k = ReadSearchKeys(r, true);
    r.Expect(')', "')' closing search group");
    r.Leave();
    return k;
  }
  if (IsDigit(c) || c == '*' || c == '$') {
    k.type = T::kSequenceSet;
    k.set = r.SeqSet();
    return k;
  }
  std::string w = r.UpperAtom("search key");
  if (!r.ok()) return k;
  struct Simple {
    std::string_view name;
    T type;
  };
  static constexpr Simple kFlags[] = {
      {"ALL", T::kAll},           {"ANSWERED", T::kAnswered},     {"DELETED", T::kDeleted},
      {"DRAFT", T::kDraft},       {"FLAGGED", T::kFlagged},       {"NEW", T::kNew},
      {"OLD", T::kOld},           {"RECENT", T::kRecent},         {"SEEN", T::kSeen},
      {"UNANSWERED", T::kUnanswered}, {"UNDELETED", T::kUndeleted}, {"UNDRAFT", T::kUndraft},
      {"UNFLAGGED", T::kUnflagged}, {"UNSEEN", T::kUnseen}};
  for (const auto& s : kFlags) {
    if (w == s.name) {
      k.type = s.type;
      return k;
    }
  }
  static constexpr Simple kStrings[] = {{"BCC", T::kBcc},   {"BODY", T::kBody},       {"CC", T::kCc},
                                        {"FROM", T::kFrom}, {"SUBJECT", T::kSubject}, {"TEXT", T::kText},
                                        {"TO", T::kTo}};
  for (const auto& s : kStrings) {
    if (w == s.name) {
      k.type = s.type;
      r.Space();
      k.value = r.AString();
      return k;
    }
  }
  static constexpr Simple kDates[] = {{"BEFORE", T::kBefore},         {"ON", T::kOn},
                                      {"SINCE", T::kSince},           {"SENTBEFORE", T::kSentBefore},
                                      {"SENTON", T::kSentOn},         {"SENTSINCE", T::kSentSince}};
  for (const auto& s : kDates) {
    if (w == s.name) {
      k.type = s.type;
      r.Space();
      k.date = ReadDate(r);
      return k;
    }
  }
  if (w == "KEYWORD" || w == "UNKEYWORD") {
    k.type = w == "KEYWORD" ? T::kKeyword : T::kUnkeyword;
    r.Space();
    k.value = r.Flag();
  } else if (w == "HEADER") {
    k.type = T::kHeader;
    r.Space();
    k.field = r.AString();
    r.Space();
    k.value = r.AString();
  } else if (w == "LARGER" || w == "SMALLER") {
    k.type = w == "LARGER" ? T::kLarger : T::kSmaller;
    r.Space();
    k.number = r.Number64("size");
  } else if (w == "OLDER" || w == "YOUNGER") {
    k.type = w == "OLDER" ? T::kOlder : T::kYounger;
    r.Space();
    k.number = r.NzNumber("interval");
  } else if (w == "UID") {
    k.type = T::kUid;
    r.Space();
    k.set = r.SeqSet();
  } else if (w == "MODSEQ") {
    k.type = T::kModSeq;
    r.Space();
    if (r.Peek() == '"') {  // entry-name entry-type-req
      k.field = r.Quoted();
      r.Space();
      k.value = r.UpperAtom("entry type");
      if (r.ok() && k.value != "PRIV" && k.value != "SHARED" && k.value != "ALL") {
        r.Fail("MODSEQ entry type must be priv, shared or all");
      }
      r.Space();
    }
    k.number = r.Number64("mod-sequence");
  } else if (w == "NOT") {
    k.type = T::kNot;
    r.Space();
    if (!r.Enter()) return k;
    k.children.push_back(ReadSearchKey(r));
    r.Leave();
  } else if (w == "OR") {
    k.type = T::kOr;
    if (!r.Enter()) return k;
    r.Space();
    k.children.push_back(ReadSearchKey(r));
    r.Space();
    k.children.push_back(ReadSearchKey(r));
    r.Leave();
  } else {
    r.Fail("unknown search key " + w);
  }
  return k;
}

// [CHARSET astring SP] keys, used by SEARCH. SORT/THREAD read charset first.
SearchKey ReadSearchProgram(Reader& r) { return ReadSearchKeys(r, false); }

// ---- FETCH ----

void ReadSection(Reader& r, FetchItem& item, bool binary) {
  r.Expect('[', "'['");
  FetchSection& sec = item.section;
  while (r.ok() && IsDigit(r.Peek())) {
    sec.part.push_back(r.NzNumber("section part"));
    if (sec.part.size() > r.limits().max_nesting) {
      r.Limit("section part path too deep");
      return;
    }
    if (!r.Consume('.')) break;
    if (!IsDigit(r.Peek())) {  // ".HEADER" etc must follow
      if (r.ok() && (r.AtEnd() || r.Peek() == ']')) r.Fail("section part ends with '.'");
      break;
    }
  }
  if (r.ok() && r.Peek() != ']') {
    if (binary) {
      r.Fail("BINARY section takes only a part number");
      return;
    }
    std::string w = Upper(r.Run([](char c) { return IsAtomOctet(c) && c != '['; }));
    if (w == "HEADER") {
      sec.text = FetchSection::Text::kHeader;
    } else if (w == "TEXT") {
      sec.text = FetchSection::Text::kText;
    } else if (w == "MIME" && !sec.part.empty()) {
      sec.text = FetchSection::Text::kMime;
    } else if (w == "HEADER.FIELDS" || w == "HEADER.FIELDS.NOT") {
      sec.text = w == "HEADER.FIELDS" ? FetchSection::Text::kHeaderFields
                                      : FetchSection::Text::kHeaderFieldsNot;
      r.Space();
      r.Expect('(', "'(' of header list");
      while (r.ok() && r.Peek() != ')') {
        if (!sec.header_fields.empty()) r.Space();
        if (r.Peek() == ')') break;
        sec.header_fields.push_back(Upper(r.AString()));
        if (sec.header_fields.size() > r.limits().max_list_items) r.Limit("too many header fields");
      }
      if (r.ok() && sec.header_fields.empty()) r.Fail("empty header list");
      r.Expect(')', "')' of header list");
    } else {
      r.Fail("invalid section " + w);
      return;
    }
  }
  r.Expect(']', "']'");
}

void ReadPartial(Reader& r, FetchItem& item) {
  if (!r.Consume('<')) return;
  uint32_t offset = r.Number32("partial offset");
  r.Expect('.', "'.' in partial");
  uint32_t length = r.NzNumber("partial length");
  r.Expect('>', "'>'");
  item.partial = std::make_pair(offset, length);
}

void ReadFetchItem(Reader& r, std::vector<FetchItem>& items) {
  using T = FetchItem::Type;
  std::string w = Upper(r.Run([](char c) { return IsAtomOctet(c) && c != '[' && c != '<'; }));
  if (!r.ok()) return;
  FetchItem item;
  struct Simple {
    std::string_view name;
    T type;
  };
  static constexpr Simple kSimple[] = {
      {"ENVELOPE", T::kEnvelope},     {"FLAGS", T::kFlags},           {"INTERNALDATE", T::kInternalDate},
      {"RFC822", T::kRfc822},         {"RFC822.HEADER", T::kRfc822Header},
      {"RFC822.SIZE", T::kRfc822Size}, {"RFC822.TEXT", T::kRfc822Text},
      {"BODYSTRUCTURE", T::kBodyStructure}, {"UID", T::kUid},         {"MODSEQ", T::kModSeq}};
  for (const auto& s : kSimple) {
    if (w == s.name) {
      item.type = s.type;
      items.push_back(std::move(item));
      return;
    }
  }
  if (w == "BODY" && r.Peek() != '[') {
    item.type = T::kBody;
  } else if (w == "BODY" || w == "BODY.PEEK") {
    item.type = T::kBodySection;
    item.peek = w == "BODY.PEEK";
    ReadSection(r, item, false);
    ReadPartial(r, item);
  } else if (w == "BINARY" || w == "BINARY.PEEK") {
    item.type = T::kBinary;
    item.peek = w == "BINARY.PEEK";
    ReadSection(r, item, true);
    ReadPartial(r, item);
  } else if (w == "BINARY.SIZE") {
    item.type = T::kBinarySize;
    ReadSection(r, item, true);
  } else {
    r.Fail(w.empty() ? "expected fetch attribute" : "unknown fetch attribute " + w);
    return;
  }
  items.push_back(std::move(item));
}

void AddMacro(std::vector<FetchItem>& items, std::initializer_list<FetchItem::Type> types) {
  for (auto t : types) {
    FetchItem i;
    i.type = t;
    items.push_back(std::move(i));
  }
}

FetchArgs ReadFetch(Reader& r, bool uid) {
  using T = FetchItem::Type;
  FetchArgs a;
  r.Space();
  a.set = r.SeqSet();
  r.Space();
  if (!r.ok()) return a;
  if (r.Consume('(')) {
    while (r.ok() && r.Peek() != ')') {
      if (!a.items.empty()) r.Space();
      if (r.Peek() == ')') break;
      ReadFetchItem(r, a.items);
      if (a.items.size() > r.limits().max_list_items) r.Limit("too many fetch attributes");
    }
    if (r.ok() && a.items.empty()) r.Fail("empty fetch attribute list");
    r.Expect(')', "')' of fetch attributes");
  } else if (r.TryWord("ALL")) {
    AddMacro(a.items, {T::kFlags, T::kInternalDate, T::kRfc822Size, T::kEnvelope});
  } else if (r.TryWord("FAST")) {
    AddMacro(a.items, {T::kFlags, T::kInternalDate, T::kRfc822Size});
  } else if (r.TryWord("FULL")) {
    AddMacro(a.items, {T::kFlags, T::kInternalDate, T::kRfc822Size, T::kEnvelope, T::kBody});
  } else {
    ReadFetchItem(r, a.items);
  }
  if (r.TrySpace() && !r.AtEnd()) {
    r.Expect('(', "'(' of fetch modifiers");
    bool first = true;
    while (r.ok() && r.Peek() != ')') {
      if (!first) r.Space();
      first = false;
      std::string m = r.UpperAtom("fetch modifier");
      if (m == "CHANGEDSINCE") {
        r.Space();
        a.changed_since = r.Number64("mod-sequence");
      } else if (m == "VANISHED") {
        if (!uid) r.Fail("VANISHED requires UID FETCH");
        a.vanished = true;
      } else if (r.ok()) {
        r.Fail("unknown fetch modifier " + m);
      }
    }
    r.Expect(')', "')' of fetch modifiers");
    if (r.ok() && a.vanished && !a.changed_since) r.Fail("VANISHED requires CHANGEDSINCE");
  }
  return a;
}

// ---- per-command argument readers ----

AppendArgs ReadAppend(Reader& r) {
  AppendArgs a;
  r.Space();
  a.mailbox = r.Mailbox();
  while (r.ok() && r.TrySpace()) {
    if (r.AtEnd()) break;
    AppendMessage m;
    if (r.Peek() == '(') {
      m.flags = r.FlagList();
      r.Space();
    }
    if (r.Peek() == '"') {
      m.date_time = r.Quoted();
      r.Space();
    }
    if (!r.ok()) break;
    if (r.Peek() != '{' && r.Peek() != '~') {
      r.Fail("expected message literal");
      break;
    }
    m.data = r.Literal(true, &m.binary);
    a.messages.push_back(std::move(m));
  }
  if (r.ok() && a.messages.empty()) r.Fail("APPEND needs a message literal");
  return a;
}

SelectArgs ReadSelect(Reader& r) {
  SelectArgs a;
  r.Space();
  a.mailbox = r.Mailbox();
  if (!r.TrySpace() || r.AtEnd()) return a;
  r.Expect('(', "'(' of select parameters");
  bool first = true;
  while (r.ok() && r.Peek() != ')') {
    if (!first) r.Space();
    first = false;
    std::string p = r.UpperAtom("select parameter");
    if (p == "CONDSTORE") {
      a.condstore = true;
    } else if (p == "QRESYNC") {
      QresyncParams q;
      r.Space();
      if (!r.Enter()) break;
      r.Expect('(', "'(' of QRESYNC");
      q.uidvalidity = r.NzNumber("uidvalidity");
      r.Space();
      q.modseq = r.Number64("mod-sequence");
      if (r.ok() && q.modseq == 0) r.Fail("mod-sequence must not be 0");
      if (r.TrySpace() && r.Peek() != '(') {
        q.known_uids = r.SeqSet();
        if (r.ok() && (q.known_uids->HasStar() || q.known_uids->IsSaved())) r.Fail("known-uids must not contain '*'");
        r.TrySpace();
      }
      if (r.ok() && r.Peek() == '(') {
        if (!r.Enter()) break;
        r.Consume('(');
        q.known_sequence_set = r.SeqSet();
        r.Space();
        q.known_uid_set = r.SeqSet();
        r.Expect(')', "')' of seq-match-data");
        r.Leave();
      }
      r.Expect(')', "')' of QRESYNC");
      r.Leave();
      a.qresync = std::move(q);
    } else if (r.ok()) {
      r.Fail("unknown select parameter " + p);
    }
  }
  r.Expect(')', "')' of select parameters");
  return a;
}

CreateArgs ReadCreate(Reader& r) {
  CreateArgs a;
  r.Space();
  a.mailbox = r.Mailbox();
  if (!r.TrySpace() || r.AtEnd()) return a;
  r.Expect('(', "'(' of create parameters");
  bool first = true;
  while (r.ok() && r.Peek() != ')') {
    if (!first) r.Space();
    first = false;
    std::string p = r.UpperAtom("create parameter");
    if (p == "USE") {
      r.Space();
      auto flags = r.FlagList();
      a.special_use.insert(a.special_use.end(), flags.begin(), flags.end());
    } else if (r.ok()) {
      r.Fail("unknown create parameter " + p);
    }
  }
  r.Expect(')', "')' of create parameters");
  return a;
}

ListArgs ReadList(Reader& r) {
  ListArgs a;
  r.Space();
  if (r.Peek() == '(') {
    a.extended = true;
    a.selection_options = r.AtomList("LIST selection option");
    r.Space();
  }
  a.reference = r.Mailbox();
  r.Space();
  if (r.Peek() == '(') {
    a.extended = true;
    r.Consume('(');
    while (r.ok() && r.Peek() != ')') {
      if (!a.patterns.empty()) r.Space();
      a.patterns.push_back(r.ListMailbox());
      if (a.patterns.size() > r.limits().max_list_items) r.Limit("too many patterns");
    }
    if (r.ok() && a.patterns.empty()) r.Fail("empty pattern list");
    r.Expect(')', "')' of patterns");
  } else {
    a.patterns.push_back(r.ListMailbox());
  }
  if (r.TrySpace() && !r.AtEnd()) {
    if (!r.TryWord("RETURN")) {
      r.Fail("expected RETURN");
      return a;
    }
    a.extended = true;
    r.Space();
    r.Expect('(', "'(' of return options");
    while (r.ok() && r.Peek() != ')') {
      if (!a.return_options.empty()) r.Space();
      std::string o = r.UpperAtom("return option");
      a.return_options.push_back(o);
      if (o == "STATUS") {
        r.Space();
        a.return_status_items = r.AtomList("status item");
      }
      if (a.return_options.size() > r.limits().max_list_items) r.Limit("too many return options");
    }
    r.Expect(')', "')' of return options");
  }
  return a;
}

bool ValidStatusItem(std::string_view s) {
  static constexpr std::string_view kItems[] = {"MESSAGES",      "RECENT", "UIDNEXT",     "UIDVALIDITY",
                                                "UNSEEN",        "DELETED", "HIGHESTMODSEQ", "SIZE",
                                                "APPENDLIMIT",   "DELETED-STORAGE", "MAILBOXID"};
  return std::find(std::begin(kItems), std::end(kItems), s) != std::end(kItems);
}

StoreArgs ReadStore(Reader& r) {
  StoreArgs a;
  r.Space();
  a.set = r.SeqSet();
  r.Space();
  if (r.Peek() == '(') {
    r.Consume('(');
    std::string m = r.UpperAtom("store modifier");
    if (m != "UNCHANGEDSINCE") {
      if (r.ok()) r.Fail("unknown store modifier " + m);
      return a;
    }
    r.Space();
    a.unchanged_since = r.Number64("mod-sequence");
    r.Expect(')', "')' of store modifiers");
    r.Space();
  }
  std::string op = r.UpperAtom("store operation");
  if (!r.ok()) return a;
  std::string_view o = op;
  if (!o.empty() && (o[0] == '+' || o[0] == '-')) {
    a.mode = o[0] == '+' ? StoreArgs::Mode::kAdd : StoreArgs::Mode::kRemove;
    o.remove_prefix(1);
  }
  if (o == "FLAGS.SILENT") {
    a.silent = true;
  } else if (o != "FLAGS") {
    r.Fail("expected FLAGS, +FLAGS or -FLAGS");
    return a;
  }
  r.Space();
  if (r.Peek() == '(') {
    a.flags = r.FlagList();
  } else {
    while (r.ok()) {
      a.flags.push_back(r.Flag());
      if (a.flags.size() > r.limits().max_list_items) r.Limit("too many flags");
      if (!r.TrySpace() || r.AtEnd()) break;
    }
  }
  return a;
}

IdArgs ReadId(Reader& r) {
  IdArgs a;
  r.Space();
  if (r.TryWord("NIL")) return a;
  a.params.emplace();
  r.Expect('(', "'(' or NIL");
  while (r.ok() && r.Peek() != ')') {
    if (!a.params->empty()) r.Space();
    std::string field = r.String();
    r.Space();
    auto value = r.NString();
    a.params->emplace_back(std::move(field), std::move(value));
    if (a.params->size() > 30) r.Limit("too many ID fields");  // RFC 2971: at most 30
  }
  r.Expect(')', "')' of ID list");
  return a;
}

tl::expected<Command, ProtocolError> Finish(Reader& r, Command cmd) {
  if (r.ok()) r.End();
  if (!r.ok()) {
    return tl::unexpected(ProtocolError{cmd.tag, r.fault().code,
                                        (cmd.name.empty() ? std::string() : cmd.name + ": ") + r.fault().text,
                                        false});
  }
  return cmd;
}

}  // namespace

tl::expected<Command, ProtocolError> ParseCommand(std::string_view text,
                                                  const std::vector<size_t>& literal_offsets,
                                                  const ParserLimits& limits,
                                                  const ParserOptions& options) {
  Reader r(text, literal_offsets, limits, options);
  Command cmd;
  cmd.tag = std::string(r.Run(IsTagOctet));
  if (cmd.tag.empty() || (!r.AtEnd() && r.Peek() != ' ')) {
    return tl::unexpected(ProtocolError{"", "", "invalid tag", false});
  }
  r.Space();
  if (!r.ok()) return tl::unexpected(ProtocolError{cmd.tag, "", "missing command", false});
  cmd.name = Upper(r.Run(IsAtomOctet));
  if (cmd.name == "UID") {
    cmd.uid = true;
    r.Space();
    cmd.name = Upper(r.Run(IsAtomOctet));
  }
  if (cmd.name.empty()) return tl::unexpected(ProtocolError{cmd.tag, "", "missing command name", false});
  const std::string& n = cmd.name;

  static constexpr std::string_view kUidCommands[] = {"COPY", "MOVE",  "FETCH", "SEARCH",
                                                      "STORE", "EXPUNGE", "SORT", "THREAD"};
  if (cmd.uid &&
      std::find(std::begin(kUidCommands), std::end(kUidCommands), n) == std::end(kUidCommands)) {
    return tl::unexpected(ProtocolError{cmd.tag, "", "UID " + n + " is not a command", false});
  }

  if (n == "CAPABILITY" || n == "NOOP" || n == "LOGOUT" || n == "STARTTLS" || n == "CHECK" ||
      n == "CLOSE" || n == "UNSELECT" || n == "IDLE" || n == "NAMESPACE" || (n == "EXPUNGE" && !cmd.uid)) {
    cmd.args = NoArgs{};
  } else if (n == "EXPUNGE") {
    SetArgs a;
    r.Space();
    a.set = r.SeqSet();
    cmd.args = std::move(a);
  } else if (n == "AUTHENTICATE") {
    AuthenticateArgs a;
    r.Space();
    a.mechanism = r.UpperAtom("SASL mechanism");
    if (r.TrySpace() && !r.AtEnd()) {
      auto ir = r.Run([](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' || c == '='; });
      if (r.ok() && ir.empty()) r.Fail("invalid initial response");
      a.initial_response = std::string(ir);
    }
    cmd.args = std::move(a);
  } else if (n == "LOGIN") {
    LoginArgs a;
    r.Space();
    a.user = r.AString();
    r.Space();
    a.password = r.AString();
    cmd.args = std::move(a);
  } else if (n == "ENABLE") {
    EnableArgs a;
    while (r.ok() && r.TrySpace() && !r.AtEnd()) {
      a.capabilities.push_back(r.UpperAtom("capability"));
      if (a.capabilities.size() > limits.max_list_items) r.Limit("too many capabilities");
    }
    if (r.ok() && a.capabilities.empty()) r.Fail("ENABLE needs a capability");
    cmd.args = std::move(a);
  } else if (n == "SELECT" || n == "EXAMINE") {
    cmd.args = ReadSelect(r);
  } else if (n == "CREATE") {
    cmd.args = ReadCreate(r);
  } else if (n == "DELETE" || n == "SUBSCRIBE" || n == "UNSUBSCRIBE" || n == "GETQUOTAROOT") {
    MailboxArgs a;
    r.Space();
    a.mailbox = r.Mailbox();
    cmd.args = std::move(a);
  } else if (n == "GETQUOTA") {
    MailboxArgs a;
    r.Space();
    a.mailbox = r.AString();
    cmd.args = std::move(a);
  } else if (n == "RENAME") {
    RenameArgs a;
    r.Space();
    a.from = r.Mailbox();
    r.Space();
    a.to = r.Mailbox();
    cmd.args = std::move(a);
  } else if (n == "LIST") {
    cmd.args = ReadList(r);
  } else if (n == "LSUB") {
    ListArgs a;
    r.Space();
    a.reference = r.Mailbox();
    r.Space();
    a.patterns.push_back(r.ListMailbox());
    cmd.args = std::move(a);
  } else if (n == "STATUS") {
    StatusArgs a;
    r.Space();
    a.mailbox = r.Mailbox();
    r.Space();
    a.items = r.AtomList("status item");
    for (const auto& item : a.items) {
      if (r.ok() && !ValidStatusItem(item)) r.Fail("unknown status item " + item);
    }
    if (r.ok() && a.items.empty()) r.Fail("empty status item list");
    cmd.args = std::move(a);
  } else if (n == "APPEND") {
    cmd.args = ReadAppend(r);
  } else if (n == "SEARCH") {
    SearchArgs a;
    r.Space();
    if (r.TryWord("RETURN")) {
      a.has_return = true;
      r.Space();
      a.return_options = r.AtomList("search return option");
      for (const auto& o : a.return_options) {
        if (r.ok() && o != "MIN" && o != "MAX" && o != "ALL" && o != "COUNT" && o != "SAVE") {
          r.Fail("unknown search return option " + o);
        }
      }
      r.Space();
    }
    if (r.TryWord("CHARSET")) {
      r.Space();
      a.charset = Upper(r.AString());
      r.Space();
    }
    a.key = ReadSearchProgram(r);
    cmd.args = std::move(a);
  } else if (n == "SORT") {
    SortArgs a;
    r.Space();
    r.Expect('(', "'(' of sort criteria");
    bool reverse = false;
    while (r.ok() && r.Peek() != ')') {
      if (!a.criteria.empty() || reverse) r.Space();
      std::string k = r.UpperAtom("sort key");
      if (k == "REVERSE") {
        if (reverse) r.Fail("REVERSE REVERSE");
        reverse = true;
        continue;
      }
      static constexpr std::string_view kKeys[] = {"ARRIVAL", "CC",      "DATE",        "FROM",
                                                   "SIZE",    "SUBJECT", "TO",          "DISPLAYFROM",
                                                   "DISPLAYTO"};
      if (r.ok() && std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys)) {
        r.Fail("unknown sort key " + k);
      }
      a.criteria.push_back(SortCriterion{reverse, k});
      reverse = false;
      if (a.criteria.size() > limits.max_list_items) r.Limit("too many sort keys");
    }
    if (r.ok() && (a.criteria.empty() || reverse)) r.Fail("incomplete sort criteria");
    r.Expect(')', "')' of sort criteria");
    r.Space();
    a.charset = Upper(r.AString());
    r.Space();
    a.key = ReadSearchProgram(r);
    cmd.args = std::move(a);
  } else if (n == "THREAD") {
    ThreadArgs a;
    r.Space();
    a.algorithm = r.UpperAtom("thread algorithm");
    r.Space();
    a.charset = Upper(r.AString());
    r.Space();
    a.key = ReadSearchProgram(r);
    cmd.args = std::move(a);
  } else if (n == "FETCH") {
    cmd.args = ReadFetch(r, cmd.uid);
  } else if (n == "STORE") {
    cmd.args = ReadStore(r);
  } else if (n == "COPY" || n == "MOVE") {
    CopyArgs a;
    r.Space();
    a.set = r.SeqSet();
    r.Space();
    a.mailbox = r.Mailbox();
    cmd.args = std::move(a);
  } else if (n == "ID") {
    cmd.args = ReadId(r);
  } else if (n == "COMPRESS") {
    CompressArgs a;
    r.Space();
    a.mechanism = r.UpperAtom("compression mechanism");
    cmd.args = std::move(a);
  } else {
    UnknownArgs a;
    r.TrySpace();
    a.rest = std::string(text.substr(r.pos()));
    cmd.args = std::move(a);
    return cmd;
  }
  return Finish(r, std::move(cmd));
}

// ---- framing ----

Parser::Parser(ParserLimits limits, ParserOptions options) : limits_(limits), options_(options) {}

void Parser::Feed(std::string_view bytes) {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

size_t Parser::LineLimit() const {
  return authenticated_ ? limits_.max_line_length : limits_.max_line_length_unauthenticated;
}
uint64_t Parser::LiteralLimit() const {
  return authenticated_ ? limits_.max_literal_size : limits_.max_literal_size_unauthenticated;
}
uint64_t Parser::CommandLimit() const {
  return authenticated_ ? limits_.max_command_size : limits_.max_command_size_unauthenticated;
}

// Called between commands only (right after the IDLE / AUTHENTICATE command).
void Parser::ExpectIdleDone() {
  assert(state_ == State::kLine && cmd_.empty());
  state_ = State::kIdle;
}
void Parser::ExpectSaslLine() {
  assert(state_ == State::kLine && cmd_.empty());
  state_ = State::kSasl;
}

void Parser::ResetCommand() {
  cmd_.clear();
  literal_offsets_.clear();
  line_start_ = 0;
  remaining_ = 0;
}

ParseEvent Parser::Error(std::string code, std::string text, bool fatal) {
  ParseEvent ev;
  ev.kind = ParseEvent::Kind::kError;
  ev.error = ProtocolError{discard_tag_, std::move(code), std::move(text), fatal};
  return ev;
}

// Drops the current command; the rest of its current line (starting with the
// unconsumed bytes) is skipped. `head` holds the first bytes not yet in cmd_,
// for the tag when the command's first line is the one that overflowed.
void Parser::StartDiscard(std::string_view head, bool keep_tag) {
  discard_tag_ = keep_tag ? TagOf(cmd_.empty() ? head : std::string_view(cmd_)) : std::string();
  size_t keep = std::min<size_t>(cmd_.size() - line_start_, 32);
  tail_ = cmd_.substr(cmd_.size() - keep);
  ResetCommand();
  state_ = State::kDiscardLine;
}

ParseEvent Parser::EndOfLine() {
  // The current line is cmd_[line_start_..], without its LF.
  if (cmd_.size() > line_start_ && cmd_.back() == '\r') cmd_.pop_back();
  std::string_view line = std::string_view(cmd_).substr(line_start_);
  if (literal_offsets_.empty() && line.empty()) {
    ResetCommand();  // empty line between commands: ignored, like Dovecot
    return ParseEvent{};
  }
  auto lit = TrailingLiteral(line);
  if (!lit) {
    ParseEvent ev;
    auto parsed = ParseCommand(cmd_, literal_offsets_, limits_, options_);
    if (parsed) {
      ev.kind = ParseEvent::Kind::kCommand;
      ev.command = std::move(*parsed);
    } else {
      ev.kind = ParseEvent::Kind::kError;
      ev.error = std::move(parsed.error());
    }
    ResetCommand();
    return ev;
  }
  discard_tag_ = TagOf(cmd_);
  std::string tag = discard_tag_;
  bool too_big = false;
  std::string code = "TOOBIG";
  std::string why;
  if (literal_offsets_.size() >= limits_.max_literals) {
    too_big = true;
    code = "LIMIT";
    why = "too many literals in one command";
  } else if (lit->size > LiteralLimit()) {
    too_big = true;
    why = "literal larger than " + std::to_string(LiteralLimit()) + " octets";
  } else if (!lit->sync && (lit->minus || !options_.literal_plus) && lit->size > limits_.max_literal_minus) {
    too_big = true;
    why = "non-synchronizing literal larger than " + std::to_string(limits_.max_literal_minus) + " octets";
  } else if (cmd_.size() + lit->size > CommandLimit()) {
    too_big = true;
    why = "command larger than " + std::to_string(CommandLimit()) + " octets";
  }
  if (too_big) {
    ResetCommand();
    if (lit->sync) {
      // No "+" will be sent, so the client will not send the literal.
      state_ = State::kLine;
      return Error(code, why);
    }
    if (lit->size > limits_.max_literal_skip) {
      state_ = State::kLine;
      return Error(code, why, true);
    }
    remaining_ = lit->size;
    tail_.clear();
    state_ = State::kDiscardLiteral;
    return Error(code, why);
  }
  literal_offsets_.push_back(cmd_.size());
  remaining_ = lit->size;
  state_ = State::kLiteral;
  if (lit->sync) {
    ParseEvent ev;
    ev.kind = ParseEvent::Kind::kContinue;
    return ev;
  }
  return ParseEvent{};  // kNeedMore marker: the caller loop continues
}

ParseEvent Parser::Next() {
  while (true) {
    std::string_view avail = std::string_view(buf_).substr(pos_);
    switch (state_) {
      case State::kLine: {
        if (avail.empty()) return ParseEvent{};
        size_t lf = avail.find('\n');
        size_t take = lf == std::string_view::npos ? avail.size() : lf;
        size_t line_len = cmd_.size() - line_start_ + take;
        // Allow the CR before LF beyond the limit by one octet.
        if (line_len > LineLimit() + 1 || cmd_.size() + take > CommandLimit()) {
          bool line = line_len > LineLimit() + 1;
          StartDiscard(avail.substr(0, std::min<size_t>(take, 256)), true);
          return Error("TOOBIG", line ? "command line too long" : "command too large");
        }
        cmd_.append(avail.substr(0, take));
        pos_ += take;
        if (lf == std::string_view::npos) return ParseEvent{};
        ++pos_;  // the LF
        ParseEvent ev = EndOfLine();
        if (ev.kind != ParseEvent::Kind::kNeedMore) return ev;
        break;  // literal follows or empty line: keep going
      }
      case State::kLiteral: {
        uint64_t n = std::min<uint64_t>(remaining_, avail.size());
        cmd_.append(avail.substr(0, n));
        pos_ += n;
        remaining_ -= n;
        if (remaining_ > 0) return ParseEvent{};
        line_start_ = cmd_.size();
        state_ = State::kLine;
        break;
      }
      case State::kDiscardLiteral: {
        uint64_t n = std::min<uint64_t>(remaining_, avail.size());
        pos_ += n;
        remaining_ -= n;
        if (remaining_ > 0) return ParseEvent{};
        tail_.clear();
        state_ = State::kDiscardLine;
        break;
      }
      case State::kDiscardLine: {
        if (avail.empty()) return ParseEvent{};
        size_t lf = avail.find('\n');
        size_t take = lf == std::string_view::npos ? avail.size() : lf;
        tail_.append(avail.substr(take > 32 ? take - 32 : 0, std::min<size_t>(take, 32)));
        if (tail_.size() > 32) tail_.erase(0, tail_.size() - 32);
        pos_ += take;
        if (lf == std::string_view::npos) return ParseEvent{};
        ++pos_;
        if (!tail_.empty() && tail_.back() == '\r') tail_.pop_back();
        auto lit = TrailingLiteral(tail_);
        tail_.clear();
        if (lit && !lit->sync) {
          if (lit->size > limits_.max_literal_skip) {
            state_ = State::kLine;
            return Error("TOOBIG", "literal too large to skip", true);
          }
          remaining_ = lit->size;
          state_ = State::kDiscardLiteral;
        } else {
          state_ = State::kLine;
        }
        break;
      }
      case State::kIdle:
      case State::kSasl: {
        if (avail.empty()) return ParseEvent{};
        size_t lf = avail.find('\n');
        size_t take = lf == std::string_view::npos ? avail.size() : lf;
        if (cmd_.size() + take > LineLimit()) {
          bool idle = state_ == State::kIdle;
          StartDiscard({}, false);
          return Error("TOOBIG", idle ? "expected DONE" : "SASL response too long");
        }
        cmd_.append(avail.substr(0, take));
        pos_ += take;
        if (lf == std::string_view::npos) return ParseEvent{};
        ++pos_;
        if (!cmd_.empty() && cmd_.back() == '\r') cmd_.pop_back();
        ParseEvent ev;
        if (state_ == State::kIdle) {
          if (IEquals(cmd_, "DONE")) {
            ev.kind = ParseEvent::Kind::kIdleDone;
          } else {
            discard_tag_.clear();
            ev = Error("", "expected DONE");
          }
        } else {
          ev.kind = ParseEvent::Kind::kSaslLine;
          ev.line = std::move(cmd_);
        }
        ResetCommand();
        state_ = State::kLine;
        return ev;
      }
    }
  }
}

}  // namespace columba::imap
