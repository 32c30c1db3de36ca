// pg_queue.cc - queue transactions; see pg_queue.h for the rules they keep.
//
// Lock order: a Complete locks the message row first, then its recipient rows;
// Claim locks recipient rows only (SKIP LOCKED, so it never waits on them);
// DeleteQueued deletes the message row (and, by cascade, its recipients). No
// statement takes locks in another order, so queue calls do not deadlock.
// Input text never reaches SQL except as a bound parameter; the array literals
// built here hold only validated hex ids, numbers, or text quoted element-wise.
#include "storage/postgres/pg_queue.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "storage/postgres/pg_transaction.h"

namespace columba::pg {

namespace {

using pqxx::work;

// ------------------------------------------------------------ input checks

// Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (b < 0x80 || b > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

// Text for an envelope field: at most `max` octets, UTF-8, no control characters
// (and no space when `allow_space` is false).
Result<void> CheckText(std::string_view what, std::string_view s, size_t max, bool allow_space) {
  if (s.size() > max) return Fail(ErrorKind::kInvalidInput, fmt::format("{} longer than {} octets", what, max));
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || (c == ' ' && !allow_space))
      return Fail(ErrorKind::kInvalidInput, fmt::format("{} contains a control character or space", what));
  if (!IsUtf8(s)) return Fail(ErrorKind::kInvalidInput, fmt::format("{} is not valid UTF-8", what));
  return {};
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// DSN NOTIFY (RFC 3461 4.1): "NEVER" or a list of SUCCESS, FAILURE, DELAY.
Result<std::string> CheckNotify(std::string_view in) {
  if (in.empty()) return std::string();
  std::string up = Upper(in);
  if (up == "NEVER") return up;
  std::set<std::string> seen;
  size_t start = 0;
  for (;;) {
    size_t comma = up.find(',', start);
    std::string item = up.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item != "SUCCESS" && item != "FAILURE" && item != "DELAY")
      return Fail(ErrorKind::kInvalidInput, "notify must be NEVER or a list of SUCCESS, FAILURE, DELAY");
    if (!seen.insert(item).second) return Fail(ErrorKind::kInvalidInput, "notify lists " + item + " twice");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return up;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Error text from a runner: cut to kMaxError octets at a character boundary,
// invalid UTF-8 and controls replaced by '?'. Never refused: a refusal here would
// leave a recipient leased until its lease expires.
std::string CleanError(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size() && out.size() < QueueLimits::kMaxError;) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (i + len <= in.size() && IsUtf8(in.substr(i, len)) && out.size() + len <= QueueLimits::kMaxError) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}


template <class Int>
std::string NumberArray(const std::vector<Int>& items) {
  std::string s = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(items[i]);
  }
  return s + "}";
}

// 8 random lowercase hex digits (the random half of a queue id).
std::string RandomHex8() {
  static thread_local std::random_device rd;
  return fmt::format("{:08x}", static_cast<uint32_t>(rd()));
}

// ------------------------------------------------------------ rows

// Message columns (0..11) then recipient columns (12..23), as every read selects them.
constexpr const char* kRowCols =
    "m.queue_id, m.sender, m.blob_id, m.size, m.envid, m.ret, m.smtputf8, m.body, m.client_ip, m.helo,"
    " m.auth_user, extract(epoch FROM m.created_at)::bigint,"
    " r.recipient_id, r.address, r.route, r.notify, r.orcpt, r.state, r.attempts,"
    " extract(epoch FROM r.next_attempt_at)::bigint, r.last_error, r.leased_by,"
    " coalesce(extract(epoch FROM r.lease_until)::bigint, 0), extract(epoch FROM r.updated_at)::float8";

bool Pending(v1::RecipientState s) { return s == v1::RECIPIENT_QUEUED || s == v1::RECIPIENT_DEFERRED; }

// Groups rows (ordered by queue_id, recipient_id) into messages and fills the
// message-level next_attempt_at / last_error from the recipients present.
std::vector<v1::QueuedMessage> GroupRows(const pqxx::result& rows) {
  std::vector<v1::QueuedMessage> out;
  double last_error_at = -1;
  for (const auto& row : rows) {
    std::string id = row[0].as<std::string>();
    if (out.empty() || out.back().id() != id) {
      v1::QueuedMessage m;
      m.set_id(id);
      m.set_sender(row[1].as<std::string>());
      m.set_blob_id(row[2].as<std::string>());
      m.set_size(row[3].as<uint64_t>());
      m.set_envid(row[4].as<std::string>());
      m.set_ret(row[5].as<std::string>());
      m.set_smtputf8(row[6].as<bool>());
      m.set_body(row[7].as<std::string>());
      m.set_client_ip(row[8].as<std::string>());
      m.set_helo(row[9].as<std::string>());
      m.set_auth_user(row[10].as<std::string>());
      m.set_created_at(row[11].as<int64_t>());
      out.push_back(std::move(m));
      last_error_at = -1;
    }
    if (row[12].is_null()) continue;  // (a message always has recipients; LEFT JOIN safety)
    auto& m = out.back();
    auto* r = m.add_recipients();
    r->set_key(row[12].as<uint64_t>());
    r->set_address(row[13].as<std::string>());
    r->set_route(static_cast<v1::Route>(row[14].as<int>()));
    r->set_notify(row[15].as<std::string>());
    r->set_orcpt(row[16].as<std::string>());
    r->set_state(static_cast<v1::RecipientState>(row[17].as<int>()));
    r->set_attempts(row[18].as<uint32_t>());
    r->set_next_attempt_at(row[19].as<int64_t>());
    r->set_last_error(row[20].as<std::string>());
    r->set_leased_by(row[21].as<std::string>());
    r->set_lease_until(row[22].as<int64_t>());
    if (Pending(r->state()) && (m.next_attempt_at() == 0 || r->next_attempt_at() < m.next_attempt_at()))
      m.set_next_attempt_at(r->next_attempt_at());
    double updated = row[23].as<double>();
    if (!r->last_error().empty() && updated >= last_error_at) {
      last_error_at = updated;
      m.set_last_error(r->last_error());
    }
  }
  return out;
}

Result<void> CheckQueueId(std::string_view id) {
  if (!IsValidQueueId(id)) return Fail(ErrorKind::kInvalidInput, "queue id must be 16 lowercase hex digits");
  return {};
}

Result<void> CheckWorker(std::string_view worker) {
  if (worker.empty()) return Fail(ErrorKind::kInvalidInput, "worker name is empty");
  return CheckText("worker", worker, QueueLimits::kMaxWorker, false);
}

}  // namespace

bool IsValidQueueId(std::string_view id) { return id.size() == 16 && IsLowerHex(id); }

Result<v1::EnqueueRequest> CheckEnqueue(const v1::EnqueueRequest& in) {
  v1::EnqueueRequest r = in;
  if (r.recipients_size() == 0) return Fail(ErrorKind::kInvalidInput, "no recipients");
  if (r.recipients_size() > QueueLimits::kMaxRecipients)
    return Fail(ErrorKind::kInvalidInput, fmt::format("more than {} recipients", QueueLimits::kMaxRecipients));
  if (r.blob_id().size() != 64 || !IsLowerHex(r.blob_id()))
    return Fail(ErrorKind::kInvalidInput, "blob_id must be a SHA-256 hex id (64 lowercase hex digits)");
  if (r.size() > static_cast<uint64_t>(INT64_MAX)) return Fail(ErrorKind::kInvalidInput, "size out of range");
  if (auto c = CheckText("sender", r.sender(), QueueLimits::kMaxAddress, false); !c) return tl::unexpected(c.error());
  if (auto c = CheckText("envid", r.envid(), QueueLimits::kMaxEnvid, false); !c) return tl::unexpected(c.error());
  if (auto c = CheckText("client_ip", r.client_ip(), QueueLimits::kMaxClientIp, false); !c)
    return tl::unexpected(c.error());
  if (auto c = CheckText("helo", r.helo(), QueueLimits::kMaxHelo, false); !c) return tl::unexpected(c.error());
  if (auto c = CheckText("auth_user", r.auth_user(), QueueLimits::kMaxAddress, false); !c)
    return tl::unexpected(c.error());
  r.set_ret(Upper(r.ret()));
  if (r.ret() != "" && r.ret() != "FULL" && r.ret() != "HDRS")
    return Fail(ErrorKind::kInvalidInput, "ret must be \"\", FULL or HDRS");
  r.set_body(Upper(r.body()));
  if (r.body().empty()) r.set_body("7BIT");
  if (r.body() != "7BIT" && r.body() != "8BITMIME" && r.body() != "BINARYMIME")
    return Fail(ErrorKind::kInvalidInput, "body must be 7BIT, 8BITMIME or BINARYMIME");
  if (r.retry_after_seconds() > QueueLimits::kMaxDelaySeconds)
    return Fail(ErrorKind::kInvalidInput, "retry_after_seconds longer than 30 days");
  for (auto& rcpt : *r.mutable_recipients()) {
    if (rcpt.address().empty()) return Fail(ErrorKind::kInvalidInput, "empty recipient address");
    if (auto c = CheckText("recipient address", rcpt.address(), QueueLimits::kMaxAddress, false); !c)
      return tl::unexpected(c.error());
    if (rcpt.route() != v1::ROUTE_LOCAL && rcpt.route() != v1::ROUTE_REMOTE)
      return Fail(ErrorKind::kInvalidInput, "recipient route must be ROUTE_LOCAL or ROUTE_REMOTE");
    auto notify = CheckNotify(rcpt.notify());
    if (!notify) return tl::unexpected(notify.error());
    rcpt.set_notify(*notify);
    if (auto c = CheckText("orcpt", rcpt.orcpt(), QueueLimits::kMaxOrcpt, false); !c) return tl::unexpected(c.error());
  }
  return r;
}

Result<v1::EnqueueResponse> PgQueue::Enqueue(const v1::EnqueueRequest& in) {
  auto checked = CheckEnqueue(in);
  if (!checked) return tl::unexpected(checked.error());
  const v1::EnqueueRequest& r = *checked;
  std::vector<std::string> addresses, notifies, orcpts;
  std::vector<int> routes;
  for (const auto& rc : r.recipients()) {
    addresses.push_back(rc.address());
    routes.push_back(static_cast<int>(rc.route()));
    notifies.push_back(rc.notify());
    orcpts.push_back(rc.orcpt());
  }
  return RunTransaction<v1::EnqueueResponse>(*pool_, "enqueue", [&](work& w) -> Result<v1::EnqueueResponse> {
    // smtpd answers 250 on our reply: this commit must be flushed even where the
    // database runs with synchronous_commit = off ('local' and above flush).
    w.exec("SELECT CASE WHEN current_setting('synchronous_commit') = 'off'"
           " THEN set_config('synchronous_commit', 'on', true) END");
    std::string id;
    for (int attempt = 0; attempt < 8 && id.empty(); ++attempt) {
      auto res = w.exec_params(
          "INSERT INTO queue_messages (queue_id, sender, blob_id, size, envid, ret, smtputf8, body, client_ip,"
          " helo, auth_user)"
          " VALUES (lpad(to_hex(extract(epoch FROM now())::bigint), 8, '0') || $1, $2, $3, $4, $5, $6, $7, $8,"
          " $9, $10, $11)"
          " ON CONFLICT (queue_id) DO NOTHING RETURNING queue_id",
          RandomHex8(), r.sender(), r.blob_id(), static_cast<int64_t>(r.size()), r.envid(), r.ret(), r.smtputf8(),
          r.body(), r.client_ip(), r.helo(), r.auth_user());
      if (!res.empty()) id = res[0][0].as<std::string>();
    }
    if (id.empty()) return Fail(ErrorKind::kUnavailable, "enqueue: no free queue id (8 collisions)");
    w.exec_params(
        "INSERT INTO queue_recipients (queue_id, address, route, notify, orcpt, next_attempt_at)"
        " SELECT $1, t.a, t.r, t.n, t.o, now() + make_interval(secs => $6)"
        " FROM unnest($2::text[], $3::smallint[], $4::text[], $5::text[]) WITH ORDINALITY AS t(a, r, n, o, i)"
        " ORDER BY t.i",
        id, TextArrayLiteral(addresses), NumberArray(routes), TextArrayLiteral(notifies), TextArrayLiteral(orcpts),
        static_cast<int>(r.retry_after_seconds()));
    v1::EnqueueResponse resp;
    resp.set_queue_id(id);
    return resp;
  });
}

Result<v1::ListQueueResponse> PgQueue::ListQueue(const v1::ListQueueRequest& r) {
  if (!r.after_id().empty())
    if (auto c = CheckQueueId(r.after_id()); !c) return tl::unexpected(c.error());
  uint32_t limit = r.limit() == 0 ? QueueLimits::kDefaultListLimit : std::min(r.limit(), QueueLimits::kMaxListLimit);
  // One statement, so messages and recipients come from one snapshot.
  return RunRead<v1::ListQueueResponse>(*pool_, "list queue", [&](pqxx::nontransaction& n) -> Result<v1::ListQueueResponse> {
    auto rows = n.exec_params(
        std::string("WITH m AS (SELECT * FROM queue_messages WHERE queue_id > $1 ORDER BY queue_id LIMIT $2)"
                    " SELECT ") + kRowCols +
            " FROM m LEFT JOIN queue_recipients r USING (queue_id) ORDER BY m.queue_id, r.recipient_id",
        r.after_id(), static_cast<int64_t>(limit) + 1);
    auto msgs = GroupRows(rows);
    v1::ListQueueResponse resp;
    if (msgs.size() > limit) {
      msgs.resize(limit);
      resp.set_more(true);
    }
    for (auto& m : msgs) *resp.add_messages() = std::move(m);
    return resp;
  });
}

Result<v1::QueuedMessage> PgQueue::GetQueued(const v1::GetQueuedRequest& r) {
  if (auto c = CheckQueueId(r.queue_id()); !c) return tl::unexpected(c.error());
  return RunRead<v1::QueuedMessage>(*pool_, "get queued", [&](pqxx::nontransaction& n) -> Result<v1::QueuedMessage> {
    auto rows = n.exec_params(std::string("SELECT ") + kRowCols +
                                  " FROM queue_messages m LEFT JOIN queue_recipients r USING (queue_id)"
                                  " WHERE m.queue_id = $1 ORDER BY r.recipient_id",
                              r.queue_id());
    auto msgs = GroupRows(rows);
    if (msgs.empty()) return Fail(ErrorKind::kNotFound, "no such queued message: " + r.queue_id());
    return std::move(msgs.front());
  });
}

Result<v1::DeleteQueuedResponse> PgQueue::DeleteQueued(const v1::DeleteQueuedRequest& r) {
  if (auto c = CheckQueueId(r.queue_id()); !c) return tl::unexpected(c.error());
  return RunTransaction<v1::DeleteQueuedResponse>(*pool_, "delete queued", [&](work& w) -> Result<v1::DeleteQueuedResponse> {
    auto res = w.exec_params("DELETE FROM queue_messages WHERE queue_id = $1", r.queue_id());
    if (res.affected_rows() == 0) return Fail(ErrorKind::kNotFound, "no such queued message: " + r.queue_id());
    return v1::DeleteQueuedResponse();
  });
}

Result<v1::ClaimResponse> PgQueue::Claim(const v1::ClaimRequest& r) {
  if (auto c = CheckWorker(r.worker()); !c) return tl::unexpected(c.error());
  if (r.route() != v1::ROUTE_LOCAL && r.route() != v1::ROUTE_REMOTE)
    return Fail(ErrorKind::kInvalidInput, "route must be ROUTE_LOCAL or ROUTE_REMOTE");
  uint32_t limit = r.limit() == 0 ? QueueLimits::kDefaultClaimLimit : r.limit();
  uint32_t lease = r.lease_seconds() == 0 ? QueueLimits::kDefaultLeaseSeconds : r.lease_seconds();
  if (limit > QueueLimits::kMaxClaimLimit) return Fail(ErrorKind::kInvalidInput, "claim limit above 1000");
  if (lease > QueueLimits::kMaxLeaseSeconds) return Fail(ErrorKind::kInvalidInput, "lease_seconds above 3600");
  return RunTransaction<v1::ClaimResponse>(*pool_, "claim", [&](work& w) -> Result<v1::ClaimResponse> {
    // Due = next_attempt_at <= now(): never leased, or the lease expired (a lease
    // moves next_attempt_at to its expiry). Rows another claimer holds are skipped,
    // not waited for; READ COMMITTED re-checks a row locked after a concurrent
    // claim committed, and finds it no longer due.
    auto claimed = w.exec_params(
        "WITH picked AS ("
        "  SELECT recipient_id FROM queue_recipients"
        "   WHERE route = $1 AND state IN (1, 2) AND next_attempt_at <= now()"
        "   ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " UPDATE queue_recipients q SET leased_by = $3, lease_until = now() + make_interval(secs => $4),"
        "   next_attempt_at = now() + make_interval(secs => $4)"
        " FROM picked WHERE q.recipient_id = picked.recipient_id"
        " RETURNING q.recipient_id, extract(epoch FROM q.lease_until)::bigint",
        static_cast<int>(r.route()), static_cast<int64_t>(limit), r.worker(), static_cast<int>(lease));
    v1::ClaimResponse resp;
    if (claimed.empty()) return resp;
    std::vector<uint64_t> keys;
    for (const auto& row : claimed) keys.push_back(row[0].as<uint64_t>());
    int64_t lease_until = claimed[0][1].as<int64_t>();  // one now() per transaction: the same for all
    auto rows = w.exec_params(std::string("SELECT ") + kRowCols +
                                  " FROM queue_recipients r JOIN queue_messages m USING (queue_id)"
                                  " WHERE r.recipient_id = ANY($1::bigint[]) ORDER BY m.queue_id, r.recipient_id",
                              NumberArray(keys));
    for (auto& m : GroupRows(rows)) {
      auto* c = resp.add_messages();
      *c->mutable_message() = std::move(m);
      c->set_lease_until(lease_until);
    }
    return resp;
  });
}

Result<v1::CompleteResponse> PgQueue::Complete(const v1::CompleteRequest& r) {
  if (auto c = CheckQueueId(r.queue_id()); !c) return tl::unexpected(c.error());
  if (auto c = CheckWorker(r.worker()); !c) return tl::unexpected(c.error());
  if (r.results_size() == 0) return Fail(ErrorKind::kInvalidInput, "no results");
  if (r.results_size() > QueueLimits::kMaxRecipients) return Fail(ErrorKind::kInvalidInput, "more than 1000 results");
  std::vector<uint64_t> keys;
  std::vector<int> outcomes, delays;
  std::vector<std::string> errors;
  std::set<uint64_t> seen;
  for (const auto& res : r.results()) {
    if (!seen.insert(res.key()).second)
      return Fail(ErrorKind::kInvalidInput, fmt::format("recipient key {} reported twice", res.key()));
    if (res.outcome() != v1::OUTCOME_DELIVERED && res.outcome() != v1::OUTCOME_DEFERRED &&
        res.outcome() != v1::OUTCOME_FAILED)
      return Fail(ErrorKind::kInvalidInput, "outcome must be DELIVERED, DEFERRED or FAILED");
    if (res.retry_after_seconds() > QueueLimits::kMaxDelaySeconds)
      return Fail(ErrorKind::kInvalidInput, "retry_after_seconds longer than 30 days");
    if (res.key() > static_cast<uint64_t>(INT64_MAX)) return Fail(ErrorKind::kInvalidInput, "recipient key out of range");
    keys.push_back(res.key());
    outcomes.push_back(static_cast<int>(res.outcome()));
    delays.push_back(static_cast<int>(res.retry_after_seconds()));
    errors.push_back(CleanError(res.error()));
  }
  return RunTransaction<v1::CompleteResponse>(*pool_, "complete", [&](work& w) -> Result<v1::CompleteResponse> {
    // The message row first: Completes of one message run one after the other, so
    // the last one sees every other outcome and deletes the message exactly once.
    auto msg = w.exec_params("SELECT 1 FROM queue_messages WHERE queue_id = $1 FOR UPDATE", r.queue_id());
    if (msg.empty()) return Fail(ErrorKind::kNotFound, "no such queued message: " + r.queue_id());
    auto held = w.exec_params(
        "SELECT recipient_id FROM queue_recipients"
        " WHERE queue_id = $1 AND recipient_id = ANY($2::bigint[]) AND state IN (1, 2) AND leased_by = $3"
        " FOR UPDATE",
        r.queue_id(), NumberArray(keys), r.worker());
    if (held.size() != keys.size()) {
      std::set<uint64_t> ok;
      for (const auto& row : held) ok.insert(row[0].as<uint64_t>());
      std::string refused;
      for (auto k : keys)
        if (!ok.count(k)) refused += (refused.empty() ? "" : ",") + std::to_string(k);
      return Fail(ErrorKind::kConflict,
                  fmt::format("recipients {} of {} are not pending under a lease of worker {} (lease expired and "
                              "claimed by another worker, already completed, or not of this message)",
                              refused, r.queue_id(), r.worker()));
    }
    // outcome: 1 DELIVERED -> state 3, 2 DEFERRED -> state 2, 3 FAILED -> state 4.
    w.exec_params(
        "UPDATE queue_recipients q SET"
        "  state = CASE t.o WHEN 1 THEN 3 WHEN 2 THEN 2 ELSE 4 END,"
        "  attempts = q.attempts + 1,"
        "  next_attempt_at = CASE WHEN t.o = 2 THEN now() + make_interval(secs => t.d) ELSE q.next_attempt_at END,"
        "  last_error = CASE WHEN t.o = 1 THEN q.last_error ELSE t.e END,"
        "  leased_by = '', lease_until = NULL, updated_at = clock_timestamp()"
        " FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[]) AS t(k, o, e, d)"
        " WHERE q.recipient_id = t.k",
        NumberArray(keys), NumberArray(outcomes), TextArrayLiteral(errors), NumberArray(delays));
    auto pending = w.exec_params("SELECT count(*) FROM queue_recipients WHERE queue_id = $1 AND state IN (1, 2)",
                                 r.queue_id())[0][0]
                       .as<uint32_t>();
    v1::CompleteResponse resp;
    resp.set_pending(pending);
    if (pending == 0) {
      // Bounces for FAILED recipients are not generated yet: once they are, they
      // must be enqueued here, in this transaction, before the message goes.
      w.exec_params("DELETE FROM queue_messages WHERE queue_id = $1", r.queue_id());
      resp.set_finished(true);
    }
    return resp;
  });
}

}  // namespace columba::pg
