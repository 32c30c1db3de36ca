// bodystructure.cc - IMAP BODY / BODYSTRUCTURE and ENVELOPE strings (RFC 3501
// 7.4.2, RFC 9051 7.5.2) from a ParsedMessage.
//
// Output follows Dovecot's choices where the RFC leaves room: a text/* part
// without a charset gets ("charset" "us-ascii"), a multipart without parts gets
// one empty text/plain part, every 1-part body carries all four extension
// fields (md5 disposition language location), RFC 2231 values are sent in
// their "name*" wire form. Strings with CR, LF, 8-bit bytes or more than 1024
// octets become literals.
//
// Must never emit a syntactically invalid string (no NUL, no bare CR/LF in a
// quoted string), and never recurse deeper than the parsed tree.
#include <string>

#include "lib/mail/address.h"
#include "lib/mail/decode.h"
#include "lib/mail/message.h"

namespace columba::mail {
namespace {

constexpr size_t kMaxQuotedLength = 1024;

void AppendString(std::string& out, std::string_view s) {
  bool literal = s.size() > kMaxQuotedLength;
  size_t nuls = 0;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) ++nuls;
    if (u >= 0x80 || c == '\r' || c == '\n') literal = true;
  }
  if (literal) {
    out += '{';
    out += std::to_string(s.size() - nuls);
    out += "}\r\n";
    for (char c : s)
      if (c != '\0') out += c;  // NUL is not allowed even in a literal
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '\0') continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void AppendNString(std::string& out, const std::optional<std::string>& s) {
  if (s) {
    AppendString(out, *s);
  } else {
    out += "NIL";
  }
}

// A header value as an nstring: CR/LF of folding removed, like Dovecot's
// imap_append_nstring_nolf.
void AppendHeaderNString(std::string& out, std::optional<std::string_view> raw) {
  if (!raw) {
    out += "NIL";
    return;
  }
  AppendString(out, UnfoldHeader(*raw));
}

void AppendParams(std::string& out, const std::vector<MimeParam>& params, bool default_charset) {
  bool has_charset = false;
  for (const MimeParam& p : params) has_charset = has_charset || p.name == "charset";
  const bool add_charset = default_charset && !has_charset;
  if (params.empty() && !add_charset) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const MimeParam& p : params) {
    if (!first) out += ' ';
    first = false;
    if (p.rfc2231.empty()) {
      AppendString(out, p.name);
      out += ' ';
      AppendString(out, p.value);
    } else {
      AppendString(out, p.name + "*");
      out += ' ';
      AppendString(out, p.rfc2231);
    }
  }
  if (add_charset) out += first ? "\"charset\" \"us-ascii\"" : " \"charset\" \"us-ascii\"";
  out += ')';
}

// body-fld-dsp SP body-fld-lang SP body-fld-loc
void AppendDispositionLanguageLocation(std::string& out, const MessagePart& p) {
  if (p.disposition) {
    out += '(';
    AppendString(out, *p.disposition);
    out += ' ';
    AppendParams(out, p.disposition_params, false);
    out += ')';
  } else {
    out += "NIL";
  }
  out += ' ';
  if (p.languages.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (size_t i = 0; i < p.languages.size(); ++i) {
      if (i > 0) out += ' ';
      AppendString(out, p.languages[i]);
    }
    out += ')';
  }
  out += ' ';
  AppendNString(out, p.location);
}

void AppendAddressList(std::string& out, std::optional<std::string_view> raw) {
  if (!raw) {
    out += "NIL";
    return;
  }
  AddressList list = ParseAddressList(*raw);
  if (list.addresses.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const Address& a : list.addresses) {
    switch (a.kind) {
      case Address::Kind::kGroupStart:
        out += "(NIL NIL ";
        AppendString(out, a.name);
        out += " NIL)";
        break;
      case Address::Kind::kGroupEnd:
        out += "(NIL NIL NIL NIL)";
        break;
      case Address::Kind::kMailbox:
        out += '(';
        if (a.name.empty()) {
          out += "NIL";
        } else {
          AppendString(out, a.name);
        }
        out += ' ';
        if (a.route.empty()) {
          out += "NIL";
        } else {
          AppendString(out, a.route);
        }
        out += ' ';
        AppendString(out, a.mailbox);
        out += ' ';
        AppendString(out, a.host);  // never NIL: a NIL host marks a group
        out += ')';
        break;
    }
  }
  out += ')';
}

bool HasAddresses(std::optional<std::string_view> raw) {
  if (!raw) return false;
  AddressLimits one;
  one.max_addresses = 1;
  return !ParseAddressList(*raw, one).addresses.empty();
}

void AppendEnvelope(std::string& out, const ParsedMessage& msg, size_t part) {
  auto h = [&](std::string_view name) { return msg.Header(name, part); };
  const auto from = h("From");
  auto sender = h("Sender");
  auto reply_to = h("Reply-To");
  if (!HasAddresses(sender)) sender = from;
  if (!HasAddresses(reply_to)) reply_to = from;

  out += '(';
  AppendHeaderNString(out, h("Date"));
  out += ' ';
  AppendHeaderNString(out, h("Subject"));
  out += ' ';
  AppendAddressList(out, from);
  out += ' ';
  AppendAddressList(out, sender);
  out += ' ';
  AppendAddressList(out, reply_to);
  out += ' ';
  AppendAddressList(out, h("To"));
  out += ' ';
  AppendAddressList(out, h("Cc"));
  out += ' ';
  AppendAddressList(out, h("Bcc"));
  out += ' ';
  AppendHeaderNString(out, h("In-Reply-To"));
  out += ' ';
  AppendHeaderNString(out, h("Message-ID"));
  out += ')';
}

constexpr std::string_view kEmptyBody = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";

void AppendBody(std::string& out, const ParsedMessage& msg, size_t idx, bool extended) {
  const MessagePart& p = msg.parts[idx];
  out += '(';
  if (p.kind == PartKind::kMultipart) {
    if (p.children.empty()) out += kEmptyBody;  // a multipart needs at least one body
    for (size_t child : p.children) AppendBody(out, msg, child, extended);
    out += ' ';
    AppendString(out, p.subtype);
    if (extended) {
      out += ' ';
      AppendParams(out, p.params, false);
      out += ' ';
      AppendDispositionLanguageLocation(out, p);
    }
    out += ')';
    return;
  }

  const bool text = p.type == "text";
  AppendString(out, p.type);
  out += ' ';
  AppendString(out, p.subtype);
  out += ' ';
  AppendParams(out, p.params, text);
  out += ' ';
  AppendNString(out, p.content_id);
  out += ' ';
  AppendNString(out, p.description);
  out += ' ';
  AppendString(out, p.transfer_encoding);
  out += ' ';
  out += std::to_string(p.body_octets_crlf);
  if (text) {
    out += ' ';
    out += std::to_string(p.body_lines);
  } else if (p.kind == PartKind::kMessage && !p.children.empty()) {
    out += ' ';
    AppendEnvelope(out, msg, p.children[0]);
    out += ' ';
    AppendBody(out, msg, p.children[0], extended);
    out += ' ';
    out += std::to_string(p.body_lines);
  }
  if (extended) {
    out += ' ';
    AppendNString(out, p.md5);
    out += ' ';
    AppendDispositionLanguageLocation(out, p);
  }
  out += ')';
}

}  // namespace

std::string BodyStructure(const ParsedMessage& msg, bool extended) {
  std::string out;
  if (msg.parts.empty()) return std::string(kEmptyBody);
  out.reserve(256 * msg.parts.size());
  AppendBody(out, msg, 0, extended);
  return out;
}

std::string Envelope(const ParsedMessage& msg, size_t part) {
  std::string out;
  out.reserve(512);
  AppendEnvelope(out, msg, part);
  return out;
}

}  // namespace columba::mail
