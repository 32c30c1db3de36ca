// ldap_directory.cc - LdapDirectory: the Directory on OpenLDAP (libldap, LDAPv3).
//
// DESCRIPTION
//   Pool: bound connections to a list of URIs, nearest first. Acquire() reuses an idle
//   connection to a server not marked down, or connects to the first server not marked
//   down (all of them when every one is). Run() performs one operation and, when the
//   server failed (connection lost, timeout, busy, unavailable, base entry missing),
//   marks it down for retry_down_after and tries the next server. Writes use a pool
//   holding only the provider and are retried only when a reused idle connection
//   turns out to be dead (the request never reached the server).
// NEVER
//   Holds a pool mutex across a network call; puts unescaped input into a filter or
//   DN; logs bind_password or userPassword values; leaks an LDAPMessage (every
//   ldap_search_ext_s result is freed, success or not).
#include "storage/ldap/ldap_directory.h"

#include <ldap.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "lib/base/log.h"

namespace columba::storage {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHexEscape(std::string& out, unsigned char c) {
  out += '\\';
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}


std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// A server-side or connection failure: another server (or a later call) may succeed.
bool IsServerFailure(int rc) {
  switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_LOCAL_ERROR:
    case LDAP_TIMEOUT:
    case LDAP_CONNECT_ERROR:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_UNWILLING_TO_PERFORM:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_OTHER:
      return true;
    default:
      return false;
  }
}

// The connection itself is unusable (client-side codes are negative).
bool IsConnectionLost(int rc) { return rc < 0; }

std::string DiagnosticOf(LDAP* ld) {
  char* msg = nullptr;
  std::string out;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg != nullptr) {
    out = msg;
    ldap_memfree(msg);
  }
  return out;
}

std::string Describe(int rc, LDAP* ld) {
  std::string s = ldap_err2string(rc);
  std::string diag = DiagnosticOf(ld);
  if (!diag.empty()) s += " (" + diag + ")";
  return s;
}

// One entry of a search result: attribute names lower-cased.
struct Entry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;

  const std::vector<std::string>* Values(const std::string& name) const {
    auto it = attrs.find(name);
    return it == attrs.end() ? nullptr : &it->second;
  }
  std::string First(const std::string& name) const {
    auto v = Values(name);
    return v == nullptr || v->empty() ? std::string() : v->front();
  }
};

Result<uint64_t> ParseCount(const Entry& e, const std::string& attr) {
  std::string v = e.First(attr);
  if (v.empty()) return uint64_t{0};  // absent = unlimited
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size())
    return Fail(ErrorKind::kInternal, "malformed " + attr + " in " + e.dn);
  return n;
}

Result<Account> AccountFromEntry(const Entry& e) {
  Account a;
  std::string mail = Lower(e.First("mail"));
  if (mail.empty()) return Fail(ErrorKind::kInternal, "account entry without mail: " + e.dn);
  auto norm = NormalizeAddress(mail);
  a.address = norm ? *norm : mail;
  if (auto v = e.Values("columbaalias")) {
    for (const auto& alias : *v) a.aliases.push_back(Lower(alias));
    std::sort(a.aliases.begin(), a.aliases.end());
  }
  a.password_hash = e.First("userpassword");
  auto bytes = ParseCount(e, "columbaquotabytes");
  if (!bytes) return tl::unexpected(bytes.error());
  auto messages = ParseCount(e, "columbaquotamessages");
  if (!messages) return tl::unexpected(messages.error());
  a.quota_bytes = *bytes;
  a.quota_messages = *messages;
  std::string enabled = e.First("columbaenabled");
  a.enabled = !(enabled == "FALSE" || enabled == "false");  // absent = enabled
  return a;
}

const char* const kAccountAttrs[] = {"mail", "columbaAlias", "userPassword", "columbaQuotaBytes",
                                     "columbaQuotaMessages", "columbaEnabled", nullptr};

// Owns the NULL-terminated arrays libldap wants for one attribute's values.
class ModBuilder {
 public:
  // op: LDAP_MOD_ADD / LDAP_MOD_REPLACE; no values with REPLACE removes the attribute.
  void Add(int op, const char* type, std::vector<std::string> values) {
    auto& m = *mods_.emplace_back(std::make_unique<Mod>());
    m.values = std::move(values);
    for (auto& v : m.values) m.bervals.push_back(berval{static_cast<ber_len_t>(v.size()), v.data()});
    for (auto& b : m.bervals) m.ptrs.push_back(&b);
    m.ptrs.push_back(nullptr);
    m.type = type;
    m.mod.mod_op = op | LDAP_MOD_BVALUES;
    m.mod.mod_type = m.type.data();
    m.mod.mod_bvalues = m.ptrs.data();
  }
  LDAPMod** Get() {
    list_.clear();
    for (auto& m : mods_) list_.push_back(&m->mod);
    list_.push_back(nullptr);
    return list_.data();
  }

 private:
  struct Mod {
    std::string type;
    std::vector<std::string> values;
    std::vector<berval> bervals;
    std::vector<berval*> ptrs;
    LDAPMod mod{};
  };
  std::vector<std::unique_ptr<Mod>> mods_;
  std::vector<LDAPMod*> list_;
};

}  // namespace

// ---------------------------------------------------------------- escaping

std::string EscapeFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '*' || c == '(' || c == ')' || c == '\\' || u == 0 || u >= 0x80)
      AppendHexEscape(out, u);
    else
      out += c;
  }
  return out;
}

std::string EscapeDnValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      AppendHexEscape(out, u);
    } else if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=' ||
               (i == 0 && (c == ' ' || c == '#')) || (i + 1 == value.size() && c == ' ')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------- connection pool

class LdapDirectory::Pool {
 public:
  struct Conn {
    LDAP* ld = nullptr;
    std::size_t uri_index = 0;
    bool reused = false;
    std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
    ~Conn() {
      if (ld != nullptr) ldap_unbind_ext_s(ld, nullptr, nullptr);
    }
  };

  Pool(std::string role, std::vector<std::string> uris, const LdapDirectoryConfig& config)
      : role_(std::move(role)), uris_(std::move(uris)), config_(config), down_until_(uris_.size()) {}

  // Runs op(ld) -> LDAP result code on a connection; on a server failure tries the
  // next server (at most once per server, plus one retry of a dead idle connection).
  // `may_retry`: the operation can be sent again after a failure of unknown outcome
  // (reads); writes are re-sent only when a reused idle connection was already dead.
  Result<int> Run(bool may_retry, const std::function<int(LDAP*)>& op) {
    std::string reasons;
    std::size_t attempts = uris_.size() + 1;
    for (std::size_t attempt = 0; attempt < attempts; ++attempt) {
      auto conn = Acquire(reasons);
      if (!conn) {
        if (reasons.empty()) return tl::unexpected(conn.error());  // pool exhausted
        break;
      }
      int rc = op((*conn)->ld);
      if (!IsServerFailure(rc)) {
        Release(std::move(*conn), true);
        return rc;
      }
      const std::size_t index = (*conn)->uri_index;
      const bool reused = (*conn)->reused;
      const std::string why = Describe(rc, (*conn)->ld);
      AppendReason(reasons, uris_[index], why);
      Release(std::move(*conn), !IsConnectionLost(rc));
      const bool stale_idle = reused && rc == LDAP_SERVER_DOWN;
      if (!stale_idle) MarkDown(index, why);
      if (!may_retry && !stale_idle) break;
    }
    return Fail(ErrorKind::kUnavailable, "LDAP " + role_ + ": no server available: " + reasons);
  }

 private:
  static void AppendReason(std::string& reasons, const std::string& uri, const std::string& why) {
    if (!reasons.empty()) reasons += "; ";
    reasons += uri + ": " + why;
  }

  bool IsDownLocked(std::size_t index, std::chrono::steady_clock::time_point now) const {
    return down_until_[index] > now;
  }

  // Skips the server for retry_down_after. Logs only the transition from up to down,
  // so an outage costs one line per server per retry_down_after, not one per call.
  void MarkDown(std::size_t index, const std::string& reason) {
    bool was_up;
    {
      std::lock_guard lock(mu_);
      auto now = std::chrono::steady_clock::now();
      was_up = !IsDownLocked(index, now);
      down_until_[index] = now + config_.retry_down_after;
    }
    if (was_up)
      log::Warn("ldap server failed; skipping it for a while",
                {{"role", role_}, {"uri", uris_[index]}, {"reason", reason},
                 {"retry_after_ms", static_cast<long long>(config_.retry_down_after.count())}});
  }

  Result<std::unique_ptr<Conn>> Acquire(std::string& reasons) {
    std::vector<std::size_t> order;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        auto now = std::chrono::steady_clock::now();
        while (!idle_.empty()) {
          auto conn = std::move(idle_.back());
          idle_.pop_back();
          if (!IsDownLocked(conn->uri_index, now)) {
            conn->reused = true;
            return conn;
          }
          --total_;  // a connection to a server marked down: close it (outside the lock)
          lock.unlock();
          conn.reset();
          lock.lock();
        }
        if (total_ < config_.max_connections) break;
        if (!cv_.wait_for(lock, config_.operation_timeout, [&] { return !idle_.empty() || total_ < config_.max_connections; }))
          return Fail(ErrorKind::kUnavailable, "LDAP " + role_ + ": all connections busy");
      }
      ++total_;
      auto now = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < uris_.size(); ++i)
        if (!IsDownLocked(i, now)) order.push_back(i);
      if (order.empty())  // every server failed recently: try them all again, in order
        for (std::size_t i = 0; i < uris_.size(); ++i) order.push_back(i);
    }
    for (std::size_t index : order) {
      auto conn = Connect(index);
      if (conn) return std::move(*conn);
      AppendReason(reasons, uris_[index], conn.error().message);
      MarkDown(index, conn.error().message);
    }
    {
      std::lock_guard lock(mu_);
      --total_;
    }
    cv_.notify_one();
    return Fail(ErrorKind::kUnavailable, reasons);
  }

  void Release(std::unique_ptr<Conn> conn, bool healthy) {
    // A connection to a farther server is retired after retry_down_after, so calls
    // return to the nearest server once it is back.
    if (healthy && conn->uri_index > 0 &&
        std::chrono::steady_clock::now() - conn->created > config_.retry_down_after)
      healthy = false;
    {
      std::lock_guard lock(mu_);
      if (healthy) {
        conn->reused = false;
        idle_.push_back(std::move(conn));
      } else {
        --total_;
      }
    }
    cv_.notify_one();
    conn.reset();  // closes an unhealthy connection outside the lock
  }

  Result<std::unique_ptr<Conn>> Connect(std::size_t index) {
    auto conn = std::make_unique<Conn>();
    conn->uri_index = index;
    const std::string& uri = uris_[index];
    int rc = ldap_initialize(&conn->ld, uri.c_str());
    if (rc != LDAP_SUCCESS) return Fail(ErrorKind::kUnavailable, std::string("ldap_initialize: ") + ldap_err2string(rc));
    int version = LDAP_VERSION3;
    timeval network = ToTimeval(config_.network_timeout);
    timeval operation = ToTimeval(config_.operation_timeout);
    ldap_set_option(conn->ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(conn->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(conn->ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
    ldap_set_option(conn->ld, LDAP_OPT_NETWORK_TIMEOUT, &network);
    ldap_set_option(conn->ld, LDAP_OPT_TIMEOUT, &operation);
    if (!config_.bind_dn.empty()) {
      berval cred{static_cast<ber_len_t>(config_.bind_password.size()), const_cast<char*>(config_.bind_password.data())};
      rc = ldap_sasl_bind_s(conn->ld, config_.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
      if (rc != LDAP_SUCCESS) return Fail(ErrorKind::kUnavailable, "bind as " + config_.bind_dn + ": " + Describe(rc, conn->ld));
    }
    return conn;
  }

  const std::string role_;
  const std::vector<std::string> uris_;
  const LdapDirectoryConfig& config_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::size_t total_ = 0;  // idle + in use + being connected
  std::vector<std::chrono::steady_clock::time_point> down_until_;
};

// ---------------------------------------------------------------- operations

namespace {

// A one-level search under `base`. A missing base is a server failure (a replica
// not yet initialised must not answer "no such user").
Result<std::vector<Entry>> Search(LdapDirectory::Pool& pool, const LdapDirectoryConfig& config, const std::string& base,
                                  const std::string& filter, const char* const* attrs) {
  std::vector<Entry> entries;
  std::string error;
  auto rc = pool.Run(true, [&](LDAP* ld) {
    entries.clear();
    timeval tv = ToTimeval(config.operation_timeout);
    LDAPMessage* res = nullptr;
    int rc = ldap_search_ext_s(ld, base.c_str(), LDAP_SCOPE_ONELEVEL, filter.c_str(), const_cast<char**>(attrs), 0,
                               nullptr, nullptr, &tv, LDAP_NO_LIMIT, &res);
    if (rc == LDAP_SUCCESS) {
      for (LDAPMessage* m = ldap_first_entry(ld, res); m != nullptr; m = ldap_next_entry(ld, m)) {
        Entry e;
        if (char* dn = ldap_get_dn(ld, m)) {
          e.dn = dn;
          ldap_memfree(dn);
        }
        BerElement* ber = nullptr;
        for (char* a = ldap_first_attribute(ld, m, &ber); a != nullptr; a = ldap_next_attribute(ld, m, ber)) {
          auto& values = e.attrs[Lower(a)];
          if (berval** vals = ldap_get_values_len(ld, m, a)) {
            for (berval** v = vals; *v != nullptr; ++v) values.emplace_back((*v)->bv_val, (*v)->bv_len);
            ldap_value_free_len(vals);
          }
          ldap_memfree(a);
        }
        if (ber != nullptr) ber_free(ber, 0);
        entries.push_back(std::move(e));
      }
    } else if (rc == LDAP_NO_SUCH_OBJECT) {
      rc = LDAP_UNAVAILABLE;  // try the next server
    }
    if (res != nullptr) ldap_msgfree(res);
    if (rc != LDAP_SUCCESS && !IsServerFailure(rc)) error = Describe(rc, ld);
    return rc;
  });
  if (!rc) return tl::unexpected(rc.error());
  if (*rc != LDAP_SUCCESS)
    return Fail(ErrorKind::kUnavailable, "LDAP search under " + base + " failed: " + error);
  return entries;
}

// Result of a write: the LDAP code (already mapped server failures aside).
Result<int> Write(LdapDirectory::Pool& pool, const std::function<int(LDAP*)>& op, std::string& diag) {
  return pool.Run(false, [&](LDAP* ld) {
    int rc = op(ld);
    if (rc != LDAP_SUCCESS) diag = Describe(rc, ld);
    return rc;
  });
}

Error MapWriteError(int rc, const std::string& what, const std::string& diag) {
  switch (rc) {
    case LDAP_ALREADY_EXISTS:
    case LDAP_TYPE_OR_VALUE_EXISTS:
    case LDAP_CONSTRAINT_VIOLATION:  // slapo-unique on columbaAlias
      return Error{ErrorKind::kAlreadyExists, what + ": already exists (" + diag + ")"};
    case LDAP_NO_SUCH_OBJECT:
      return Error{ErrorKind::kNotFound, what + ": not found (" + diag + ")"};
    case LDAP_INVALID_SYNTAX:
    case LDAP_INVALID_DN_SYNTAX:
    case LDAP_NAMING_VIOLATION:
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_UNDEFINED_TYPE:
      return Error{ErrorKind::kInvalidInput, what + ": rejected by the directory (" + diag + ")"};
    default:
      // insufficientAccess, invalidCredentials, ...: the deployment is wrong; retry later.
      return Error{ErrorKind::kUnavailable, what + ": " + diag};
  }
}

std::string AnyAddressFilter(const std::vector<std::string>& addresses) {
  std::string f = "(&(objectClass=columbaAccount)(|";
  for (const auto& a : addresses) {
    std::string v = EscapeFilterValue(a);
    f += "(mail=" + v + ")(columbaAlias=" + v + ")";
  }
  return f + "))";
}

}  // namespace

// ---------------------------------------------------------------- LdapDirectory

Result<std::shared_ptr<LdapDirectory>> LdapDirectory::Create(LdapDirectoryConfig config) {
  if (config.write_uri.empty()) return Fail(ErrorKind::kInvalidInput, "ldap: write_uri is empty");
  if (config.read_uris.empty()) config.read_uris.push_back(config.write_uri);
  std::vector<std::string> all = config.read_uris;
  all.push_back(config.write_uri);
  for (const auto& uri : all)
    if (!ldap_is_ldap_url(uri.c_str()) && !ldap_is_ldaps_url(uri.c_str()) && !ldap_is_ldapi_url(uri.c_str()))
      return Fail(ErrorKind::kInvalidInput, "ldap: not an LDAP URI: " + uri);
  if (config.base_dn.empty()) return Fail(ErrorKind::kInvalidInput, "ldap: base_dn is empty");
  LDAPDN parsed = nullptr;
  if (ldap_str2dn(config.base_dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
    return Fail(ErrorKind::kInvalidInput, "ldap: base_dn is not a DN: " + config.base_dn);
  ldap_dnfree(parsed);
  if (config.max_connections == 0) config.max_connections = 1;
  return std::shared_ptr<LdapDirectory>(new LdapDirectory(std::move(config)));
}

LdapDirectory::LdapDirectory(LdapDirectoryConfig config)
    : config_(std::move(config)),
      domains_dn_("ou=domains," + config_.base_dn),
      users_dn_("ou=users," + config_.base_dn),
      read_pool_(std::make_unique<Pool>("read", config_.read_uris, config_)),
      write_pool_(std::make_unique<Pool>("write", std::vector<std::string>{config_.write_uri}, config_)) {}

LdapDirectory::~LdapDirectory() = default;

namespace {

// True when the entry is the account of `address` itself (address or alias), not
// only the holder of a catch-all.
bool MatchesExactly(const Entry& e, const std::string& address) {
  if (Lower(e.First("mail")) == address) return true;
  if (auto v = e.Values("columbaalias"))
    for (const auto& alias : *v)
      if (Lower(alias) == address) return true;
  return false;
}

}  // namespace

Result<std::optional<Account>> LdapDirectory::Lookup(std::string_view address) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  // One search for the address, its alias and the domain's catch-all.
  const std::string filter = AnyAddressFilter({*a, CatchAllOf(DomainOf(*a))});
  auto entries = Search(*read_pool_, config_, users_dn_, filter, kAccountAttrs);
  if (!entries) return tl::unexpected(entries.error());
  if (entries->empty() && ConfirmNegativesOnProvider()) {
    // A replica may not have caught up with an account added a moment ago; "no
    // such user" is a permanent answer (550), so only the provider may give it.
    // If the provider is unreachable this is kUnavailable: try again later.
    entries = Search(*write_pool_, config_, users_dn_, filter, kAccountAttrs);
    if (!entries) return tl::unexpected(entries.error());
  }
  if (entries->empty()) return std::optional<Account>();
  // The exact match wins; the catch-all's holder answers only when there is none.
  std::vector<const Entry*> exact, catch_all;
  for (const auto& e : *entries) (MatchesExactly(e, *a) ? exact : catch_all).push_back(&e);
  const auto& chosen = exact.empty() ? catch_all : exact;
  if (chosen.size() > 1)
    return Fail(ErrorKind::kInternal, "directory inconsistent: " + std::to_string(chosen.size()) +
                                          " accounts match " + *a);
  auto account = AccountFromEntry(*chosen.front());
  if (!account) return tl::unexpected(account.error());
  return std::optional<Account>(std::move(*account));
}

static Result<bool> DomainExists(LdapDirectory::Pool& pool, const LdapDirectoryConfig& config,
                                 const std::string& domains_dn, const std::string& domain,
                                 const char* object_class = "columbaDomain") {
  static const char* const attrs[] = {"cn", nullptr};
  auto entries = Search(pool, config, domains_dn,
                        std::string("(&(objectClass=") + object_class + ")(cn=" + EscapeFilterValue(domain) + "))",
                        attrs);
  if (!entries) return tl::unexpected(entries.error());
  return !entries->empty();
}

Result<bool> LdapDirectory::IsDomainOfClass(std::string_view domain, const char* object_class) {
  auto d = NormalizeDomain(domain);
  if (!d) return false;  // not a domain name, so not one of ours
  auto found = DomainExists(*read_pool_, config_, domains_dn_, *d, object_class);
  if (found && !*found && ConfirmNegativesOnProvider())
    return DomainExists(*write_pool_, config_, domains_dn_, *d, object_class);
  return found;
}

Result<bool> LdapDirectory::IsLocalDomain(std::string_view domain) { return IsDomainOfClass(domain, "columbaDomain"); }

Result<bool> LdapDirectory::IsRelayDomain(std::string_view domain) {
  return IsDomainOfClass(domain, "columbaRelayDomain");
}

bool LdapDirectory::ConfirmNegativesOnProvider() const {
  return !config_.write_uri.empty() &&
         !(config_.read_uris.size() == 1 && config_.read_uris.front() == config_.write_uri);
}

Result<std::vector<std::string>> LdapDirectory::ListDomainsOfClass(const char* object_class) {
  static const char* const attrs[] = {"cn", nullptr};
  auto entries = Search(*read_pool_, config_, domains_dn_, std::string("(objectClass=") + object_class + ")", attrs);
  if (!entries) return tl::unexpected(entries.error());
  std::vector<std::string> out;
  for (const auto& e : *entries) out.push_back(Lower(e.First("cn")));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> LdapDirectory::ListDomains() { return ListDomainsOfClass("columbaDomain"); }

Result<std::vector<std::string>> LdapDirectory::ListRelayDomains() { return ListDomainsOfClass("columbaRelayDomain"); }

Result<std::vector<Account>> LdapDirectory::ListAccounts(std::string_view domain) {
  std::string filter = "(objectClass=columbaAccount)";
  std::string suffix;
  if (!domain.empty()) {
    auto d = NormalizeDomain(domain);
    if (!d) return tl::unexpected(d.error());
    suffix = "@" + *d;
    filter = "(&(objectClass=columbaAccount)(mail=*" + EscapeFilterValue(suffix) + "))";
  }
  auto entries = Search(*read_pool_, config_, users_dn_, filter, kAccountAttrs);
  if (!entries) return tl::unexpected(entries.error());
  std::vector<Account> out;
  for (const auto& e : *entries) {
    auto a = AccountFromEntry(e);
    if (!a) return tl::unexpected(a.error());
    if (!suffix.empty() && !a->address.ends_with(suffix)) continue;
    out.push_back(std::move(*a));
  }
  std::sort(out.begin(), out.end(), [](const Account& x, const Account& y) { return x.address < y.address; });
  return out;
}

Result<void> LdapDirectory::AddDomainOfClass(std::string_view domain, const char* object_class) {
  auto d = NormalizeDomain(domain);
  if (!d) return tl::unexpected(d.error());
  // Both kinds share the DN: adding a name that exists as the other kind is
  // LDAP_ALREADY_EXISTS (kAlreadyExists), even between concurrent writers.
  const std::string dn = "cn=" + EscapeDnValue(*d) + "," + domains_dn_;
  ModBuilder mods;
  mods.Add(LDAP_MOD_ADD, "objectClass", {object_class});
  mods.Add(LDAP_MOD_ADD, "cn", {*d});
  std::string diag;
  auto rc = Write(*write_pool_, [&](LDAP* ld) { return ldap_add_ext_s(ld, dn.c_str(), mods.Get(), nullptr, nullptr); }, diag);
  if (!rc) return tl::unexpected(rc.error());
  if (*rc != LDAP_SUCCESS) return tl::unexpected(MapWriteError(*rc, "domain " + *d, diag));
  return {};
}

Result<void> LdapDirectory::AddDomain(std::string_view domain) { return AddDomainOfClass(domain, "columbaDomain"); }

Result<void> LdapDirectory::AddRelayDomain(std::string_view domain) {
  return AddDomainOfClass(domain, "columbaRelayDomain");
}

Result<void> LdapDirectory::AddAccount(const Account& account) {
  std::lock_guard write_lock(write_mu_);  // check-then-add: no interleaving from this process
  // Same order of checks as MemoryDirectory: input, domain, clashes.
  auto address = NormalizeAsciiAddress(account.address);
  if (!address) return tl::unexpected(address.error());
  auto normalized_aliases = NormalizeAliases(*address, account.aliases);
  if (!normalized_aliases) return tl::unexpected(normalized_aliases.error());
  std::vector<std::string> aliases = std::move(*normalized_aliases);

  auto exists = DomainExists(*write_pool_, config_, domains_dn_, DomainOf(*address));
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return Fail(ErrorKind::kNotFound, "domain " + DomainOf(*address) + " is not a local domain");
  for (const auto& alias : aliases) {
    if (!IsCatchAll(alias)) continue;
    auto local = DomainExists(*write_pool_, config_, domains_dn_, alias.substr(1));
    if (!local) return tl::unexpected(local.error());
    if (!*local) return Fail(ErrorKind::kNotFound, "catch-all " + alias + ": " + alias.substr(1) + " is not a local domain");
  }

  std::vector<std::string> all = aliases;
  all.push_back(*address);
  static const char* const attrs[] = {"mail", nullptr};
  auto clash = Search(*write_pool_, config_, users_dn_, AnyAddressFilter(all), attrs);
  if (!clash) return tl::unexpected(clash.error());
  if (!clash->empty()) return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *address);

  const std::string dn = "mail=" + EscapeDnValue(*address) + "," + users_dn_;
  ModBuilder mods;
  mods.Add(LDAP_MOD_ADD, "objectClass", {"columbaAccount"});
  mods.Add(LDAP_MOD_ADD, "mail", {*address});
  if (!aliases.empty()) mods.Add(LDAP_MOD_ADD, "columbaAlias", aliases);
  if (!account.password_hash.empty()) mods.Add(LDAP_MOD_ADD, "userPassword", {account.password_hash});
  if (account.quota_bytes != 0) mods.Add(LDAP_MOD_ADD, "columbaQuotaBytes", {std::to_string(account.quota_bytes)});
  if (account.quota_messages != 0)
    mods.Add(LDAP_MOD_ADD, "columbaQuotaMessages", {std::to_string(account.quota_messages)});
  if (!account.enabled) mods.Add(LDAP_MOD_ADD, "columbaEnabled", {"FALSE"});
  std::string diag;
  auto rc = Write(*write_pool_, [&](LDAP* ld) { return ldap_add_ext_s(ld, dn.c_str(), mods.Get(), nullptr, nullptr); }, diag);
  if (!rc) return tl::unexpected(rc.error());
  if (*rc != LDAP_SUCCESS) return tl::unexpected(MapWriteError(*rc, "account " + *address, diag));
  return {};
}

namespace {

// The DN of the account whose canonical address (not alias) is `address`, read on the
// provider. Entries made by other tools may be named differently, so search.
Result<std::string> FindAccountDn(LdapDirectory::Pool& pool, const LdapDirectoryConfig& config,
                                  const std::string& users_dn, const std::string& address) {
  static const char* const attrs[] = {"mail", nullptr};
  auto entries = Search(pool, config, users_dn,
                        "(&(objectClass=columbaAccount)(mail=" + EscapeFilterValue(address) + "))", attrs);
  if (!entries) return tl::unexpected(entries.error());
  if (entries->empty()) return Fail(ErrorKind::kNotFound, "no account " + address);
  if (entries->size() > 1) return Fail(ErrorKind::kInternal, "directory inconsistent: several accounts " + address);
  return entries->front().dn;
}

Result<void> Modify(LdapDirectory::Pool& pool, const std::string& dn, ModBuilder& mods, const std::string& what) {
  std::string diag;
  auto rc = Write(pool, [&](LDAP* ld) { return ldap_modify_ext_s(ld, dn.c_str(), mods.Get(), nullptr, nullptr); }, diag);
  if (!rc) return tl::unexpected(rc.error());
  if (*rc != LDAP_SUCCESS) return tl::unexpected(MapWriteError(*rc, what, diag));
  return {};
}

}  // namespace

Result<void> LdapDirectory::DeleteAccount(std::string_view address) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  auto dn = FindAccountDn(*write_pool_, config_, users_dn_, *a);
  if (!dn) return tl::unexpected(dn.error());
  std::string diag;
  auto rc = Write(*write_pool_, [&](LDAP* ld) { return ldap_delete_ext_s(ld, dn->c_str(), nullptr, nullptr); }, diag);
  if (!rc) return tl::unexpected(rc.error());
  if (*rc != LDAP_SUCCESS) return tl::unexpected(MapWriteError(*rc, "account " + *a, diag));
  return {};
}

Result<void> LdapDirectory::SetPasswordHash(std::string_view address, std::string_view hash) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  auto dn = FindAccountDn(*write_pool_, config_, users_dn_, *a);
  if (!dn) return tl::unexpected(dn.error());
  ModBuilder mods;
  std::vector<std::string> values;
  if (!hash.empty()) values.emplace_back(hash);
  mods.Add(LDAP_MOD_REPLACE, "userPassword", std::move(values));  // none = remove
  return Modify(*write_pool_, *dn, mods, "account " + *a);
}

Result<void> LdapDirectory::SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) {
  auto a = NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  auto dn = FindAccountDn(*write_pool_, config_, users_dn_, *a);
  if (!dn) return tl::unexpected(dn.error());
  auto value = [](uint64_t n) { return n == 0 ? std::vector<std::string>{} : std::vector<std::string>{std::to_string(n)}; };
  ModBuilder mods;
  mods.Add(LDAP_MOD_REPLACE, "columbaQuotaBytes", value(bytes));  // 0 = remove = unlimited
  mods.Add(LDAP_MOD_REPLACE, "columbaQuotaMessages", value(messages));
  return Modify(*write_pool_, *dn, mods, "account " + *a);
}

Result<void> LdapDirectory::AddAlias(std::string_view alias, std::string_view target) {
  auto al = NormalizeAlias(alias);
  if (!al) return tl::unexpected(al.error());
  auto t = NormalizeAsciiAddress(target);
  if (!t) return tl::unexpected(t.error());
  std::lock_guard write_lock(write_mu_);  // check-then-modify: no interleaving from this process
  static const char* const attrs[] = {"mail", nullptr};
  auto owner = Search(*write_pool_, config_, users_dn_, AnyAddressFilter({*t}), attrs);
  if (!owner) return tl::unexpected(owner.error());
  if (owner->empty()) return Fail(ErrorKind::kNotFound, "no account " + *t);
  if (owner->size() > 1) return Fail(ErrorKind::kInternal, "directory inconsistent: several accounts match " + *t);
  if (IsCatchAll(*al)) {
    auto local = DomainExists(*write_pool_, config_, domains_dn_, al->substr(1));
    if (!local) return tl::unexpected(local.error());
    if (!*local) return Fail(ErrorKind::kNotFound, "catch-all " + *al + ": " + al->substr(1) + " is not a local domain");
  }
  auto clash = Search(*write_pool_, config_, users_dn_, AnyAddressFilter({*al}), attrs);
  if (!clash) return tl::unexpected(clash.error());
  if (!clash->empty()) return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *al);
  ModBuilder mods;
  mods.Add(LDAP_MOD_ADD, "columbaAlias", {*al});
  return Modify(*write_pool_, owner->front().dn, mods, "alias " + *al);
}

}  // namespace columba::storage
