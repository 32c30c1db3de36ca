// esmtp_params.cc - MAIL/RCPT parameter checks (esmtp_params.h).
#include "lib/smtp/esmtp_params.h"

#include <algorithm>

namespace columba::smtp {

namespace {

using Refusal = MailParamRefusal;

tl::unexpected<Refusal> Bad(std::string text) { return tl::unexpected(Refusal{Reply{501, "5.5.4", std::move(text)}}); }
tl::unexpected<Refusal> Unsupported(const std::string& key, std::string_view verb) {
  return tl::unexpected(Refusal{Reply{555, "5.5.4", "Unsupported " + std::string(verb) + " parameter " + key}});
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// RFC 3461 4.2: addr-type ";" xtext, addr-type an atom; the decoded address is
// printable ASCII (UTF-8 allowed for utf-8 addr-type, RFC 6533) and at most 500 octets.
std::optional<std::string> CheckOrcpt(const std::string& value) {
  auto semi = value.find(';');
  if (semi == std::string::npos || semi == 0 || semi > 32) return std::nullopt;
  std::string type = value.substr(0, semi);
  for (char c : type)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return std::nullopt;
  auto addr = XtextDecode(std::string_view(value).substr(semi + 1));
  if (!addr || addr->empty() || addr->size() > 500) return std::nullopt;
  for (unsigned char c : *addr)
    if (c < 32 || c == 127) return std::nullopt;
  return type + ";" + *addr;
}

}  // namespace

tl::expected<MailParams, MailParamRefusal> ParseMailParams(const Command& mail, const MailParamOptions& o) {
  MailParams out;
  for (const auto& p : mail.params) {
    if (p.key == "SIZE") {
      if (!p.value || p.value->empty() || p.value->size() > 19 ||
          p.value->find_first_not_of("0123456789") != std::string::npos)
        return Bad("Bad SIZE parameter");
      out.size = std::stoull(*p.value);
      if (*out.size > o.max_size)
        return tl::unexpected(Refusal{Reply{552, "5.3.4", "Message size exceeds fixed maximum message size"}, false});
    } else if (p.key == "BODY") {
      std::string body = Upper(p.value.value_or(""));
      if (body == "BINARYMIME" && !o.binarymime) return Bad("BODY=BINARYMIME is not offered");
      if (body != "7BIT" && body != "8BITMIME" && body != "BINARYMIME") return Bad("BODY must be 7BIT or 8BITMIME");
      out.body = body;
    } else if (p.key == "SMTPUTF8" && o.smtputf8) {
      if (p.value) return Bad("SMTPUTF8 takes no value");
      out.smtputf8 = true;
    } else if (p.key == "RET" && o.dsn) {
      std::string ret = Upper(p.value.value_or(""));
      if (ret != "FULL" && ret != "HDRS") return Bad("RET must be FULL or HDRS");
      out.ret = ret;
    } else if (p.key == "ENVID" && o.dsn) {
      auto id = p.value ? XtextDecode(*p.value) : Result<std::string>(Fail(ErrorKind::kInvalidInput, ""));
      // RFC 3461 4.4: at most 100 characters, printable ASCII.
      if (!id || id->empty() || id->size() > 100) return Bad("Bad ENVID parameter");
      for (unsigned char c : *id)
        if (c < 32 || c > 126) return Bad("Bad ENVID parameter");
      out.envid = *id;
    } else if (p.key == "AUTH" && o.auth) {
      // RFC 4954 5: the original submitter, "<>" when unknown; xtext. Only checked.
      if (!p.value || !XtextDecode(*p.value)) return Bad("Bad AUTH parameter");
    } else {
      return Unsupported(p.key, "MAIL");
    }
  }
  if (mail.path.utf8 && !out.smtputf8)
    return tl::unexpected(Refusal{Reply{553, "5.6.7", "Non-ASCII address needs the SMTPUTF8 parameter"}});
  return out;
}

tl::expected<RcptParams, MailParamRefusal> ParseRcptParams(const Command& rcpt, bool dsn) {
  RcptParams out;
  for (const auto& p : rcpt.params) {
    if (p.key == "NOTIFY" && dsn) {
      std::string v = Upper(p.value.value_or(""));
      if (v == "NEVER") {
        out.notify = v;
        continue;
      }
      // A comma list of SUCCESS, FAILURE, DELAY, each at most once (RFC 3461 4.1).
      std::vector<std::string> seen;
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if ((item != "SUCCESS" && item != "FAILURE" && item != "DELAY") ||
            std::find(seen.begin(), seen.end(), item) != seen.end())
          return Bad("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
        seen.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      out.notify = v;
    } else if (p.key == "ORCPT" && dsn) {
      auto orcpt = p.value ? CheckOrcpt(*p.value) : std::nullopt;
      if (!orcpt) return Bad("Bad ORCPT parameter");
      out.orcpt = *orcpt;
    } else {
      return Unsupported(p.key, "RCPT");
    }
  }
  return out;
}

}  // namespace columba::smtp
