// pg_directory.cc - PgDirectory: the Directory contract in SQL; see pg_directory.h.
//
// Every key is normalised here before it becomes a statement parameter; the
// schema (migration v9) enforces the same rules again for operators' plain SQL.
// Lock order: the domain row (FOR KEY SHARE), then the account row, then
// directory_addresses through the triggers - one order, no deadlocks.
// Error messages carry the first line of PostgreSQL's error only: its DETAIL
// may quote a whole row, password hash included.
#include "storage/postgres/pg_directory.h"

#include "storage/postgres/pg_transaction.h"

#include <pqxx/pqxx>

#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace columba::pg {

using storage::Account;

namespace {

Result<int64_t> QuotaValue(uint64_t v, const char* name) {
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return Fail(ErrorKind::kInvalidInput, fmt::format("{} too large", name));
  return static_cast<int64_t>(v);
}

constexpr const char* kAccountCols = "address, password_hash, quota_bytes, quota_messages, enabled";

Account AccountFromRow(const pqxx::row& row) {
  Account a;
  a.address = row[0].as<std::string>();
  a.password_hash = row[1].as<std::string>();
  a.quota_bytes = static_cast<uint64_t>(row[2].as<int64_t>());
  a.quota_messages = static_cast<uint64_t>(row[3].as<int64_t>());
  a.enabled = row[4].as<bool>();
  return a;
}

// The account row whose address is `key` or which has the alias `key`.
constexpr const char* kByAddressOrAlias =
    " FROM directory_accounts WHERE address = coalesce((SELECT address FROM directory_aliases WHERE alias = $1), $1)";

}  // namespace

// Transactions as every store of metad runs them (pg_transaction.h), with the
// directory's names for its constraints and PostgreSQL's messages cut to their
// first line (a DETAIL can quote a row with its password hash).
template <class T, class Fn>
Result<T> PgDirectory::InTransaction(const char* what, Fn fn) {
  static const SqlErrorPolicy kPolicy{"address, alias or domain already in use", true,
                                      "domain or account does not exist", ErrorKind::kInvalidInput, true};
  return RunTransaction<T>(*pool_, what, std::move(fn), kPolicy);
}

Result<std::optional<Account>> PgDirectory::Lookup(std::string_view address) {
  auto a = storage::NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  const std::string catch_all = storage::CatchAllOf(storage::DomainOf(*a));
  return InTransaction<std::optional<Account>>("directory lookup", [&](pqxx::work& w) -> Result<std::optional<Account>> {
    auto rows = w.exec_params(std::string("SELECT ") + kAccountCols + kByAddressOrAlias, *a);
    // The exact address or alias wins; the domain's catch-all only when none matched.
    if (rows.empty()) rows = w.exec_params(std::string("SELECT ") + kAccountCols + kByAddressOrAlias, catch_all);
    if (rows.empty()) return std::optional<Account>();
    Account acc = AccountFromRow(rows[0]);
    for (const auto& row : w.exec_params("SELECT alias FROM directory_aliases WHERE address = $1 ORDER BY alias",
                                         acc.address))
      acc.aliases.push_back(row[0].as<std::string>());
    return std::optional<Account>(std::move(acc));
  });
}

Result<bool> PgDirectory::IsDomainOfKind(std::string_view domain, const char* kind) {
  auto d = storage::NormalizeDomain(domain);
  if (!d) return false;  // not a domain name, so not one of ours
  return InTransaction<bool>("directory domain check", [&](pqxx::work& w) -> Result<bool> {
    return !w.exec_params("SELECT 1 FROM directory_domains WHERE name = $1 AND kind = $2", *d, std::string(kind))
                .empty();
  });
}

Result<bool> PgDirectory::IsLocalDomain(std::string_view domain) { return IsDomainOfKind(domain, "local"); }

Result<bool> PgDirectory::IsRelayDomain(std::string_view domain) { return IsDomainOfKind(domain, "relay"); }

Result<std::vector<std::string>> PgDirectory::ListDomainsOfKind(const char* kind) {
  return InTransaction<std::vector<std::string>>(
      "directory list domains", [&](pqxx::work& w) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        for (const auto& row :
             w.exec_params("SELECT name FROM directory_domains WHERE kind = $1 ORDER BY name", std::string(kind)))
          out.push_back(row[0].as<std::string>());
        return out;
      });
}

Result<std::vector<std::string>> PgDirectory::ListDomains() { return ListDomainsOfKind("local"); }

Result<std::vector<std::string>> PgDirectory::ListRelayDomains() { return ListDomainsOfKind("relay"); }

Result<std::vector<Account>> PgDirectory::ListAccounts(std::string_view domain) {
  std::string d;
  if (!domain.empty()) {
    auto nd = storage::NormalizeDomain(domain);
    if (!nd) return tl::unexpected(nd.error());
    d = std::move(*nd);
  }
  return InTransaction<std::vector<Account>>("directory list accounts", [&](pqxx::work& w) -> Result<std::vector<Account>> {
    // REPEATABLE READ: accounts and aliases from one snapshot.
    w.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const char* where = d.empty() ? "" : " WHERE domain = $1";
    auto accounts = d.empty() ? w.exec(fmt::format("SELECT {} FROM directory_accounts ORDER BY address", kAccountCols))
                              : w.exec_params(fmt::format("SELECT {} FROM directory_accounts{} ORDER BY address",
                                                          kAccountCols, where),
                                              d);
    std::string alias_sql = fmt::format(
        "SELECT l.address, l.alias FROM directory_aliases l JOIN directory_accounts a USING (address){}"
        " ORDER BY l.address, l.alias",
        d.empty() ? "" : " WHERE a.domain = $1");
    auto aliases = d.empty() ? w.exec(alias_sql) : w.exec_params(alias_sql, d);
    std::vector<Account> out;
    out.reserve(accounts.size());
    auto al = aliases.begin();
    for (const auto& row : accounts) {
      Account acc = AccountFromRow(row);
      // Both lists are sorted by address (bytes): merge.
      while (al != aliases.end() && al[0].as<std::string>() < acc.address) ++al;
      for (; al != aliases.end() && al[0].as<std::string>() == acc.address; ++al)
        acc.aliases.push_back(al[1].as<std::string>());
      out.push_back(std::move(acc));
    }
    return out;
  });
}

Result<void> PgDirectory::AddDomainOfKind(std::string_view domain, const char* kind) {
  auto d = storage::NormalizeDomain(domain);
  if (!d) return tl::unexpected(d.error());
  auto r = InTransaction<bool>("directory add domain", [&](pqxx::work& w) -> Result<bool> {
    // The name is the primary key whatever the kind: one kind per domain.
    w.exec_params("INSERT INTO directory_domains (name, kind) VALUES ($1, $2)", *d, std::string(kind));
    return true;
  });
  if (!r && r.error().kind == ErrorKind::kAlreadyExists)
    return Fail(ErrorKind::kAlreadyExists, "domain " + *d + ": already exists");
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> PgDirectory::AddDomain(std::string_view domain) { return AddDomainOfKind(domain, "local"); }

Result<void> PgDirectory::AddRelayDomain(std::string_view domain) { return AddDomainOfKind(domain, "relay"); }

Result<void> PgDirectory::AddAccount(const Account& account) {
  auto address = storage::NormalizeAsciiAddress(account.address);
  if (!address) return tl::unexpected(address.error());
  auto aliases = storage::NormalizeAliases(*address, account.aliases);
  if (!aliases) return tl::unexpected(aliases.error());
  auto bytes = QuotaValue(account.quota_bytes, "quota_bytes");
  if (!bytes) return tl::unexpected(bytes.error());
  auto messages = QuotaValue(account.quota_messages, "quota_messages");
  if (!messages) return tl::unexpected(messages.error());
  const std::string domain = storage::DomainOf(*address);
  auto r = InTransaction<bool>("directory add account", [&](pqxx::work& w) -> Result<bool> {
    // The domain row stays locked against removal until commit.
    if (w.exec_params("SELECT 1 FROM directory_domains WHERE name = $1 AND kind = 'local' FOR KEY SHARE", domain)
            .empty())
      return Fail(ErrorKind::kNotFound, "domain " + domain + " is not a local domain");
    for (const auto& alias : *aliases) {
      if (!storage::IsCatchAll(alias)) continue;
      if (w.exec_params("SELECT 1 FROM directory_domains WHERE name = $1 AND kind = 'local' FOR KEY SHARE",
                        alias.substr(1))
              .empty())
        return Fail(ErrorKind::kNotFound, "catch-all " + alias + ": " + alias.substr(1) + " is not a local domain");
    }
    w.exec_params(
        "INSERT INTO directory_accounts (address, password_hash, quota_bytes, quota_messages, enabled)"
        " VALUES ($1, $2, $3, $4, $5)",
        *address, account.password_hash, *bytes, *messages, account.enabled);
    for (const auto& alias : *aliases)
      w.exec_params("INSERT INTO directory_aliases (alias, address) VALUES ($1, $2)", alias, *address);
    return true;
  });
  if (!r && r.error().kind == ErrorKind::kAlreadyExists)
    return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *address);
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> PgDirectory::DeleteAccount(std::string_view address) {
  auto a = storage::NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  auto r = InTransaction<bool>("directory delete account", [&](pqxx::work& w) -> Result<bool> {
    // Aliases go with it (ON DELETE CASCADE), and so do their claims.
    if (w.exec_params("DELETE FROM directory_accounts WHERE address = $1", *a).affected_rows() == 0)
      return Fail(ErrorKind::kNotFound, "no account " + *a);
    return true;
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> PgDirectory::SetPasswordHash(std::string_view address, std::string_view hash) {
  auto a = storage::NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  auto r = InTransaction<bool>("directory set password", [&](pqxx::work& w) -> Result<bool> {
    if (w.exec_params("UPDATE directory_accounts SET password_hash = $2 WHERE address = $1", *a, std::string(hash))
            .affected_rows() == 0)
      return Fail(ErrorKind::kNotFound, "no account " + *a);
    return true;
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> PgDirectory::SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) {
  auto a = storage::NormalizeAsciiAddress(address);
  if (!a) return tl::unexpected(a.error());
  auto b = QuotaValue(bytes, "quota_bytes");
  if (!b) return tl::unexpected(b.error());
  auto m = QuotaValue(messages, "quota_messages");
  if (!m) return tl::unexpected(m.error());
  auto r = InTransaction<bool>("directory set quota", [&](pqxx::work& w) -> Result<bool> {
    if (w.exec_params("UPDATE directory_accounts SET quota_bytes = $2, quota_messages = $3 WHERE address = $1", *a,
                      *b, *m)
            .affected_rows() == 0)
      return Fail(ErrorKind::kNotFound, "no account " + *a);
    return true;
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> PgDirectory::AddAlias(std::string_view alias, std::string_view target) {
  auto al = storage::NormalizeAlias(alias);
  if (!al) return tl::unexpected(al.error());
  auto t = storage::NormalizeAsciiAddress(target);
  if (!t) return tl::unexpected(t.error());
  auto r = InTransaction<bool>("directory add alias", [&](pqxx::work& w) -> Result<bool> {
    // The target (named by address or alias) stays locked against deletion until commit.
    auto owner = w.exec_params(std::string("SELECT address") + kByAddressOrAlias + " FOR KEY SHARE", *t);
    if (owner.empty()) return Fail(ErrorKind::kNotFound, "no account " + *t);
    if (storage::IsCatchAll(*al) &&
        w.exec_params("SELECT 1 FROM directory_domains WHERE name = $1 AND kind = 'local' FOR KEY SHARE",
                      al->substr(1))
            .empty())
      return Fail(ErrorKind::kNotFound, "catch-all " + *al + ": " + al->substr(1) + " is not a local domain");
    w.exec_params("INSERT INTO directory_aliases (alias, address) VALUES ($1, $2)", *al,
                  owner[0][0].as<std::string>());
    return true;
  });
  if (!r && r.error().kind == ErrorKind::kAlreadyExists)
    return Fail(ErrorKind::kAlreadyExists, "address or alias already in use: " + *al);
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace columba::pg
