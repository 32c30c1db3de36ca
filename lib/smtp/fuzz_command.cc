// fuzz_command.cc - libFuzzer target for ParseCommand, Path::Address, the ESMTP
// parameter checks (esmtp_params.h) and replies.
//
// Checks invariants, abort()ing on a violation: an error always carries a
// well-formed "CODE ENHANCED text" reply (500/501, class 5) that formats to one line;
// a parsed path's canonical Address() parses back to the same local part and domain;
// parameter keys are upper case. Never does I/O beyond what libFuzzer gives it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/smtp/command.h"
#include "lib/smtp/esmtp_params.h"
#include "lib/smtp/reply.h"

using namespace columba::smtp;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool OneLine(const std::string& formatted) {
  return formatted.size() <= kMaxReplyLine && formatted.size() >= 2 && formatted.find('\n') == formatted.size() - 1 &&
         formatted.find('\r') == formatted.size() - 2;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto cmd = ParseCommand(line);
  if (!cmd) {
    Check(cmd.error().kind == columba::ErrorKind::kInvalidInput);
    Reply reply = ReplyForSyntaxError(cmd.error());
    Check(reply.code == 500 || reply.code == 501);
    Check(IsEnhancedCode(reply.enhanced) && reply.enhanced[0] == '5');
    Check(cmd.error().message == std::to_string(reply.code) + " " + reply.enhanced + " " + reply.text);
    Check(OneLine(FormatReply(reply)));
    return 0;
  }
  Check(cmd->arg.find_first_of("\r\n") == std::string::npos);
  for (const Param& p : cmd->params) {
    Check(!p.key.empty());
    for (char c : p.key) Check(!(c >= 'a' && c <= 'z') && c != ' ');
    if (p.value) Check(!p.value->empty() && p.value->find(' ') == std::string::npos);
  }
  if ((cmd->verb == Verb::kMail || cmd->verb == Verb::kRcpt) && !cmd->path.null) {
    const Path& path = cmd->path;
    Check(path.local_part.size() <= kMaxLocalPart && path.domain.size() <= kMaxDomain);
    std::string all = path.local_part + path.domain;
    for (const std::string& hop : path.source_route) all += hop;
    bool non_ascii = false;
    for (char c : all) non_ascii |= static_cast<unsigned char>(c) >= 0x80;
    Check(path.utf8 == non_ascii && IsValidUtf8(all));
    std::string address = path.Address();
    auto again = ParseCommand("RCPT TO:<" + address + ">");
    Check(again.has_value());
    Check(again->path.local_part == path.local_part);
    Check(again->path.domain == path.domain);
    Check(again->path.Address() == address);
    Check(again->path.source_route.empty());
    if (!path.domain.empty() && !path.address_literal) Check(IsValidDomain(path.domain, true));
    if (path.address_literal) Check(IsValidAddressLiteral(path.domain));
  }
  // The ESMTP parameter checks (esmtp_params.h): every refusal is a well-formed
  // reply; what is accepted stays within the RFC 3461 limits.
  if (cmd->verb == Verb::kMail) {
    MailParamOptions o;
    o.max_size = 1000;
    o.smtputf8 = o.dsn = o.auth = o.binarymime = true;
    auto mp = ParseMailParams(*cmd, o);
    if (!mp) {
      Check(IsEnhancedCode(mp.error().reply.enhanced) && OneLine(FormatReply(mp.error().reply)));
    } else {
      Check(mp->envid.size() <= 100 && (mp->ret.empty() || mp->ret == "FULL" || mp->ret == "HDRS"));
      Check(!mp->size || *mp->size <= 1000);
    }
  }
  if (cmd->verb == Verb::kRcpt) {
    auto rp = ParseRcptParams(*cmd, true);
    if (!rp) Check(IsEnhancedCode(rp.error().reply.enhanced) && OneLine(FormatReply(rp.error().reply)));
    else Check(rp->orcpt.size() <= 540 && rp->notify.find(' ') == std::string::npos);
  }
  // Echoing anything parsed back in a reply stays one line.
  Check(OneLine(FormatReply(250, "2.0.0", cmd->arg)));
  return 0;
}
