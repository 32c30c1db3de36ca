// command.cc - parsing of one SMTP/LMTP command line; see command.h for the grammar.
//
// One pass over the line, no allocation beyond the Command itself, no regex. It must
// never read past the line, never accept invalid UTF-8, and never put client bytes
// into an error message.
#include "lib/smtp/command.h"

#include "lib/smtp/esmtp_params.h"

#include <array>

namespace columba::smtp {

namespace {

constexpr size_t kNpos = std::string_view::npos;

struct VerbEntry {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbEntry, 16> kVerbs = {{
    {"HELO", Verb::kHelo},
    {"EHLO", Verb::kEhlo},
    {"LHLO", Verb::kLhlo},
    {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},
    {"DATA", Verb::kData},
    {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},
    {"EXPN", Verb::kExpn},
    {"HELP", Verb::kHelp},
    {"STARTTLS", Verb::kStarttls},
    {"AUTH", Verb::kAuth},
    {"ETRN", Verb::kEtrn},
}};

// Error replies. Fixed texts only: client bytes are never echoed.
constexpr std::string_view kUnknownVerb = "500 5.5.2 Error: command not recognized";
constexpr std::string_view kControlChars = "500 5.5.2 Syntax error: control characters in command";
constexpr std::string_view kBadUtf8 = "501 5.5.4 Syntax error: invalid UTF-8";
constexpr std::string_view kBadParam = "501 5.5.4 Syntax error in ESMTP parameters";
constexpr std::string_view kDupParam = "501 5.5.4 Duplicate ESMTP parameter";
constexpr std::string_view kTooManyParams = "501 5.5.4 Too many ESMTP parameters";

struct PathReplies {
  std::string_view usage;      // "FROM:"/"TO:" keyword missing
  std::string_view syntax;     // anything wrong inside or around <...>
  std::string_view null_path;  // <> where not allowed
  std::string_view no_domain;  // local part without @domain
  std::string_view local_long;
  std::string_view domain_long;
  std::string_view path_long;
};

constexpr PathReplies kSenderReplies = {
    "501 5.5.4 Syntax: MAIL FROM:<address>",
    "501 5.1.7 Bad sender address syntax",
    "501 5.1.7 Bad sender address syntax",
    "501 5.1.7 Sender address must contain a domain",
    "501 5.1.7 Sender address local part too long (max 64 octets)",
    "501 5.1.7 Sender address domain too long (max 255 octets)",
    "501 5.1.7 Sender address too long (max 256 octets)",
};

constexpr PathReplies kRecipientReplies = {
    "501 5.5.4 Syntax: RCPT TO:<address>",
    "501 5.1.3 Bad recipient address syntax",
    "501 5.1.3 Null recipient address not allowed",
    "501 5.1.3 Recipient address must contain a domain",
    "501 5.1.3 Recipient address local part too long (max 64 octets)",
    "501 5.1.3 Recipient address domain too long (max 255 octets)",
    "501 5.1.3 Recipient address too long (max 256 octets)",
};

tl::unexpected<Error> SyntaxFail(std::string_view reply) { return Fail(ErrorKind::kInvalidInput, std::string(reply)); }

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(unsigned char c) { return IsAlpha(c) || IsDigit(c); }
bool IsHex(unsigned char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int HexValue(unsigned char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
char ToUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ToUpper(a[i]) != ToUpper(b[i])) return false;
  return true;
}

// RFC 5322 atext (RFC 6531 adds UTF8-non-ascii, handled by callers).
bool IsAtext(unsigned char c) {
  if (IsAlnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// Length of the well-formed UTF-8 multi-octet sequence at s[i] (2-4), or 0 when
// s[i] does not start one (ASCII, stray continuation, overlong, surrogate, > U+10FFFF).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) { unsigned c = at(k); return c >= lo && c <= hi; };
  unsigned c = at(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0, 0xbf) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90, 0xbf) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool IsValidIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  for (;;) {
    size_t start = i;
    int value = 0;
    while (i < s.size() && IsDigit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

// Counts the 16-bit groups of a colon-separated run ("a:b:c"); the last element may
// be an IPv4 address (2 groups) when v4_tail_ok. Returns -1 on a syntax error.
int Ipv6Groups(std::string_view s, bool v4_tail_ok) {
  if (s.empty()) return 0;
  int groups = 0;
  size_t i = 0;
  for (;;) {
    size_t colon = s.find(':', i);
    std::string_view piece = s.substr(i, colon == kNpos ? kNpos : colon - i);
    if (colon == kNpos && v4_tail_ok && piece.find('.') != kNpos) {
      if (!IsValidIpv4(piece)) return -1;
      groups += 2;
    } else {
      if (piece.empty() || piece.size() > 4) return -1;
      for (char c : piece)
        if (!IsHex(c)) return -1;
      groups += 1;
    }
    if (colon == kNpos) return groups;
    i = colon + 1;
  }
}

// RFC 5321 IPv6-addr (as tolerant as RFC 4291 about "::" standing for one group).
bool IsValidIpv6(std::string_view s) {
  size_t dc = s.find("::");
  if (dc == kNpos) return Ipv6Groups(s, true) == 8;
  if (s.find("::", dc + 1) != kNpos) return false;
  int left = Ipv6Groups(s.substr(0, dc), false);
  int right = Ipv6Groups(s.substr(dc + 2), true);
  return left >= 0 && right >= 0 && left + right <= 7;
}

// Scans an RFC 5321 Domain (RFC 6531 U-labels when allow_utf8) from s[pos]. Returns
// the position after it, or kNpos on a syntax error. Stops at the first octet that
// cannot continue a label after a complete label; the caller checks what follows.
size_t ScanDomain(std::string_view s, size_t pos, bool allow_utf8, bool& utf8) {
  for (;;) {
    size_t start = pos;
    bool non_ascii = false;
    while (pos < s.size()) {
      auto c = static_cast<unsigned char>(s[pos]);
      if (IsAlnum(c) || c == '-') {
        ++pos;
      } else if (c >= 0x80 && allow_utf8) {
        size_t n = Utf8SeqLen(s, pos);
        if (n == 0) return kNpos;
        pos += n;
        non_ascii = true;
      } else {
        break;
      }
    }
    if (pos == start || s[start] == '-' || s[pos - 1] == '-') return kNpos;
    if (!non_ascii && pos - start > 63) return kNpos;
    if (non_ascii) utf8 = true;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      continue;
    }
    return pos;
  }
}

// Scans a bracketed address literal from s[pos] == '['. Returns the position after
// ']' or kNpos.
size_t ScanAddressLiteral(std::string_view s, size_t pos) {
  if (pos >= s.size() || s[pos] != '[') return kNpos;
  size_t close = s.find(']', pos);
  if (close == kNpos) return kNpos;
  std::string_view inner = s.substr(pos + 1, close - pos - 1);
  if (inner.size() > 5 && IEquals(inner.substr(0, 5), "IPv6:")) {
    if (!IsValidIpv6(inner.substr(5))) return kNpos;
  } else if (!IsValidIpv4(inner)) {
    return kNpos;  // General-address-literal: no other tag is standardised
  }
  return close + 1;
}

// Parses the path starting at s[0] == '<'. On success `consumed` is the number of
// octets up to and including '>'.
class PathParser {
 public:
  PathParser(std::string_view s, const PathReplies& replies, bool sender) : s_(s), r_(replies), sender_(sender) {}

  Result<Path> Parse(size_t& consumed) {
    Path path;
    if (!Eat('<')) return SyntaxFail(r_.syntax);
    if (Eat('>')) {
      if (!sender_) return SyntaxFail(r_.null_path);
      path.null = true;
      consumed = pos_;
      return path;
    }
    if (Peek() == '@') {
      while (Eat('@')) {
        size_t start = pos_;
        size_t end = ScanDomain(s_, pos_, true, utf8_);  // At-domain takes no address literal
        if (end == kNpos) return SyntaxFail(r_.syntax);
        if (end - start > kMaxDomain) return SyntaxFail(r_.domain_long);
        if (end > kMaxPath) return SyntaxFail(r_.path_long);  // before storing more hops
        path.source_route.emplace_back(s_.substr(start, end - start));
        pos_ = end;
        if (Eat(',')) {
          if (Peek() != '@') return SyntaxFail(r_.syntax);
          continue;
        }
        if (!Eat(':')) return SyntaxFail(r_.syntax);
        break;
      }
    }
    size_t local_start = pos_;
    if (!LocalPart(path)) return SyntaxFail(r_.syntax);
    if (pos_ - local_start > kMaxLocalPart) return SyntaxFail(r_.local_long);
    if (Eat('@')) {
      size_t start = pos_;
      size_t end;
      if (Peek() == '[') {
        end = ScanAddressLiteral(s_, pos_);
        path.address_literal = true;
      } else {
        end = ScanDomain(s_, pos_, true, utf8_);
      }
      if (end == kNpos) return SyntaxFail(r_.syntax);
      if (end - start > kMaxDomain) return SyntaxFail(r_.domain_long);
      path.domain.assign(s_.substr(start, end - start));
      pos_ = end;
    } else {
      // Only RCPT TO:<postmaster> may lack a domain (RFC 5321 4.5.1).
      bool postmaster = !path.quoted && IEquals(path.local_part, "postmaster") && path.source_route.empty();
      if (sender_ || !postmaster) {
        if (Peek() != '>') return SyntaxFail(r_.syntax);
        return SyntaxFail(r_.no_domain);
      }
    }
    if (!Eat('>')) return SyntaxFail(r_.syntax);
    if (pos_ > kMaxPath) return SyntaxFail(r_.path_long);
    path.utf8 = utf8_;
    consumed = pos_;
    return path;
  }

 private:
  int Peek() const { return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : -1; }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  // Appends the UTF-8 sequence at pos_ to out; false if it is not well-formed.
  bool TakeUtf8(std::string& out) {
    size_t n = Utf8SeqLen(s_, pos_);
    if (n == 0) return false;
    out.append(s_.substr(pos_, n));
    pos_ += n;
    utf8_ = true;
    return true;
  }

  bool LocalPart(Path& path) {
    std::string& out = path.local_part;
    if (Eat('"')) {
      path.quoted = true;
      for (;;) {
        int c = Peek();
        if (c < 0) return false;
        if (c == '"') {
          ++pos_;
          return true;
        }
        if (c == '\\') {
          if (pos_ + 1 >= s_.size()) return false;
          auto d = static_cast<unsigned char>(s_[pos_ + 1]);
          if (d < 32 || d > 126) return false;
          out += static_cast<char>(d);
          pos_ += 2;
        } else if (c >= 32 && c <= 126) {
          out += static_cast<char>(c);
          ++pos_;
        } else if (c >= 0x80) {
          if (!TakeUtf8(out)) return false;
        } else {
          return false;
        }
      }
    }
    for (;;) {  // Dot-string = Atom *("." Atom)
      size_t start = pos_;
      for (;;) {
        int c = Peek();
        if (c >= 0 && IsAtext(static_cast<unsigned char>(c))) {
          out += static_cast<char>(c);
          ++pos_;
        } else if (c >= 0x80) {
          if (!TakeUtf8(out)) return false;
        } else {
          break;
        }
      }
      if (pos_ == start) return false;
      if (!Eat('.')) return true;
      out += '.';
    }
  }

  std::string_view s_;
  const PathReplies& r_;
  bool sender_;
  size_t pos_ = 0;
  bool utf8_ = false;
};

bool IsEsmtpValueOctet(unsigned char c) { return (c >= 33 && c <= 60) || (c >= 62 && c <= 126); }

// Mail-parameters = esmtp-param *(SP esmtp-param) (runs of SP tolerated).
Result<std::vector<Param>> ParseParams(std::string_view s) {
  std::vector<Param> params;
  size_t i = 0;
  for (;;) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i == s.size()) return params;
    if (params.size() == kMaxParams) return SyntaxFail(kTooManyParams);
    size_t end = s.find(' ', i);
    if (end == kNpos) end = s.size();
    std::string_view token = s.substr(i, end - i);
    i = end;
    size_t eq = token.find('=');
    std::string_view key = token.substr(0, eq);
    if (key.empty() || !IsAlnum(key[0])) return SyntaxFail(kBadParam);
    Param p;
    for (char c : key) {
      if (!IsAlnum(c) && c != '-') return SyntaxFail(kBadParam);
      p.key += ToUpper(c);
    }
    if (eq != kNpos) {
      std::string_view value = token.substr(eq + 1);
      if (value.empty()) return SyntaxFail(kBadParam);
      for (size_t k = 0; k < value.size();) {
        auto c = static_cast<unsigned char>(value[k]);
        if (IsEsmtpValueOctet(c)) {
          ++k;
        } else if (size_t n = Utf8SeqLen(value, k); n > 0) {
          k += n;
        } else {
          return SyntaxFail(kBadParam);
        }
      }
      p.value.emplace(value);
    }
    for (const Param& other : params)
      if (other.key == p.key) return SyntaxFail(kDupParam);
    params.push_back(std::move(p));
  }
}

Result<Command> ParseMailRcpt(Command cmd, std::string_view rest, bool sender) {
  const PathReplies& r = sender ? kSenderReplies : kRecipientReplies;
  std::string_view keyword = sender ? "FROM:" : "TO:";
  if (rest.size() < keyword.size() || !IEquals(rest.substr(0, keyword.size()), keyword)) return SyntaxFail(r.usage);
  rest.remove_prefix(keyword.size());
  while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);  // Postfix-style tolerance
  if (rest.empty() || rest[0] != '<') return SyntaxFail(r.syntax);
  size_t consumed = 0;
  auto path = PathParser(rest, r, sender).Parse(consumed);
  if (!path) return tl::unexpected(std::move(path.error()));
  rest.remove_prefix(consumed);
  if (!rest.empty() && rest[0] != ' ') return SyntaxFail(r.syntax);
  auto params = ParseParams(rest);
  if (!params) return tl::unexpected(std::move(params.error()));
  cmd.path = std::move(*path);
  cmd.params = std::move(*params);
  return cmd;
}

Result<Command> ParseBdat(Command cmd, std::string_view rest) {
  constexpr std::string_view kUsage = "501 5.5.4 Syntax: BDAT chunk-size [LAST]";
  size_t i = 0;
  uint64_t size = 0;
  while (i < rest.size() && IsDigit(rest[i])) {
    uint64_t digit = static_cast<uint64_t>(rest[i] - '0');
    if (size > (UINT64_MAX - digit) / 10) return SyntaxFail(kUsage);
    size = size * 10 + digit;
    ++i;
  }
  if (i == 0) return SyntaxFail(kUsage);
  std::string_view tail = rest.substr(i);
  if (!tail.empty()) {
    if (tail[0] != ' ') return SyntaxFail(kUsage);
    while (!tail.empty() && tail[0] == ' ') tail.remove_prefix(1);
    if (!IEquals(tail, "LAST")) return SyntaxFail(kUsage);
    cmd.last = true;
  }
  cmd.chunk_size = size;
  return cmd;
}

bool NeedsQuoting(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return true;
  for (size_t i = 0; i < local.size(); ++i) {
    auto c = static_cast<unsigned char>(local[i]);
    if (c == '.') {
      if (local[i + 1] == '.') return true;  // i + 1 < size: back() is not '.'
    } else if (!IsAtext(c) && c < 0x80) {
      return true;
    }
  }
  return false;
}

}  // namespace

const char* VerbName(Verb verb) {
  for (const auto& e : kVerbs)
    if (e.verb == verb) return e.name.data();  // literals: NUL-terminated
  return "?";
}

std::string Path::Address() const {
  if (null) return {};
  std::string out;
  if (NeedsQuoting(local_part)) {
    out += '"';
    for (char c : local_part) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  } else {
    out = local_part;
  }
  if (!domain.empty()) {
    out += '@';
    out += domain;
  }
  return out;
}

const Param* Command::FindParam(std::string_view key) const {
  for (const Param& p : params)
    if (p.key == key) return &p;
  return nullptr;
}

Result<Command> ParseCommand(std::string_view line) {
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return SyntaxFail(kControlChars);
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  size_t sp = line.find(' ');
  std::string_view verb_text = line.substr(0, sp);
  std::string_view rest = sp == kNpos ? std::string_view() : line.substr(sp + 1);
  while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);

  Command cmd;
  bool known = false;
  for (const auto& e : kVerbs) {
    if (IEquals(verb_text, e.name)) {
      cmd.verb = e.verb;
      known = true;
      break;
    }
  }
  if (!known) return SyntaxFail(kUnknownVerb);
  // MAIL and RCPT check UTF-8 themselves, to answer with the address status code.
  if (cmd.verb != Verb::kMail && cmd.verb != Verb::kRcpt && !IsValidUtf8(rest)) return SyntaxFail(kBadUtf8);
  cmd.arg.assign(rest);

  switch (cmd.verb) {
    case Verb::kHelo:
    case Verb::kEhlo:
    case Verb::kLhlo:
      if (rest.empty() || rest.find_first_of(" \t") != kNpos) {
        std::string usage = "501 5.5.4 Syntax: ";
        usage += VerbName(cmd.verb);
        usage += " hostname";
        return SyntaxFail(usage);
      }
      return cmd;
    case Verb::kMail:
      return ParseMailRcpt(std::move(cmd), rest, true);
    case Verb::kRcpt:
      return ParseMailRcpt(std::move(cmd), rest, false);
    case Verb::kBdat:
      return ParseBdat(std::move(cmd), rest);
    case Verb::kData:
    case Verb::kRset:
    case Verb::kQuit:
    case Verb::kStarttls:
      if (!rest.empty()) {
        std::string usage = "501 5.5.4 Syntax: ";
        usage += VerbName(cmd.verb);
        return SyntaxFail(usage);
      }
      return cmd;
    case Verb::kVrfy:
    case Verb::kExpn:
    case Verb::kEtrn:
    case Verb::kAuth:
      if (rest.empty()) {
        std::string usage = "501 5.5.4 Syntax: ";
        usage += VerbName(cmd.verb);
        usage += cmd.verb == Verb::kAuth ? " mechanism [initial-response]" : " argument";
        return SyntaxFail(usage);
      }
      return cmd;
    case Verb::kNoop:
    case Verb::kHelp:
      return cmd;
  }
  return cmd;
}

std::optional<MailParamRefusal> CheckMailParams(const Command& mail, uint64_t max_size) {
  MailParamOptions options;
  options.max_size = max_size;
  auto parsed = ParseMailParams(mail, options);
  if (parsed) return std::nullopt;
  return parsed.error();
}

Reply ReplyForSyntaxError(const Error& error) {
  std::string_view m = error.message;
  if (m.size() >= 4 && IsDigit(m[0]) && IsDigit(m[1]) && IsDigit(m[2]) && m[3] == ' ' && m[0] >= '2' &&
      m[0] <= '5') {
    std::string_view after = m.substr(4);
    size_t sp = after.find(' ');
    std::string_view enhanced = after.substr(0, sp);
    if (sp != kNpos && IsEnhancedCode(enhanced) && enhanced[0] == m[0]) {
      int code = (m[0] - '0') * 100 + (m[1] - '0') * 10 + (m[2] - '0');
      return Reply{code, std::string(enhanced), SanitizeReplyText(after.substr(sp + 1))};
    }
  }
  return Reply{501, "5.5.4", SanitizeReplyText(m)};
}

Result<std::string> XtextDecode(std::string_view xtext) {
  std::string out;
  out.reserve(xtext.size());
  for (size_t i = 0; i < xtext.size();) {
    auto c = static_cast<unsigned char>(xtext[i]);
    if (c == '+') {
      if (i + 2 >= xtext.size()) return Fail(ErrorKind::kInvalidInput, "501 5.5.4 Malformed xtext");
      auto h = static_cast<unsigned char>(xtext[i + 1]), l = static_cast<unsigned char>(xtext[i + 2]);
      if (!IsHex(h) || !IsHex(l)) return Fail(ErrorKind::kInvalidInput, "501 5.5.4 Malformed xtext");
      out += static_cast<char>(HexValue(h) * 16 + HexValue(l));
      i += 3;
    } else if (c >= 33 && c <= 126 && c != '=') {
      out += static_cast<char>(c);
      ++i;
    } else {
      return Fail(ErrorKind::kInvalidInput, "501 5.5.4 Malformed xtext");
    }
  }
  return out;
}

std::string XtextEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out += ch;
    } else {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

bool IsValidDomain(std::string_view domain, bool allow_utf8) {
  if (domain.empty() || domain.size() > kMaxDomain) return false;
  bool utf8 = false;
  return ScanDomain(domain, 0, allow_utf8, utf8) == domain.size();
}

bool IsValidAddressLiteral(std::string_view literal) { return ScanAddressLiteral(literal, 0) == literal.size(); }

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = Utf8SeqLen(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace columba::smtp
