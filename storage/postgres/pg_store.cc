// pg_store.cc - mailstore transactions; see pg_store.h for the rules they keep.
//
// Lock order, everywhere: the account row first (quota counters), then mailbox
// rows in ascending mailbox_id. Keeping one order means concurrent changes wait
// for each other instead of deadlocking.
#include "storage/postgres/pg_store.h"

#include "storage/postgres/pg_transaction.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/format.h>

namespace columba::pg {

// ------------------------------------------------------------ connection pool

ConnectionPool::ConnectionPool(std::string uri, size_t size) : uri_(std::move(uri)) {
  for (size_t i = 0; i < size; ++i) idle_.push_back(nullptr);
}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !idle_.empty(); });
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(c));
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> c) {
  {
    std::lock_guard lk(mu_);
    idle_.push_back(std::move(c));
  }
  cv_.notify_one();
}

ConnectionPool::Lease::~Lease() {
  if (!pool_) return;
  if (broken_) conn_.reset();
  pool_->Release(std::move(conn_));
}

Result<pqxx::connection*> ConnectionPool::Lease::Get() {
  try {
    if (conn_ && !conn_->is_open()) conn_.reset();
    if (!conn_) conn_ = std::make_unique<pqxx::connection>(pool_->uri_);
    return conn_.get();
  } catch (const std::exception& e) {
    conn_.reset();
    return Fail(ErrorKind::kUnavailable, std::string("postgres connect: ") + e.what());
  }
}

// ------------------------------------------------------------ notices

std::string FormatNotice(const ChangeNotice& n) {
  return fmt::format("{}:{}:{}:{}:{}", n.account_id, n.mailbox_id, n.highestmodseq, n.uidnext, n.list_changed ? 1 : 0);
}

bool ParseNotice(std::string_view p, ChangeNotice& out) {
  uint64_t v[5];
  for (int i = 0; i < 5; ++i) {
    auto colon = p.find(':');
    std::string_view part = i == 4 ? p : p.substr(0, colon);
    if (i < 4 && colon == std::string_view::npos) return false;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    if (ec != std::errc() || ptr != part.data() + part.size()) return false;
    if (i < 4) p.remove_prefix(colon + 1);
  }
  out = ChangeNotice{v[0], v[1], v[2], static_cast<uint32_t>(v[3]), v[4] != 0};
  return true;
}

// ------------------------------------------------------------ helpers

namespace {

using pqxx::work;

Result<void> Notify(work& w, const ChangeNotice& n) {
  w.exec_params("SELECT pg_notify($1, $2)", kChangeChannel, FormatNotice(n));
  return {};
}

// Keywords: IMAP atoms, bounded. Anything else is refused before it reaches SQL.
Result<std::vector<std::string>> CheckKeywords(const google::protobuf::RepeatedPtrField<std::string>& in) {
  if (in.size() > 256) return Fail(ErrorKind::kLimitExceeded, "too many keywords");
  std::vector<std::string> out;
  for (const auto& k : in) {
    if (k.empty() || k.size() > 255) return Fail(ErrorKind::kInvalidInput, "keyword length must be 1..255");
    for (unsigned char c : k)
      if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
          c == '\\' || c == ']')
        return Fail(ErrorKind::kInvalidInput, "keyword is not an IMAP atom");
    if (k[0] == '\\') return Fail(ErrorKind::kInvalidInput, "system flags are not keywords");
    out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}


std::vector<std::string> ParseArray(const pqxx::field& f) {
  std::vector<std::string> out;
  auto parser = f.as_array();
  for (;;) {
    auto [j, v] = parser.get_next();
    if (j == pqxx::array_parser::done) break;
    if (j == pqxx::array_parser::string_value) out.push_back(v);
  }
  return out;
}

// Length of the well-formed UTF-8 sequence at in[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when there is none.
size_t Utf8SequenceLength(std::string_view in, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  unsigned char c = byte(i);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > in.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

// The raw header block as text for the `headers` search column. Fixed in
// pg_store_test (AppendAcceptsRawEightBitHeaders): `headers` is `bytes` in the
// contract and raw 8-bit headers are common in real mail, but a text column refuses
// invalid UTF-8, so such an Append failed with an SQL error (a delivery that could
// never succeed). Well-formed UTF-8 is kept, any other byte is read as Latin-1, NUL
// is dropped. The exact bytes stay in `parsed` for FETCH.
std::string SearchableText(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      if (c != 0) out += static_cast<char>(c);
      ++i;
    } else if (size_t len = Utf8SequenceLength(in, i)) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
      ++i;
    }
  }
  return out;
}

constexpr const char* kMailboxCols =
    "m.mailbox_id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use, m.subscribed,"
    " EXISTS (SELECT 1 FROM mailboxes ch WHERE ch.account_id = m.account_id"
    " AND starts_with(ch.name, m.name || '/')) AS has_children";
constexpr const char* kCountCols =
    ", (SELECT count(*) FROM messages x WHERE x.account_id = m.account_id AND x.mailbox_id = m.mailbox_id),"
    " (SELECT count(*) FROM messages x WHERE x.account_id = m.account_id AND x.mailbox_id = m.mailbox_id"
    "   AND x.flags & 1 = 0),"
    " (SELECT coalesce(sum(size), 0) FROM messages x WHERE x.account_id = m.account_id"
    "   AND x.mailbox_id = m.mailbox_id),"
    " (SELECT count(*) FROM messages x WHERE x.account_id = m.account_id AND x.mailbox_id = m.mailbox_id"
    "   AND x.flags & 8 <> 0)";

v1::Mailbox MailboxFromRow(const pqxx::row& row, bool with_counts) {
  v1::Mailbox mb;
  mb.set_mailbox_id(row[0].as<uint64_t>());
  mb.set_name(row[1].as<std::string>());
  mb.set_uidvalidity(row[2].as<uint32_t>());
  mb.set_uidnext(static_cast<uint32_t>(std::min<uint64_t>(row[3].as<uint64_t>(), UINT32_MAX)));
  mb.set_highestmodseq(row[4].as<uint64_t>());
  mb.set_special_use(static_cast<v1::SpecialUse>(row[5].as<int>()));
  mb.set_subscribed(row[6].as<bool>());
  mb.set_has_children(row[7].as<bool>());
  if (with_counts) {
    mb.set_messages(row[8].as<uint32_t>());
    mb.set_unseen(row[9].as<uint32_t>());
    mb.set_size(row[10].as<uint64_t>());
    mb.set_deleted(row[11].as<uint32_t>());
  }
  return mb;
}

v1::Account AccountFromRow(const pqxx::row& row) {
  v1::Account a;
  a.set_account_id(row["account_id"].as<uint64_t>());
  a.set_address(row["address"].as<std::string>());
  a.mutable_quota()->set_storage_limit(row["storage_limit"].as<uint64_t>());
  a.mutable_quota()->set_message_limit(row["message_limit"].as<uint64_t>());
  a.mutable_quota()->set_storage_used(row["storage_used"].as<uint64_t>());
  a.mutable_quota()->set_message_used(row["message_used"].as<uint64_t>());
  a.set_created_unix(row["created_unix"].as<uint64_t>());
  return a;
}

constexpr const char* kAccountCols =
    "account_id, address, storage_limit, message_limit, storage_used, message_used,"
    " extract(epoch FROM created_at)::bigint AS created_unix";

constexpr const char* kMessageCols =
    "uid, modseq, flags, keywords, extract(epoch FROM internal_date)::bigint, size, blob_id, email_id";

v1::MessageMeta MessageFromRow(const pqxx::row& row, bool with_parsed, bool without_text = false) {
  v1::MessageMeta m;
  m.set_uid(row[0].as<uint32_t>());
  m.set_modseq(row[1].as<uint64_t>());
  m.set_flags(row[2].as<uint32_t>());
  for (auto& k : ParseArray(row[3])) m.add_keywords(k);
  m.set_internal_date_unix(row[4].as<int64_t>());
  m.set_size(row[5].as<uint64_t>());
  m.set_blob_id(row[6].as<std::string>());
  m.set_email_id(row[7].as<uint64_t>());
  if (with_parsed && !row[8].is_null()) {
    pqxx::binarystring b(row[8]);
    m.mutable_parsed()->ParseFromArray(b.data(), static_cast<int>(b.size()));
    if (without_text)
      m.mutable_parsed()->clear_headers();
    else
      m.mutable_parsed()->set_body_text(row[9].as<std::string>(""));  // stored once, in its column
  }
  return m;
}

struct MailboxLock {
  uint64_t mailbox_id;
  uint64_t uidnext;
  uint64_t highestmodseq;
  uint32_t uidvalidity;
  std::string name;
};

// Locks one mailbox row of the account; kNotFound when it is not the account's.
Result<MailboxLock> LockMailbox(work& w, uint64_t account_id, uint64_t mailbox_id) {
  auto r = w.exec_params(
      "SELECT mailbox_id, uidnext, highestmodseq, uidvalidity, name FROM mailboxes"
      " WHERE account_id = $1 AND mailbox_id = $2 FOR UPDATE",
      account_id, mailbox_id);
  if (r.empty()) return Fail(ErrorKind::kNotFound, "no such mailbox");
  return MailboxLock{r[0][0].as<uint64_t>(), r[0][1].as<uint64_t>(), r[0][2].as<uint64_t>(),
                     r[0][3].as<uint32_t>(), r[0][4].as<std::string>()};
}

Result<void> LockAccount(work& w, uint64_t account_id) {
  auto r = w.exec_params("SELECT 1 FROM accounts WHERE account_id = $1 FOR UPDATE", account_id);
  if (r.empty()) return Fail(ErrorKind::kNotFound, "no such account");
  return {};
}

Result<uint64_t> MailboxIdByName(work& w, uint64_t account_id, const std::string& name) {
  auto r = w.exec_params("SELECT mailbox_id FROM mailboxes WHERE account_id = $1 AND name = $2", account_id, name);
  if (r.empty()) return Fail(ErrorKind::kNotFound, "no such mailbox: " + name);
  return r[0][0].as<uint64_t>();
}

struct DefaultMailbox {
  const char* name;
  v1::SpecialUse use;
};
constexpr DefaultMailbox kDefaultMailboxes[] = {
    {"INBOX", v1::SPECIAL_USE_NONE},    {"Sent", v1::SPECIAL_USE_SENT},   {"Drafts", v1::SPECIAL_USE_DRAFTS},
    {"Trash", v1::SPECIAL_USE_TRASH},   {"Junk", v1::SPECIAL_USE_JUNK},   {"Archive", v1::SPECIAL_USE_ARCHIVE},
};

}  // namespace

Result<std::string> CanonicalMailboxName(std::string_view name) {
  if (name.empty()) return Fail(ErrorKind::kInvalidInput, "empty mailbox name");
  if (name.size() > 1000) return Fail(ErrorKind::kLimitExceeded, "mailbox name longer than 1000 octets");
  for (unsigned char c : name)
    if (c == 0 || c == '\r' || c == '\n') return Fail(ErrorKind::kInvalidInput, "control character in mailbox name");
  if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string_view::npos)
    return Fail(ErrorKind::kInvalidInput, "empty hierarchy level in mailbox name");
  std::string out(name);
  std::string_view first = name.substr(0, name.find('/'));
  if (first.size() == 5) {
    std::string up(first);
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up == "INBOX") out.replace(0, 5, "INBOX");
  }
  return out;
}

Result<std::string> UidSetCondition(const v1::UidSet& set) {
  if (set.ranges_size() == 0) return Fail(ErrorKind::kInvalidInput, "empty UID set");
  if (set.ranges_size() > 4096) return Fail(ErrorKind::kLimitExceeded, "UID set has more than 4096 ranges");
  std::string s = "(";
  for (int i = 0; i < set.ranges_size(); ++i) {
    const auto& r = set.ranges(i);
    uint32_t a = r.first(), b = r.last();
    if (a == 0) return Fail(ErrorKind::kInvalidInput, "UID 0 is not valid");
    if (i) s += " OR ";
    if (b == 0) {
      // N:* always includes the highest UID, even when N is above it (RFC 3501 6.4.8).
      s += fmt::format(
          "uid >= {} OR uid = (SELECT max(x.uid) FROM messages x WHERE x.account_id = messages.account_id"
          " AND x.mailbox_id = messages.mailbox_id)",
          a);
    } else {
      if (b < a) std::swap(a, b);
      s += a == b ? fmt::format("uid = {}", a) : fmt::format("uid BETWEEN {} AND {}", a, b);
    }
  }
  return s + ")";
}

// The transaction discipline and error classification are pg_transaction.h's,
// shared with pg_queue.cc.
template <class T, class Fn>
Result<T> PgStore::InTransaction(const char* what, Fn fn) {
  return RunTransaction<T>(*pool_, what, std::move(fn));
}

template <class T, class Fn>
Result<T> PgStore::Read(const char* what, Fn fn) {
  return RunRead<T>(*pool_, what, std::move(fn));
}

Result<void> PgStore::Ping() {
  return InTransaction<bool>("ping", [](work& w) -> Result<bool> {
           w.exec("SELECT 1");
           return true;
         })
      .map([](bool) {});
}

// ------------------------------------------------------------ domains, accounts

Result<v1::AddDomainResponse> PgStore::AddDomain(const v1::AddDomainRequest& r) {
  if (r.name().empty() || r.name().size() > 253) return Fail(ErrorKind::kInvalidInput, "bad domain name");
  std::string name = r.name();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return InTransaction<v1::AddDomainResponse>("add domain", [&](work& w) -> Result<v1::AddDomainResponse> {
    w.exec_params("INSERT INTO domains (name) VALUES ($1)", name);
    v1::AddDomainResponse resp;
    resp.mutable_domain()->set_name(name);
    return resp;
  });
}

Result<v1::ListDomainsResponse> PgStore::ListDomains(const v1::ListDomainsRequest&) {
  return InTransaction<v1::ListDomainsResponse>("list domains", [&](work& w) -> Result<v1::ListDomainsResponse> {
    v1::ListDomainsResponse resp;
    for (const auto& row : w.exec("SELECT name FROM domains ORDER BY name"))
      resp.add_domains()->set_name(row[0].as<std::string>());
    return resp;
  });
}

Result<v1::EnsureAccountResponse> PgStore::EnsureAccount(const v1::EnsureAccountRequest& r) {
  if (r.address().empty() || r.address().find('@') == std::string::npos || r.address().size() > 254)
    return Fail(ErrorKind::kInvalidInput, "account address must be local@domain");
  if (r.storage_limit() > INT64_MAX || r.message_limit() > INT64_MAX)
    return Fail(ErrorKind::kInvalidInput, "quota limit out of range");
  return InTransaction<v1::EnsureAccountResponse>("ensure account", [&](work& w) -> Result<v1::EnsureAccountResponse> {
    v1::EnsureAccountResponse resp;
    auto ins = w.exec_params(
        std::string("INSERT INTO accounts (address, storage_limit, message_limit) VALUES ($1, $2, $3)"
                    " ON CONFLICT (address) DO UPDATE SET storage_limit = EXCLUDED.storage_limit,"
                    " message_limit = EXCLUDED.message_limit"
                    " WHERE accounts.storage_limit <> EXCLUDED.storage_limit"
                    " OR accounts.message_limit <> EXCLUDED.message_limit"
                    " RETURNING (xmax = 0) AS created, ") + kAccountCols,
        r.address(), static_cast<int64_t>(r.storage_limit()), static_cast<int64_t>(r.message_limit()));
    if (ins.empty()) {
      auto sel = w.exec_params(std::string("SELECT ") + kAccountCols + " FROM accounts WHERE address = $1", r.address());
      if (sel.empty()) return Fail(ErrorKind::kInternal, "account vanished during upsert");
      *resp.mutable_account() = AccountFromRow(sel[0]);
      return resp;
    }
    *resp.mutable_account() = AccountFromRow(ins[0]);
    resp.set_created(ins[0]["created"].as<bool>());
    if (resp.created()) {
      for (const auto& d : kDefaultMailboxes)
        w.exec_params("INSERT INTO mailboxes (account_id, name, special_use, subscribed) VALUES ($1, $2, $3, true)",
                      resp.account().account_id(), d.name, static_cast<int>(d.use));
    }
    return resp;
  });
}

Result<v1::GetAccountResponse> PgStore::GetAccount(const v1::GetAccountRequest& r) {
  return InTransaction<v1::GetAccountResponse>("get account", [&](work& w) -> Result<v1::GetAccountResponse> {
    pqxx::result res;
    if (r.key_case() == v1::GetAccountRequest::kAccountId)
      res = w.exec_params(std::string("SELECT ") + kAccountCols + " FROM accounts WHERE account_id = $1", r.account_id());
    else
      res = w.exec_params(std::string("SELECT ") + kAccountCols + " FROM accounts WHERE address = $1", r.address());
    if (res.empty()) return Fail(ErrorKind::kNotFound, "no such account");
    v1::GetAccountResponse resp;
    *resp.mutable_account() = AccountFromRow(res[0]);
    return resp;
  });
}

Result<v1::DeleteAccountResponse> PgStore::DeleteAccount(const v1::DeleteAccountRequest& r) {
  return InTransaction<v1::DeleteAccountResponse>("delete account", [&](work& w) -> Result<v1::DeleteAccountResponse> {
    auto res = w.exec_params("DELETE FROM accounts WHERE account_id = $1", r.account_id());
    if (res.affected_rows() == 0) return Fail(ErrorKind::kNotFound, "no such account");
    Notify(w, {r.account_id(), 0, 0, 0, true});
    return v1::DeleteAccountResponse();
  });
}

Result<v1::GetQuotaResponse> PgStore::GetQuota(const v1::GetQuotaRequest& r) {
  v1::GetAccountRequest g;
  g.set_account_id(r.account_id());
  auto a = GetAccount(g);
  if (!a) return tl::unexpected(a.error());
  v1::GetQuotaResponse resp;
  *resp.mutable_quota() = a->account().quota();
  return resp;
}

// ------------------------------------------------------------ mailboxes

Result<v1::CreateMailboxResponse> PgStore::CreateMailbox(const v1::CreateMailboxRequest& r) {
  auto name = CanonicalMailboxName(r.name());
  if (!name) return tl::unexpected(name.error());
  return InTransaction<v1::CreateMailboxResponse>("create mailbox", [&](work& w) -> Result<v1::CreateMailboxResponse> {
    auto exists = w.exec_params("SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2", r.account_id(), *name);
    if (!exists.empty()) return Fail(ErrorKind::kAlreadyExists, "mailbox exists");
    if (w.exec_params("SELECT 1 FROM accounts WHERE account_id = $1", r.account_id()).empty())
      return Fail(ErrorKind::kNotFound, "no such account");
    // Create missing superiors too (RFC 3501 6.3.3: "a/b/c" makes "a" and "a/b").
    for (size_t pos = name->find('/'); pos != std::string::npos; pos = name->find('/', pos + 1))
      w.exec_params("INSERT INTO mailboxes (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    r.account_id(), name->substr(0, pos));
    auto row = w.exec_params(std::string("INSERT INTO mailboxes AS m (account_id, name, special_use, subscribed)"
                                         " VALUES ($1, $2, $3, $4) RETURNING ") + kMailboxCols,
                             r.account_id(), *name, static_cast<int>(r.special_use()), r.subscribe());
    Notify(w, {r.account_id(), row[0][0].as<uint64_t>(), 1, 1, true});
    v1::CreateMailboxResponse resp;
    *resp.mutable_mailbox() = MailboxFromRow(row[0], false);
    return resp;
  });
}

namespace {
Result<v1::CopyMessagesResponse> CopyInTransaction(work& w, const v1::CopyMessagesRequest& r,
                                                   const std::string& cond_str);
}  // namespace

// RENAME INBOX (RFC 3501 6.3.5): every message moves to a new mailbox with the
// new name (new UIDs there, tombstones in INBOX), INBOX stays, empty, with its
// UIDVALIDITY; INBOX's children are not touched. One transaction.
Result<v1::RenameMailboxResponse> PgStore::RenameInbox(uint64_t account_id, const std::string& to) {
  return InTransaction<v1::RenameMailboxResponse>("rename INBOX", [&](work& w) -> Result<v1::RenameMailboxResponse> {
    if (auto a = LockAccount(w, account_id); !a) return tl::unexpected(a.error());
    auto inbox = MailboxIdByName(w, account_id, "INBOX");
    if (!inbox) return tl::unexpected(inbox.error());
    if (!w.exec_params("SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2", account_id, to).empty())
      return Fail(ErrorKind::kAlreadyExists, "target mailbox exists");
    for (size_t pos = to.find('/'); pos != std::string::npos; pos = to.find('/', pos + 1))
      w.exec_params("INSERT INTO mailboxes (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", account_id,
                    to.substr(0, pos));
    auto created = w.exec_params("INSERT INTO mailboxes (account_id, name) VALUES ($1, $2) RETURNING mailbox_id",
                                 account_id, to);
    uint64_t dest = created[0][0].as<uint64_t>();
    v1::CopyMessagesRequest move;
    move.set_account_id(account_id);
    move.set_mailbox_id(*inbox);
    move.set_dest_mailbox_id(dest);
    move.set_move(true);
    auto moved = CopyInTransaction(w, move, "TRUE");
    if (!moved) return tl::unexpected(moved.error());
    Notify(w, {account_id, dest, 0, 0, true});
    auto row = w.exec_params(std::string("SELECT ") + kMailboxCols +
                                 " FROM mailboxes m WHERE account_id = $1 AND mailbox_id = $2",
                             account_id, dest);
    v1::RenameMailboxResponse resp;
    *resp.mutable_mailbox() = MailboxFromRow(row[0], false);
    return resp;
  });
}

Result<v1::RenameMailboxResponse> PgStore::RenameMailbox(const v1::RenameMailboxRequest& r) {
  auto from = CanonicalMailboxName(r.old_name());
  if (!from) return tl::unexpected(from.error());
  auto to = CanonicalMailboxName(r.new_name());
  if (!to) return tl::unexpected(to.error());
  if (*to == *from || (*from != "INBOX" && to->rfind(*from + "/", 0) == 0))
    return Fail(ErrorKind::kInvalidInput, "cannot rename a mailbox to itself or below itself");
  if (*from == "INBOX") return RenameInbox(r.account_id(), *to);
  return InTransaction<v1::RenameMailboxResponse>("rename mailbox", [&](work& w) -> Result<v1::RenameMailboxResponse> {
    auto id = MailboxIdByName(w, r.account_id(), *from);
    if (!id) return tl::unexpected(id.error());
    if (!w.exec_params("SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2", r.account_id(), *to).empty())
      return Fail(ErrorKind::kAlreadyExists, "target mailbox exists");
    for (size_t pos = to->find('/'); pos != std::string::npos; pos = to->find('/', pos + 1))
      w.exec_params("INSERT INTO mailboxes (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    r.account_id(), to->substr(0, pos));
    // The mailbox and its children, in one statement.
    w.exec_params(
        "UPDATE mailboxes SET name = $3 || substr(name, length($2) + 1)"
        " WHERE account_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))",
        r.account_id(), *from, *to);
    auto row = w.exec_params(std::string("SELECT ") + kMailboxCols + " FROM mailboxes m WHERE account_id = $1 AND mailbox_id = $2",
                             r.account_id(), *id);
    Notify(w, {r.account_id(), *id, row[0][4].as<uint64_t>(), row[0][3].as<uint32_t>(), true});
    v1::RenameMailboxResponse resp;
    *resp.mutable_mailbox() = MailboxFromRow(row[0], false);
    return resp;
  });
}

Result<v1::DeleteMailboxResponse> PgStore::DeleteMailbox(const v1::DeleteMailboxRequest& r) {
  auto name = CanonicalMailboxName(r.name());
  if (!name) return tl::unexpected(name.error());
  if (*name == "INBOX") return Fail(ErrorKind::kInvalidInput, "INBOX cannot be deleted");
  return InTransaction<v1::DeleteMailboxResponse>("delete mailbox", [&](work& w) -> Result<v1::DeleteMailboxResponse> {
    if (auto a = LockAccount(w, r.account_id()); !a) return tl::unexpected(a.error());
    auto id = MailboxIdByName(w, r.account_id(), *name);
    if (!id) return tl::unexpected(id.error());
    if (!w.exec_params("SELECT 1 FROM mailboxes WHERE account_id = $1 AND starts_with(name, $2 || '/') LIMIT 1",
                       r.account_id(), *name).empty())
      return Fail(ErrorKind::kConflict, "mailbox has children; delete them first");
    auto usage = w.exec_params(
        "SELECT count(*), coalesce(sum(size), 0) FROM messages WHERE account_id = $1 AND mailbox_id = $2",
        r.account_id(), *id);
    w.exec_params("UPDATE accounts SET message_used = message_used - $2, storage_used = storage_used - $3"
                  " WHERE account_id = $1",
                  r.account_id(), usage[0][0].as<int64_t>(), usage[0][1].as<int64_t>());
    w.exec_params("DELETE FROM mailboxes WHERE account_id = $1 AND mailbox_id = $2", r.account_id(), *id);
    Notify(w, {r.account_id(), *id, 0, 0, true});
    return v1::DeleteMailboxResponse();
  });
}

Result<v1::ListMailboxesResponse> PgStore::ListMailboxes(const v1::ListMailboxesRequest& r) {
  return InTransaction<v1::ListMailboxesResponse>("list mailboxes", [&](work& w) -> Result<v1::ListMailboxesResponse> {
    std::string sql = std::string("SELECT ") + kMailboxCols + (r.with_counts() ? kCountCols : "") +
                      " FROM mailboxes m WHERE m.account_id = $1" + (r.subscribed_only() ? " AND m.subscribed" : "") +
                      " ORDER BY m.name";
    v1::ListMailboxesResponse resp;
    for (const auto& row : w.exec_params(sql, r.account_id())) *resp.add_mailboxes() = MailboxFromRow(row, r.with_counts());
    return resp;
  });
}

Result<v1::GetMailboxResponse> PgStore::GetMailbox(const v1::GetMailboxRequest& r) {
  std::string name;
  if (r.key_case() == v1::GetMailboxRequest::kName) {
    auto n = CanonicalMailboxName(r.name());
    if (!n) return tl::unexpected(n.error());
    name = *n;
  }
  return Read<v1::GetMailboxResponse>("get mailbox", [&](pqxx::transaction_base& w) -> Result<v1::GetMailboxResponse> {
    std::string sql = std::string("SELECT ") + kMailboxCols + (r.with_counts() ? kCountCols : "") +
                      " FROM mailboxes m WHERE m.account_id = $1 AND ";
    pqxx::result res = r.key_case() == v1::GetMailboxRequest::kName
                           ? w.exec_params(sql + "m.name = $2", r.account_id(), name)
                           : w.exec_params(sql + "m.mailbox_id = $2", r.account_id(), r.mailbox_id());
    if (res.empty()) return Fail(ErrorKind::kNotFound, "no such mailbox");
    v1::GetMailboxResponse resp;
    *resp.mutable_mailbox() = MailboxFromRow(res[0], r.with_counts());
    if (r.with_view()) {
      // Runs of consecutive UIDs ("gaps and islands"): uid - row_number() is
      // constant within a run. One index scan; only the runs cross the wire.
      uint32_t first_unseen = 0;
      for (const auto& row : w.exec_params(
               "SELECT min(uid), max(uid), min(uid) FILTER (WHERE flags & 1 = 0) FROM"
               " (SELECT uid, flags, uid - row_number() OVER (ORDER BY uid) AS run FROM messages"
               "  WHERE account_id = $1 AND mailbox_id = $2) t GROUP BY run ORDER BY 1",
               r.account_id(), resp.mailbox().mailbox_id())) {
        auto* range = resp.mutable_view()->add_ranges();
        range->set_first(row[0].as<uint32_t>());
        range->set_last(row[1].as<uint32_t>());
        if (!row[2].is_null() && !first_unseen) first_unseen = row[2].as<uint32_t>();
      }
      resp.set_first_unseen_uid(first_unseen);
    }
    return resp;
  });
}

Result<v1::SubscribeResponse> PgStore::Subscribe(const v1::SubscribeRequest& r) {
  auto name = CanonicalMailboxName(r.name());
  if (!name) return tl::unexpected(name.error());
  return InTransaction<v1::SubscribeResponse>("subscribe", [&](work& w) -> Result<v1::SubscribeResponse> {
    auto res = w.exec_params("UPDATE mailboxes SET subscribed = $3 WHERE account_id = $1 AND name = $2", r.account_id(),
                             *name, r.subscribed());
    if (res.affected_rows() == 0) return Fail(ErrorKind::kNotFound, "no such mailbox");
    return v1::SubscribeResponse();
  });
}

// ------------------------------------------------------------ messages

Result<v1::AppendResponse> PgStore::Append(const v1::AppendRequest& r) {
  // The whole id is checked, as storage::IsValidBlobId does (64 lowercase hex
  // digits). Fixed in metad_test (ErrorsMapToGrpcCodesOverTheWire): only the length
  // was checked, so e.g. an upper-case id was stored; the blob store refuses such an
  // id (the message can never be read), and the planned blob GC, matching ids
  // bytewise through messages_by_blob, would take the real blob for unreferenced.
  if (r.blob_id().size() != 64 ||
      !std::all_of(r.blob_id().begin(), r.blob_id().end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
    return Fail(ErrorKind::kInvalidInput, "blob_id must be a SHA-256 hex id (64 lowercase hex digits)");
  if (r.size() > INT64_MAX) return Fail(ErrorKind::kInvalidInput, "size out of range");
  auto keywords = CheckKeywords(r.keywords());
  if (!keywords) return tl::unexpected(keywords.error());
  std::string target;
  if (r.target_case() == v1::AppendRequest::kMailboxName) {
    auto n = CanonicalMailboxName(r.mailbox_name());
    if (!n && !r.fallback_to_inbox()) return tl::unexpected(n.error());
    target = n ? *n : "INBOX";  // e.g. LMTP "+a//b": not a mailbox name, so INBOX
  }
  // body_text is kept once, in its own column (SEARCH reads it there); the
  // serialized ParsedFields omit it and FETCH puts it back (MessageFromRow).
  v1::ParsedFields stored = r.parsed();
  stored.clear_body_text();
  std::string parsed;
  stored.SerializeToString(&parsed);
  const auto& p = r.parsed();
  // One statement, its own transaction (migration v2, columba_append): quota and
  // UID/MODSEQ under the account and mailbox row locks, NOTIFY on commit. A
  // refusal raises inside the function, so nothing of it is committed.
  auto lease = pool_->Acquire();
  auto conn = lease.Get();
  if (!conn) return tl::unexpected(conn.error());
  for (int attempt = 0;; ++attempt) {
    try {
      (*conn)->prepare("columba_append",
                       "SELECT mailbox_id, uid, modseq, uidvalidity, name, storage_limit, message_limit,"
                       " storage_used, message_used FROM columba_append("
                       "$1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)");
      pqxx::nontransaction n(**conn);
      auto res = n.exec_prepared(
          "columba_append", r.account_id(), r.target_case() == v1::AppendRequest::kMailboxId ? r.mailbox_id() : 0,
          target, r.fallback_to_inbox(), static_cast<int64_t>(r.size()), static_cast<int>(r.flags() & 31),
          TextArrayLiteral(*keywords), r.internal_date_unix(), r.blob_id(), pqxx::binarystring(parsed), p.subject(),
          p.from(), p.to(), p.cc(), p.bcc(), p.message_id(), p.sent_unix(), SearchableText(p.headers()),
          p.body_text());
      v1::AppendResponse resp;
      resp.set_mailbox_id(res[0][0].as<uint64_t>());
      resp.set_uid(res[0][1].as<uint32_t>());
      resp.set_modseq(res[0][2].as<uint64_t>());
      resp.set_uidvalidity(res[0][3].as<uint32_t>());
      resp.set_mailbox_name(res[0][4].as<std::string>());
      auto* q = resp.mutable_quota();
      q->set_storage_limit(res[0][5].as<uint64_t>());
      q->set_message_limit(res[0][6].as<uint64_t>());
      q->set_storage_used(res[0][7].as<uint64_t>());
      q->set_message_used(res[0][8].as<uint64_t>());
      return resp;
    } catch (const pqxx::in_doubt_error& e) {
      lease.Discard();
      return Fail(ErrorKind::kUnavailable, "append: commit outcome unknown");
    } catch (const pqxx::broken_connection& e) {
      lease.Discard();
      return Fail(ErrorKind::kUnavailable, "append: postgres connection lost");
    } catch (const pqxx::sql_error& e) {
      std::string state = e.sqlstate();
      if (state == "CBN01") return Fail(ErrorKind::kNotFound, "no such account");
      if (state == "CBN02") return Fail(ErrorKind::kNotFound, "no such mailbox");
      if (state == "CBQ01") return Fail(ErrorKind::kQuotaExceeded, "mailbox quota exceeded");
      if (state == "CBL01") return Fail(ErrorKind::kLimitExceeded, "mailbox UID space exhausted");
      if ((state == "40001" || state == "40P01") && attempt < 5) continue;  // serialization / deadlock
      if (!(*conn)->is_open()) lease.Discard();
      return Fail(state.rfind("08", 0) == 0 ? ErrorKind::kUnavailable : ErrorKind::kInternal,
                  std::string("append: ") + e.what());
    } catch (const std::exception& e) {
      lease.Discard();
      return Fail(ErrorKind::kInternal, std::string("append: ") + e.what());
    }
  }
}

Result<v1::FetchResponse> PgStore::FetchPage(const v1::FetchRequest& r, uint32_t after_uid) {
  auto cond = UidSetCondition(r.uids());
  if (!cond) return tl::unexpected(cond.error());
  uint32_t page = r.page_size() == 0 ? 1000 : std::min<uint32_t>(r.page_size(), 10000);
  return Read<v1::FetchResponse>("fetch", [&](pqxx::transaction_base& w) -> Result<v1::FetchResponse> {
    // The parsed fields live in message_texts (migration v6), shared by copies.
    // LEFT JOIN: a message whose texts are missing still lists, without them.
    const char* parsed_cols = !r.with_parsed() ? "" : r.without_text() ? ", parsed" : ", parsed, body_text";
    const char* from = r.with_parsed() ? " FROM messages LEFT JOIN message_texts USING (account_id, email_id)"
                                       : " FROM messages";
    std::string sql = std::string("SELECT ") + kMessageCols + parsed_cols + from +
                      " WHERE account_id = $1 AND mailbox_id = $2 AND uid > $3 AND " + *cond +
                      (r.changed_since() ? " AND modseq > $5" : " AND $5::bigint = $5::bigint") +
                      " ORDER BY uid LIMIT $4";
    v1::FetchResponse resp;
    for (const auto& row : w.exec_params(sql, r.account_id(), r.mailbox_id(), after_uid, page,
                                         static_cast<int64_t>(r.changed_since())))
      *resp.add_messages() = MessageFromRow(row, r.with_parsed(), r.without_text());
    // Nothing on the first page: tell "no such mailbox" from "no such messages"
    // (only then: the common case costs one statement).
    if (after_uid == 0 && resp.messages_size() == 0 &&
        w.exec_params("SELECT 1 FROM mailboxes WHERE account_id = $1 AND mailbox_id = $2", r.account_id(), r.mailbox_id())
            .empty())
      return Fail(ErrorKind::kNotFound, "no such mailbox");
    return resp;
  });
}

Result<v1::StoreFlagsResponse> PgStore::StoreFlags(const v1::StoreFlagsRequest& r) {
  auto cond = UidSetCondition(r.uids());
  if (!cond) return tl::unexpected(cond.error());
  auto kw = CheckKeywords(r.keywords());
  if (!kw) return tl::unexpected(kw.error());
  int f = static_cast<int>(r.flags() & 31);
  std::string kwlit = TextArrayLiteral(*kw);
  std::string new_flags, new_kw;
  // Keyword arrays are kept sorted bytewise (COLLATE "C", the order CheckKeywords
  // uses), so "did anything change" is an array comparison. Fixed in pg_store_test
  // (NoOpKeywordStoreUnderIcuCollationKeepsModseq): these sorted by the database's
  // default collation, so on a non-C cluster (en_US, ICU) a STORE that changed
  // nothing (e.g. +FLAGS of a keyword already set, next to one in another case) still
  // reported an update and bumped the message's MODSEQ.
  switch (r.mode()) {
    case v1::STORE_ADD:
      new_flags = "(flags | $3::int)";
      new_kw = "ARRAY(SELECT DISTINCT k COLLATE \"C\" FROM unnest(keywords || $4::text[]) k ORDER BY 1)";
      break;
    case v1::STORE_REMOVE:
      new_flags = "(flags & ~$3::int)";
      new_kw = "ARRAY(SELECT k COLLATE \"C\" FROM unnest(keywords) k EXCEPT SELECT unnest($4::text[]) ORDER BY 1)";
      break;
    default:
      new_flags = "$3::int";
      new_kw = "$4::text[]";
  }
  return InTransaction<v1::StoreFlagsResponse>("store flags", [&](work& w) -> Result<v1::StoreFlagsResponse> {
    auto mb = LockMailbox(w, r.account_id(), r.mailbox_id());
    if (!mb) return tl::unexpected(mb.error());
    v1::StoreFlagsResponse resp;
    uint64_t next = mb->highestmodseq + 1;
    std::string guard = r.unchanged_since() ? " AND modseq <= $6" : " AND $6::bigint = $6::bigint";
    if (r.unchanged_since()) {
      for (const auto& row : w.exec_params("SELECT uid FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND " +
                                               *cond + " AND modseq > $3 ORDER BY uid",
                                           r.account_id(), r.mailbox_id(), static_cast<int64_t>(r.unchanged_since())))
        resp.add_failed_uids(row[0].as<uint32_t>());
    }
    auto upd = w.exec_params(
        "UPDATE messages SET flags = " + new_flags + ", keywords = " + new_kw + ", modseq = $5" +
            " WHERE account_id = $1 AND mailbox_id = $2 AND " + *cond + guard + " AND (flags <> " + new_flags +
            " OR keywords <> " + new_kw + ") RETURNING uid, modseq, flags, keywords",
        r.account_id(), r.mailbox_id(), f, kwlit, next, static_cast<int64_t>(r.unchanged_since()));
    std::vector<v1::MessageMeta> updated;
    for (const auto& row : upd) {
      v1::MessageMeta m;
      m.set_uid(row[0].as<uint32_t>());
      m.set_modseq(row[1].as<uint64_t>());
      m.set_flags(row[2].as<uint32_t>());
      for (auto& k : ParseArray(row[3])) m.add_keywords(k);
      updated.push_back(std::move(m));
    }
    std::sort(updated.begin(), updated.end(), [](auto& a, auto& b) { return a.uid() < b.uid(); });
    for (auto& m : updated) *resp.add_updated() = std::move(m);
    if (!upd.empty()) {
      w.exec_params("UPDATE mailboxes SET highestmodseq = $3 WHERE account_id = $1 AND mailbox_id = $2", r.account_id(),
                    r.mailbox_id(), next);
      Notify(w, {r.account_id(), r.mailbox_id(), next, static_cast<uint32_t>(mb->uidnext), false});
      resp.set_highestmodseq(next);
    } else {
      resp.set_highestmodseq(mb->highestmodseq);
    }
    return resp;
  });
}

namespace {

// The body of COPY/MOVE inside a caller's transaction (also used by RENAME of
// INBOX). `cond` is a UidSetCondition over the source mailbox.
Result<v1::CopyMessagesResponse> CopyInTransaction(work& w, const v1::CopyMessagesRequest& r, const std::string& cond_str) {
  const std::string* cond = &cond_str;
    if (auto a = LockAccount(w, r.account_id()); !a) return tl::unexpected(a.error());
    uint64_t lo = std::min(r.mailbox_id(), r.dest_mailbox_id()), hi = std::max(r.mailbox_id(), r.dest_mailbox_id());
    auto first = LockMailbox(w, r.account_id(), lo);
    if (!first) return tl::unexpected(first.error());
    Result<MailboxLock> second = first;
    if (hi != lo) second = LockMailbox(w, r.account_id(), hi);
    if (!second) return tl::unexpected(second.error());
    const MailboxLock& src = r.mailbox_id() == lo ? *first : *second;
    const MailboxLock& dst = r.dest_mailbox_id() == lo ? *first : *second;

    auto msgs = w.exec_params("SELECT uid, size FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND " + *cond +
                                  " ORDER BY uid",
                              r.account_id(), r.mailbox_id());
    v1::CopyMessagesResponse resp;
    resp.set_dest_uidvalidity(dst.uidvalidity);
    if (msgs.empty()) return resp;
    uint64_t n = msgs.size();
    if (dst.uidnext + n - 1 > UINT32_MAX) return Fail(ErrorKind::kLimitExceeded, "mailbox UID space exhausted");
    int64_t bytes = 0;
    for (const auto& row : msgs) bytes += row[1].as<int64_t>();
    if (!r.move()) {
      auto acc = w.exec_params(
          "UPDATE accounts SET storage_used = storage_used + $2, message_used = message_used + $3"
          " WHERE account_id = $1 RETURNING storage_limit, message_limit, storage_used, message_used",
          r.account_id(), bytes, static_cast<int64_t>(n));
      int64_t sl = acc[0][0].as<int64_t>(), ml = acc[0][1].as<int64_t>();
      if ((sl > 0 && acc[0][2].as<int64_t>() > sl) || (ml > 0 && acc[0][3].as<int64_t>() > ml))
        return Fail(ErrorKind::kQuotaExceeded, "mailbox quota exceeded");
    }
    uint64_t dst_modseq = (src.mailbox_id == dst.mailbox_id ? src.highestmodseq : dst.highestmodseq) + 1;
    w.exec_params(
        "INSERT INTO messages (account_id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id,"
        " email_id)"
        " SELECT account_id, $3, $4 + row_number() OVER (ORDER BY uid) - 1, $5, flags, keywords, internal_date, size,"
        " blob_id, email_id FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND " + *cond,
        r.account_id(), r.mailbox_id(), dst.mailbox_id, dst.uidnext, dst_modseq);
    w.exec_params("UPDATE mailboxes SET uidnext = uidnext + $3, highestmodseq = $4 WHERE account_id = $1 AND mailbox_id = $2",
                  r.account_id(), dst.mailbox_id, static_cast<int64_t>(n), dst_modseq);
    for (uint64_t i = 0; i < n; ++i) {
      resp.add_source_uids(msgs[i][0].as<uint32_t>());
      resp.add_dest_uids(static_cast<uint32_t>(dst.uidnext + i));
    }
    Notify(w, {r.account_id(), dst.mailbox_id, dst_modseq, static_cast<uint32_t>(dst.uidnext + n), false});
    if (r.move()) {
      uint64_t src_modseq = src.highestmodseq + 1;
      w.exec_params("DELETE FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND " + *cond, r.account_id(),
                    src.mailbox_id);
      w.exec_params("INSERT INTO expunged (account_id, mailbox_id, uid, modseq) SELECT $1, $2, u, $3 FROM unnest($4::bigint[]) u"
                    " ON CONFLICT DO NOTHING",
                    r.account_id(), src.mailbox_id, src_modseq, [&] {
                      std::string s = "{";
                      for (uint64_t i = 0; i < n; ++i) s += (i ? "," : "") + msgs[i][0].as<std::string>();
                      return s + "}";
                    }());
      w.exec_params("UPDATE mailboxes SET highestmodseq = $3 WHERE account_id = $1 AND mailbox_id = $2", r.account_id(),
                    src.mailbox_id, src_modseq);
      Notify(w, {r.account_id(), src.mailbox_id, src_modseq, static_cast<uint32_t>(src.uidnext), false});
    }
    return resp;
}

}  // namespace

Result<v1::CopyMessagesResponse> PgStore::CopyMessages(const v1::CopyMessagesRequest& r) {
  auto cond = UidSetCondition(r.uids());
  if (!cond) return tl::unexpected(cond.error());
  if (r.move() && r.mailbox_id() == r.dest_mailbox_id())
    return Fail(ErrorKind::kInvalidInput, "cannot move messages into the mailbox they are in");
  return InTransaction<v1::CopyMessagesResponse>(
      "copy", [&](work& w) -> Result<v1::CopyMessagesResponse> { return CopyInTransaction(w, r, *cond); });
}

Result<v1::ExpungeResponse> PgStore::Expunge(const v1::ExpungeRequest& r) {
  std::string cond = "TRUE";
  if (r.uids().ranges_size() > 0) {
    auto c = UidSetCondition(r.uids());
    if (!c) return tl::unexpected(c.error());
    cond = *c;
  }
  if (!r.force()) cond += " AND flags & 8 <> 0";
  return InTransaction<v1::ExpungeResponse>("expunge", [&](work& w) -> Result<v1::ExpungeResponse> {
    if (auto a = LockAccount(w, r.account_id()); !a) return tl::unexpected(a.error());
    auto mb = LockMailbox(w, r.account_id(), r.mailbox_id());
    if (!mb) return tl::unexpected(mb.error());
    uint64_t next = mb->highestmodseq + 1;
    auto del = w.exec_params("DELETE FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND " + cond +
                                 " RETURNING uid, size",
                             r.account_id(), r.mailbox_id());
    v1::ExpungeResponse resp;
    if (del.empty()) {
      resp.set_highestmodseq(mb->highestmodseq);
      return resp;
    }
    std::vector<uint32_t> uids;
    int64_t bytes = 0;
    std::string arr = "{";
    for (const auto& row : del) {
      uids.push_back(row[0].as<uint32_t>());
      bytes += row[1].as<int64_t>();
    }
    std::sort(uids.begin(), uids.end());
    for (size_t i = 0; i < uids.size(); ++i) arr += (i ? "," : "") + std::to_string(uids[i]);
    arr += "}";
    w.exec_params("INSERT INTO expunged (account_id, mailbox_id, uid, modseq) SELECT $1, $2, u, $3 FROM unnest($4::bigint[]) u"
                  " ON CONFLICT DO NOTHING",
                  r.account_id(), r.mailbox_id(), next, arr);
    w.exec_params("UPDATE mailboxes SET highestmodseq = $3 WHERE account_id = $1 AND mailbox_id = $2", r.account_id(),
                  r.mailbox_id(), next);
    w.exec_params("UPDATE accounts SET storage_used = storage_used - $2, message_used = message_used - $3"
                  " WHERE account_id = $1",
                  r.account_id(), bytes, static_cast<int64_t>(uids.size()));
    Notify(w, {r.account_id(), r.mailbox_id(), next, static_cast<uint32_t>(mb->uidnext), false});
    for (auto u : uids) resp.add_expunged_uids(u);
    resp.set_highestmodseq(next);
    return resp;
  });
}

Result<v1::ChangesResponse> PgStore::Changes(const v1::ChangesRequest& r) {
  uint32_t page = r.page_size() == 0 ? 1000 : std::min<uint32_t>(r.page_size(), 10000);
  return Read<v1::ChangesResponse>("changes", [&](pqxx::transaction_base& w) -> Result<v1::ChangesResponse> {
    // highestmodseq first: every change up to it is then in the reads below.
    auto mb = w.exec_params(
        r.with_count() ? "SELECT highestmodseq, uidnext, (SELECT count(*) FROM messages x WHERE x.account_id ="
                         " m.account_id AND x.mailbox_id = m.mailbox_id) FROM mailboxes m"
                         " WHERE account_id = $1 AND mailbox_id = $2"
                       : "SELECT highestmodseq, uidnext FROM mailboxes WHERE account_id = $1 AND mailbox_id = $2",
        r.account_id(), r.mailbox_id());
    if (mb.empty()) return Fail(ErrorKind::kNotFound, "no such mailbox");
    v1::ChangesResponse resp;
    resp.set_highestmodseq(mb[0][0].as<uint64_t>());
    resp.set_uidnext(static_cast<uint32_t>(std::min<uint64_t>(mb[0][1].as<uint64_t>(), UINT32_MAX)));
    if (r.with_count()) resp.set_messages(mb[0][2].as<uint32_t>());
    int64_t since = static_cast<int64_t>(r.since_modseq());
    for (const auto& row : w.exec_params(std::string("SELECT ") + kMessageCols +
                                             " FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND modseq > $3"
                                             " ORDER BY modseq, uid LIMIT $4",
                                         r.account_id(), r.mailbox_id(), since, page + 1)) {
      if (static_cast<uint32_t>(resp.changed_size()) == page) {
        resp.set_truncated(true);
        break;
      }
      *resp.add_changed() = MessageFromRow(row, false);
    }
    for (const auto& row : w.exec_params("SELECT uid FROM expunged WHERE account_id = $1 AND mailbox_id = $2"
                                         " AND modseq > $3 ORDER BY uid",
                                         r.account_id(), r.mailbox_id(), since))
      resp.add_expunged_uids(row[0].as<uint32_t>());
    // The three reads are separate statements: a change committed after the
    // first is in the later ones. Changes commit in MODSEQ order (the mailbox
    // row lock), so everything up to the highest MODSEQ listed is here too (its
    // expunges included: they are read last). Saying so spares the caller
    // hearing about that change again next time.
    if (!resp.truncated())
      for (const auto& m : resp.changed())
        if (m.modseq() > resp.highestmodseq()) resp.set_highestmodseq(m.modseq());
    return resp;
  });
}

// ------------------------------------------------------------ search

namespace {

struct SqlBuilder {
  std::vector<std::string> params;  // $3.. (1 and 2 are account and mailbox)
  bool texts = false;               // a key reads message_texts (migration v6)
  std::string Param(std::string v) {
    params.push_back(std::move(v));
    return "$" + std::to_string(params.size() + 2);
  }
};

Result<std::string> KeyToSql(const v1::SearchKey& k, SqlBuilder& b, int depth);

Result<std::string> ListToSql(const v1::SearchKeyList& l, SqlBuilder& b, int depth, const char* op) {
  if (l.keys_size() == 0) return std::string("TRUE");
  std::string s = "(";
  for (int i = 0; i < l.keys_size(); ++i) {
    auto c = KeyToSql(l.keys(i), b, depth + 1);
    if (!c) return c;
    if (i) s += op;
    s += *c;
  }
  return s + ")";
}

std::string Contains(const std::string& column, const std::string& value, SqlBuilder& b) {
  b.texts = true;
  return "(position(lower(" + b.Param(value) + ") IN lower(" + column + ")) > 0)";
}

Result<std::string> KeyToSql(const v1::SearchKey& k, SqlBuilder& b, int depth) {
  if (depth > 32) return Fail(ErrorKind::kLimitExceeded, "search nesting deeper than 32");
  switch (k.key_case()) {
    case v1::SearchKey::kUids: return UidSetCondition(k.uids());
    case v1::SearchKey::kFlagsSet:
      return fmt::format("(flags & {0} = {0})", k.flags_set() & 31);
    case v1::SearchKey::kFlagsUnset:
      return fmt::format("(flags & {} = 0)", k.flags_unset() & 31);
    case v1::SearchKey::kKeyword: return "(" + b.Param(k.keyword()) + " = ANY(keywords))";
    case v1::SearchKey::kUnkeyword: return "(NOT " + b.Param(k.unkeyword()) + " = ANY(keywords))";
    case v1::SearchKey::kSubject: return Contains("subject", k.subject(), b);
    case v1::SearchKey::kFrom: return Contains("from_text", k.from(), b);
    case v1::SearchKey::kTo: return Contains("to_text", k.to(), b);
    case v1::SearchKey::kCc: return Contains("cc_text", k.cc(), b);
    case v1::SearchKey::kBcc: return Contains("bcc_text", k.bcc(), b);
    case v1::SearchKey::kBody: return Contains("body_text", k.body(), b);
    case v1::SearchKey::kText: return Contains("(headers || body_text)", k.text(), b);
    case v1::SearchKey::kHeader: {
      // A header line (unfolded) whose name matches and whose value contains the string.
      b.texts = true;
      std::string name = b.Param(k.header().name());
      std::string value = b.Param(k.header().value());
      return "(EXISTS (SELECT 1 FROM regexp_split_to_table(headers, E'\\r?\\n(?![ \\t])') h"
             " WHERE lower(split_part(h, ':', 1)) = lower(" + name + ") AND position(lower(" + value +
             ") IN lower(substr(h, length(" + name + ") + 2))) > 0))";
    }
    case v1::SearchKey::kBeforeUnix: return "(internal_date < to_timestamp(" + b.Param(std::to_string(k.before_unix())) + "::bigint))";
    case v1::SearchKey::kSinceUnix: return "(internal_date >= to_timestamp(" + b.Param(std::to_string(k.since_unix())) + "::bigint))";
    case v1::SearchKey::kSentBeforeUnix: b.texts = true; return "(sent_at < " + b.Param(std::to_string(k.sent_before_unix())) + "::bigint)";
    case v1::SearchKey::kSentSinceUnix: b.texts = true; return "(sent_at >= " + b.Param(std::to_string(k.sent_since_unix())) + "::bigint)";
    case v1::SearchKey::kLarger: return "(size > " + b.Param(std::to_string(k.larger())) + "::bigint)";
    case v1::SearchKey::kSmaller: return "(size < " + b.Param(std::to_string(k.smaller())) + "::bigint)";
    case v1::SearchKey::kModseqAtLeast: return "(modseq >= " + b.Param(std::to_string(k.modseq_at_least())) + "::bigint)";
    case v1::SearchKey::kAnyOf: return ListToSql(k.any_of(), b, depth, " OR ");
    case v1::SearchKey::kNoneOf: {
      // "none of" (metadata.proto): NOT (a OR b). Fixed in pg_store_test
      // (SearchMatchesCachedFields): this was NOT (a AND b), i.e. "not all of", so
      // none_of{a, b} also matched messages that matched one of the keys.
      auto inner = ListToSql(k.none_of(), b, depth, " OR ");
      if (!inner) return inner;
      return "(NOT " + *inner + ")";
    }
    case v1::SearchKey::KEY_NOT_SET: return Fail(ErrorKind::kInvalidInput, "empty search key");
  }
  return Fail(ErrorKind::kInvalidInput, "unknown search key");
}

}  // namespace

Result<v1::SearchResponse> PgStore::Search(const v1::SearchRequest& r) {
  if (r.keys_size() > 1000) return Fail(ErrorKind::kLimitExceeded, "more than 1000 search keys");
  SqlBuilder b;
  std::string where = "TRUE";
  for (const auto& k : r.keys()) {
    auto c = KeyToSql(k, b, 0);
    if (!c) return tl::unexpected(c.error());
    where += " AND " + *c;
  }
  return Read<v1::SearchResponse>("search", [&](pqxx::transaction_base& w) -> Result<v1::SearchResponse> {
    auto mb = w.exec_params("SELECT highestmodseq FROM mailboxes WHERE account_id = $1 AND mailbox_id = $2",
                            r.account_id(), r.mailbox_id());
    if (mb.empty()) return Fail(ErrorKind::kNotFound, "no such mailbox");
    std::vector<std::string> all = {std::to_string(r.account_id()), std::to_string(r.mailbox_id())};
    all.insert(all.end(), b.params.begin(), b.params.end());
    // Text keys read message_texts; a message without texts matches none of them.
    const char* from = b.texts ? "SELECT uid FROM messages LEFT JOIN message_texts USING (account_id, email_id)"
                               : "SELECT uid FROM messages";
    auto res = w.exec_params(std::string(from) + " WHERE account_id = $1::bigint AND mailbox_id = $2::bigint AND " +
                                 where + " ORDER BY uid",
                             pqxx::prepare::make_dynamic_params(all));
    v1::SearchResponse resp;
    for (const auto& row : res) resp.add_uids(row[0].as<uint32_t>());
    resp.set_highestmodseq(mb[0][0].as<uint64_t>());
    return resp;
  });
}

}  // namespace columba::pg
