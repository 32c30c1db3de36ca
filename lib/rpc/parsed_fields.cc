// parsed_fields.cc - one lib/mail parse -> the fields metad caches.
#include "lib/rpc/parsed_fields.h"

#include "lib/mail/message.h"

namespace columba::rpc {

Result<MessageFields> ComputeMessageFields(std::string_view message) {
  auto parsed = mail::ParseMessage(message);
  if (!parsed) return tl::unexpected(parsed.error());
  MessageFields out;
  auto& f = out.parsed;
  f.set_envelope(mail::Envelope(*parsed));
  f.set_bodystructure(mail::BodyStructure(*parsed, true));
  f.set_body(mail::BodyStructure(*parsed, false));
  mail::SearchFields s = mail::ExtractSearchFields(*parsed);
  f.set_subject(std::move(s.subject));
  f.set_from(std::move(s.from));
  f.set_to(std::move(s.to));
  f.set_cc(std::move(s.cc));
  f.set_bcc(std::move(s.bcc));
  f.set_message_id(std::move(s.message_id));
  f.set_in_reply_to(std::move(s.in_reply_to));
  f.set_references(std::move(s.references));
  f.set_sent_unix(s.date);
  f.set_header_size(static_cast<uint32_t>(parsed->parts[0].body_start));
  f.set_headers(std::move(s.headers));
  f.set_body_text(std::move(s.body_text));
  out.part_map = imap::BuildPartMap(*parsed);
  return out;
}

}  // namespace columba::rpc
