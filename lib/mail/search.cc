// search.cc - search rows (SearchFields) extracted from a ParsedMessage.
//
// Decodes what IMAP SEARCH compares against: header texts with RFC 2047
// decoded, addresses, message ids, the Date as unix time, the header block and
// a bounded plain-text extract of text/* bodies. Every output string is valid
// UTF-8 without NUL so the store can put it in a text column.
//
// Must never decode more input than a small multiple of the output cap, never
// recurse, never fail.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>

#include "lib/mail/address.h"
#include "lib/mail/date.h"
#include "lib/mail/decode.h"
#include "lib/mail/message.h"

namespace columba::mail {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool StartsWithIgnoreCase(std::string_view s, size_t at, std::string_view prefix) {
  if (s.size() - at < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (Lower(s[at + i]) != prefix[i]) return false;
  return true;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void TruncateUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

std::string FormatAddresses(std::optional<std::string_view> raw) {
  std::string out;
  if (!raw) return out;
  AddressList list = ParseAddressList(*raw);
  bool need_sep = false;
  for (const Address& a : list.addresses) {
    switch (a.kind) {
      case Address::Kind::kGroupStart:
        if (need_sep) out += ", ";
        out += DecodeHeaderText(a.name);
        out += ": ";
        need_sep = false;
        break;
      case Address::Kind::kGroupEnd:
        out += ';';
        need_sep = true;
        break;
      case Address::Kind::kMailbox: {
        if (need_sep) out += ", ";
        std::string spec = a.mailbox;
        if (!a.host.empty()) spec += "@" + a.host;
        if (!a.name.empty()) {
          out += DecodeHeaderText(a.name);
          out += " <";
          out += SanitizeUtf8(spec);
          out += '>';
        } else {
          out += SanitizeUtf8(spec);
        }
        need_sep = true;
        break;
      }
    }
  }
  return out;
}


// "&amp;" etc. at s[i]; returns the length consumed (0 = not an entity).
size_t DecodeEntity(std::string_view s, size_t i, std::string& out) {
  // Look only a few bytes ahead, so "&&&&...;" stays linear.
  size_t semi = s.substr(i, 12).find(';');
  if (semi == std::string_view::npos) return 0;
  semi += i;
  std::string_view name = s.substr(i + 1, semi - i - 1);
  if (!name.empty() && name[0] == '#') {
    uint32_t cp = 0;
    bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int v;
      if (c >= '0' && c <= '9') {
        v = c - '0';
      } else if (hex && Lower(c) >= 'a' && Lower(c) <= 'f') {
        v = Lower(c) - 'a' + 10;
      } else {
        return 0;
      }
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
      if (cp > 0x10FFFF) cp = 0x110000;  // stays invalid, no overflow
    }
    AppendCodePoint(out, cp);
    return semi - i + 1;
  }
  // HTML 4 Latin-1 entities, U+00A0..U+00FF in order.
  static constexpr std::string_view kLatin1[] = {
      "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",    "copy",
      "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn", "sup2",   "sup3",
      "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12",
      "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil",
      "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde",
      "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",
      "Uuml",   "Yacute", "THORN",  "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",
      "aelig",  "ccedil", "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",
      "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
      "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};
  static_assert(std::size(kLatin1) == 96);
  struct Named {
    std::string_view name;
    uint32_t cp;
  };
  static constexpr Named kNamed[] = {{"amp", '&'},       {"lt", '<'},         {"gt", '>'},
                                     {"quot", '"'},      {"apos", '\''},      {"euro", 0x20AC},
                                     {"hellip", 0x2026}, {"mdash", 0x2014},   {"ndash", 0x2013},
                                     {"lsquo", 0x2018},  {"rsquo", 0x2019},   {"ldquo", 0x201C},
                                     {"rdquo", 0x201D},  {"bull", 0x2022},    {"trade", 0x2122}};
  if (name == "nbsp") {  // a plain space is what a searcher types
    out += ' ';
    return semi - i + 1;
  }
  for (const Named& n : kNamed) {
    if (name == n.name) {
      AppendCodePoint(out, n.cp);
      return semi - i + 1;
    }
  }
  for (size_t k = 0; k < std::size(kLatin1); ++k) {
    if (name == kLatin1[k]) {
      AppendCodePoint(out, static_cast<uint32_t>(0xA0 + k));
      return semi - i + 1;
    }
  }
  return 0;
}

// A crude, linear HTML to text pass: tags dropped (block tags become line
// breaks), script/style/comments skipped, common entities decoded.
std::string HtmlToText(std::string_view s) {
  std::string out;
  out.reserve(s.size() / 2);
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '&') {
      if (size_t n = DecodeEntity(s, i, out); n > 0) {
        i += n;
        continue;
      }
      out += c;
      ++i;
      continue;
    }
    if (c != '<') {
      out += c;
      ++i;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      size_t e = s.find("-->", i + 4);
      i = e == std::string_view::npos ? s.size() : e + 3;
      continue;
    }
    size_t gt = s.find('>', i);
    if (gt == std::string_view::npos) break;
    size_t n = i + 1;
    bool closing = n < gt && s[n] == '/';
    if (closing) ++n;
    std::string name;
    while (n < gt && name.size() < 16 && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                                          (s[n] >= '0' && s[n] <= '9'))) {
      name += Lower(s[n++]);
    }
    i = gt + 1;
    if (!closing && (name == "script" || name == "style")) {
      std::string end_tag = "</" + name;
      size_t e = i;
      while (e < s.size() && !StartsWithIgnoreCase(s, e, end_tag)) {
        size_t lt = s.find('<', e + 1);
        e = lt == std::string_view::npos ? s.size() : lt;
      }
      size_t close = s.find('>', e);
      i = close == std::string_view::npos ? s.size() : close + 1;
      continue;
    }
    static constexpr std::string_view kBlock[] = {"br", "p",  "div", "tr", "li", "h1", "h2", "h3",
                                                  "h4", "h5", "h6",  "table", "blockquote", "td", "th", "hr"};
    if (std::find(std::begin(kBlock), std::end(kBlock), name) != std::end(kBlock)) {
      if (!out.empty() && out.back() != '\n') out += '\n';
    }
  }
  return out;
}

// Decodes one text/* part into UTF-8 plain text; reads at most `max_input`
// bytes of the body.
std::string PartText(const ParsedMessage& msg, size_t idx, size_t max_input) {
  const MessagePart& p = msg.parts[idx];
  std::string_view body = msg.Body(idx).substr(0, max_input);
  std::string decoded = DecodeTransferEncoding(body, p.transfer_encoding);
  const MimeParam* charset = p.Param("charset");
  std::string text;
  text.reserve(decoded.size());
  AppendAsUtf8(text, decoded, charset != nullptr ? std::string_view(charset->value) : "us-ascii");
  if (p.subtype == "html") text = HtmlToText(text);
  // CRLF -> LF keeps the extract compact and uniform.
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> ExtractMessageIds(std::string_view raw) {
  std::vector<std::string> ids;
  size_t i = 0;
  while (i < raw.size()) {
    size_t lt = raw.find('<', i);
    if (lt == std::string_view::npos) break;
    size_t gt = raw.find('>', lt + 1);
    if (gt == std::string_view::npos) break;
    std::string id;
    for (char c : raw.substr(lt, gt - lt + 1))
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t') id += c;
    if (id.size() > 2) ids.push_back(SanitizeUtf8(id));
    i = gt + 1;
  }
  return ids;
}

SearchFields ExtractSearchFields(const ParsedMessage& msg, const SearchLimits& limits) {
  SearchFields f;
  if (msg.parts.empty()) return f;
  auto h = [&](std::string_view name) { return msg.Header(name); };

  if (auto v = h("Subject")) f.subject = DecodeHeaderText(*v);
  f.from = FormatAddresses(h("From"));
  f.to = FormatAddresses(h("To"));
  f.cc = FormatAddresses(h("Cc"));
  f.bcc = FormatAddresses(h("Bcc"));
  if (auto v = h("Message-ID")) {
    auto ids = ExtractMessageIds(*v);
    f.message_id = ids.empty() ? SanitizeUtf8(UnfoldHeader(*v)) : ids[0];
  }
  if (auto v = h("In-Reply-To")) f.in_reply_to = SanitizeUtf8(UnfoldHeader(*v));
  if (auto v = h("References")) {
    for (const std::string& id : ExtractMessageIds(*v)) {
      if (!f.references.empty()) f.references += ' ';
      f.references += id;
    }
  }
  if (auto v = h("Date")) {
    if (auto d = ParseMessageDate(*v)) {
      f.date = d->unix_time;
      f.date_zone_minutes = d->zone_minutes;
    }
  }

  const MessagePart& root = msg.parts[0];
  std::string_view header_block =
      msg.raw.substr(root.header_start, std::min(root.body_start - root.header_start, limits.max_header_text));
  f.headers = SanitizeUtf8(header_block);
  TruncateUtf8(f.headers, limits.max_header_text);

  // Body text: text/* leaves in part order. Input read per part is bounded by
  // a multiple of the remaining output budget (HTML and base64 shrink).
  for (size_t idx = 0; idx < msg.parts.size(); ++idx) {
    const MessagePart& p = msg.parts[idx];
    if (p.kind != PartKind::kLeaf || p.type != "text") continue;
    if (f.body_text.size() >= limits.max_body_text) {
      f.body_text_truncated = true;
      break;
    }
    const size_t remaining = limits.max_body_text - f.body_text.size();
    const size_t max_input = remaining > (SIZE_MAX - 4096) / 4 ? SIZE_MAX : remaining * 4 + 4096;
    if (p.body_octets > max_input) f.body_text_truncated = true;
    std::string text = PartText(msg, idx, max_input);
    if (text.empty()) continue;
    if (!f.body_text.empty() && f.body_text.back() != '\n') f.body_text += '\n';
    f.body_text += text;
  }
  if (f.body_text.size() > limits.max_body_text) {
    TruncateUtf8(f.body_text, limits.max_body_text);
    f.body_text_truncated = true;
  }
  return f;
}

}  // namespace columba::mail
