// address.cc - RFC 5322 address-list parser: tokenizer plus a liberal grammar.
//
// The header value is tokenized once (atoms, quoted strings, domain literals,
// specials, comments), then a loop turns tokens into Address entries. Every
// loop iteration consumes at least one token, so the work is linear. Must never
// recurse, never fail, and never emit an unbalanced group.
#include "lib/mail/address.h"

namespace columba::mail {
namespace {

struct Token {
  enum Kind { kAtom, kQuoted, kDomainLiteral, kSpecial, kComment } kind;
  std::string_view raw;  // as written (for kQuoted: with the quotes)
  std::string text;      // kQuoted: content with escapes removed; kComment: content; CR/LF dropped
  bool space_before = false;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsSpecial(char c) {
  switch (c) {
    case '(': case ')': case '<': case '>': case '[': case ']': case ':': case ';':
    case '@': case '\\': case ',': case '.': case '"':
      return true;
    default:
      return false;
  }
}

std::string WithoutCrLf(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> toks;
  bool space = false;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (IsSpace(c)) {
      space = true;
      ++i;
    } else if (c == '(') {
      size_t start = ++i;
      int depth = 1;
      std::string text;
      while (i < s.size()) {
        char d = s[i];
        if (d == '\\' && i + 1 < s.size()) {
          text += s[i + 1];
          i += 2;
          continue;
        }
        ++i;
        if (d == '(') {
          ++depth;
        } else if (d == ')' && --depth == 0) {
          break;
        }
        if (d != '\r' && d != '\n') text += d;
      }
      toks.push_back({Token::kComment, s.substr(start - 1, i - start + 1), std::move(text), space});
      space = true;
    } else if (c == '"') {
      size_t start = i++;
      std::string text;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          text += s[i + 1];
          i += 2;
        } else {
          if (s[i] != '\r' && s[i] != '\n') text += s[i];
          ++i;
        }
      }
      if (i < s.size()) ++i;  // closing quote; an unterminated string ends at the end
      toks.push_back({Token::kQuoted, s.substr(start, i - start), std::move(text), space});
      space = false;
    } else if (c == '[') {
      size_t start = i;
      while (i < s.size() && s[i] != ']') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      if (i < s.size()) ++i;
      toks.push_back({Token::kDomainLiteral, s.substr(start, i - start), {}, space});
      space = false;
    } else if (IsSpecial(c)) {
      toks.push_back({Token::kSpecial, s.substr(i, 1), {}, space});
      ++i;
      space = false;
    } else {
      size_t start = i;
      while (i < s.size() && !IsSpace(s[i]) && !IsSpecial(s[i])) ++i;
      toks.push_back({Token::kAtom, s.substr(start, i - start), {}, space});
      space = false;
    }
  }
  return toks;
}

class Grammar {
 public:
  Grammar(std::vector<Token> toks, const AddressLimits& limits) : t_(std::move(toks)), limits_(limits) {}

  AddressList Parse() {
    while (!done_) {
      SkipComments();
      if (End()) break;
      if (IsSpecial(',')) {
        ++i_;
        continue;
      }
      if (IsSpecial(';')) {
        ++i_;
        if (in_group_) CloseGroup();
        continue;
      }
      ParseOne();
    }
    if (in_group_) CloseGroup();
    return std::move(out_);
  }

 private:
  bool End() const { return i_ >= t_.size(); }
  bool IsSpecial(char c) const { return !End() && t_[i_].kind == Token::kSpecial && t_[i_].raw[0] == c; }
  bool IsWordToken() const {
    return !End() && (t_[i_].kind == Token::kAtom || t_[i_].kind == Token::kQuoted ||
                      (t_[i_].kind == Token::kSpecial && t_[i_].raw[0] == '.'));
  }

  // Skips comments, remembering the first one as a fallback display name.
  void SkipComments() {
    while (!End() && t_[i_].kind == Token::kComment) {
      if (comment_.empty()) comment_ = t_[i_].text;
      ++i_;
    }
  }

  void Emit(Address a) {
    if (out_.addresses.size() >= limits_.max_addresses) {
      out_.truncated = true;
      done_ = true;
      return;
    }
    out_.addresses.push_back(std::move(a));
  }

  void CloseGroup() {
    in_group_ = false;
    Address end;
    end.kind = Address::Kind::kGroupEnd;
    out_.addresses.push_back(std::move(end));  // always, so a group stays balanced
  }

  // Display-name text: quoted strings unquoted, one space where there was
  // whitespace or a comment between words.
  static std::string PhraseText(const std::vector<const Token*>& words) {
    std::string out;
    for (const Token* w : words) {
      if (w->space_before && !out.empty()) out += ' ';
      if (w->kind == Token::kQuoted) {
        out += w->text;
      } else {
        out.append(w->raw);
      }
    }
    return out;
  }

  // Local part from tokens: CFWS dropped, quoted strings kept quoted.
  static std::string LocalText(const std::vector<const Token*>& words) {
    std::string out;
    for (const Token* w : words) out += WithoutCrLf(w->raw);
    return out;
  }

  std::vector<const Token*> ReadWords() {
    std::vector<const Token*> words;
    while (true) {
      SkipComments();
      if (!IsWordToken()) break;
      words.push_back(&t_[i_++]);
    }
    return words;
  }

  // Atoms, dots and domain literals; stops at a second word after whitespace
  // ("a@b c@d" without a comma) so the next address is not swallowed.
  std::string ReadDomain() {
    std::string out;
    bool last_was_word = false;
    while (true) {
      SkipComments();
      if (End()) break;
      const Token& t = t_[i_];
      bool word = t.kind == Token::kAtom || t.kind == Token::kDomainLiteral;
      bool dot = t.kind == Token::kSpecial && t.raw[0] == '.';
      if (!word && !dot) break;
      if (word && last_was_word && t.space_before) break;
      out += WithoutCrLf(t.raw);
      last_was_word = word;
      ++i_;
    }
    return out;
  }

  // After '<': [route ':'] local-part ['@' domain] ['>'].
  void ParseAngleAddr(Address& a) {
    SkipComments();
    while (IsSpecial('@') || IsSpecial(',')) {  // obs-route: "@a,@b:"
      if (IsSpecial(',')) {
        ++i_;
        SkipComments();
        continue;
      }
      ++i_;
      std::string domain = ReadDomain();
      if (!a.route.empty()) a.route += ',';
      a.route += '@';
      a.route += domain;
      SkipComments();
      if (IsSpecial(':')) {
        ++i_;
        break;
      }
    }
    a.mailbox = LocalText(ReadWords());
    if (IsSpecial('@')) {
      ++i_;
      a.host = ReadDomain();
    }
    // Junk up to '>' is skipped; a missing '>' ends at ',' or ';'.
    while (!End() && !IsSpecial('>') && !IsSpecial(',') && !IsSpecial(';')) ++i_;
    if (IsSpecial('>')) ++i_;
  }

  void ParseOne() {
    comment_.clear();
    const size_t start = i_;
    std::vector<const Token*> words = ReadWords();
    if (IsSpecial(':') && !in_group_) {
      ++i_;
      Address g;
      g.kind = Address::Kind::kGroupStart;
      g.name = PhraseText(words);
      Emit(std::move(g));
      in_group_ = !done_;
      return;
    }
    Address a;
    if (IsSpecial('<')) {
      ++i_;
      a.name = PhraseText(words);
      ParseAngleAddr(a);
    } else if (IsSpecial('@') && !words.empty()) {
      ++i_;
      a.mailbox = LocalText(words);
      a.host = ReadDomain();
    } else if (!words.empty()) {
      a.mailbox = PhraseText(words);  // a bare word, e.g. "undisclosed-recipients"
    } else {
      if (i_ == start) ++i_;  // stray token ('>', ':', '@', domain literal ...): skip it
      SkipToSeparator();
      return;
    }
    SkipToSeparator();  // also picks up a trailing "(Name)" comment
    if (a.name.empty()) a.name = Trim(comment_);
    Emit(std::move(a));
  }

  void SkipToSeparator() {
    while (!End() && !IsSpecial(',') && !IsSpecial(';')) {
      if (t_[i_].kind == Token::kComment && comment_.empty()) comment_ = t_[i_].text;
      ++i_;
    }
  }

  static std::string Trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
  }

  std::vector<Token> t_;
  const AddressLimits& limits_;
  size_t i_ = 0;
  bool in_group_ = false;
  bool done_ = false;
  std::string comment_;
  AddressList out_;
};

}  // namespace

AddressList ParseAddressList(std::string_view raw_value, const AddressLimits& limits) {
  return Grammar(Tokenize(raw_value), limits).Parse();
}

}  // namespace columba::mail
