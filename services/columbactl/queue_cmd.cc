// queue_cmd.cc - `columbactl queue ...`; see queue_cmd.h for the output formats.
#include "services/columbactl/queue_cmd.h"

#include <ctime>

namespace columba::ctl {

namespace {

std::string Time(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string Or(const std::string& s, const char* none = "-") { return s.empty() ? none : s; }

const char* RouteName(v1::Route r) {
  switch (r) {
    case v1::ROUTE_LOCAL: return "local (lmtp)";
    case v1::ROUTE_REMOTE: return "remote (smtp)";
    default: return "unknown";
  }
}

const char* StateName(v1::RecipientState s) {
  switch (s) {
    case v1::RECIPIENT_QUEUED: return "queued";
    case v1::RECIPIENT_DEFERRED: return "deferred";
    case v1::RECIPIENT_DELIVERED: return "delivered";
    case v1::RECIPIENT_FAILED: return "failed";
    default: return "unknown";
  }
}

bool Pending(const v1::QueuedRecipient& r) {
  return r.state() == v1::RECIPIENT_QUEUED || r.state() == v1::RECIPIENT_DEFERRED;
}

int Failed(std::ostream& err, const Error& e) {
  err << "columbactl: " << e.message << "\n";
  return 1;
}

}  // namespace

int QueueList(rpc::QueueClient& q, std::ostream& out, std::ostream& err) {
  v1::ListQueueRequest req;
  req.set_limit(500);
  out << "ID\tSENDER\tRECIPIENTS\tNEXT ATTEMPT\tLAST ERROR\n";
  for (;;) {
    auto page = q.List(req);
    if (!page) return Failed(err, page.error());
    for (const auto& m : page->messages()) {
      int pending = 0;
      for (const auto& r : m.recipients()) pending += Pending(r) ? 1 : 0;
      std::string rcpts = m.recipients_size() > 0 ? m.recipients(0).address() : "-";
      if (m.recipients_size() > 1) rcpts += " +" + std::to_string(m.recipients_size() - 1);
      rcpts += " (" + std::to_string(pending) + " pending)";
      out << m.id() << "\t<" << m.sender() << ">\t" << rcpts << "\t" << Time(m.next_attempt_at()) << "\t"
          << Or(m.last_error()) << "\n";
    }
    if (!page->more() || page->messages_size() == 0) return 0;
    req.set_after_id(page->messages(page->messages_size() - 1).id());
  }
}

int QueueShow(rpc::QueueClient& q, const std::string& id, std::ostream& out, std::ostream& err) {
  auto m = q.Get(id);
  if (!m) return Failed(err, m.error());
  out << "id: " << m->id() << "\n"
      << "created: " << Time(m->created_at()) << "\n"
      << "sender: <" << m->sender() << ">\n"
      << "blob: " << m->blob_id() << "\n"
      << "size: " << m->size() << "\n"
      << "body: " << m->body() << "\n"
      << "smtputf8: " << (m->smtputf8() ? "yes" : "no") << "\n"
      << "envid: " << Or(m->envid()) << "\n"
      << "ret: " << Or(m->ret()) << "\n"
      << "client-ip: " << Or(m->client_ip()) << "\n"
      << "helo: " << Or(m->helo()) << "\n"
      << "auth-user: " << Or(m->auth_user()) << "\n"
      << "next-attempt: " << Time(m->next_attempt_at()) << "\n"
      << "last-error: " << Or(m->last_error()) << "\n";
  for (const auto& r : m->recipients()) {
    out << "recipient: " << r.address() << "\n"
        << "  key: " << r.key() << "\n"
        << "  route: " << RouteName(r.route()) << "\n"
        << "  state: " << StateName(r.state()) << "\n"
        << "  attempts: " << r.attempts() << "\n"
        << "  next-attempt: " << (Pending(r) ? Time(r.next_attempt_at()) : std::string("-")) << "\n"
        << "  last-error: " << Or(r.last_error()) << "\n"
        << "  notify: " << Or(r.notify(), "default") << "\n"
        << "  orcpt: " << Or(r.orcpt()) << "\n"
        << "  leased-by: "
        << (r.leased_by().empty() ? std::string("-") : r.leased_by() + " until " + Time(r.lease_until())) << "\n";
  }
  return 0;
}

int QueueDelete(rpc::QueueClient& q, const std::string& id, std::ostream& out, std::ostream& err) {
  if (auto r = q.Delete(id); !r) return Failed(err, r.error());
  out << "queued message " << id << " deleted\n";
  return 0;
}

}  // namespace columba::ctl
