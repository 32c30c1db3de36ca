// pg_transaction.h - one transaction on a pooled connection, with the error
// classification every PostgreSQL store of metad uses.
//
// NAME
//   RunTransaction, RunRead - run a function in a transaction (or autocommit) on a
//   connection from a ConnectionPool and map failures to ErrorKind.
// DESCRIPTION
//   RunTransaction commits only when fn returned a value; an Error from fn rolls
//   back. Serialization failures and deadlocks are retried (up to 5 times); a lost
//   connection or a commit whose outcome is unknown is kUnavailable (the caller
//   answers "try again later"); unique violations are kAlreadyExists, check
//   violations kLimitExceeded, other SQL errors kInternal.
//   Used by PgStore (InTransaction/Read) and pg_queue.cc.
// NEVER
//   Returns a value for work that was not committed.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "lib/base/result.h"
#include "storage/postgres/pg_store.h"

namespace columba::pg {

// A PostgreSQL text[] literal, every element double-quoted and escaped (for
// `$1::text[]` parameters).
inline std::string TextArrayLiteral(const std::vector<std::string>& items) {
  std::string s = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ',';
    s += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += '"';
  }
  return s + "}";
}

// How a store names constraint violations (the defaults suit the mailstore).
struct SqlErrorPolicy {
  const char* unique = "already exists";     // unique_violation -> kAlreadyExists with this text
  bool foreign_key_not_found = false;        // foreign_key_violation -> kNotFound (else as any SQL error)
  const char* foreign_key = "does not exist";
  ErrorKind check = ErrorKind::kLimitExceeded;  // check_violation
  // Keep only the first line of PostgreSQL's messages: their DETAIL may quote a
  // whole row (a directory row holds a password hash).
  bool first_line_only = false;
};

inline std::string SqlMessage(const char* what, const SqlErrorPolicy& p) {
  std::string m(what);
  if (p.first_line_only) m = m.substr(0, m.find('\n'));
  return m;
}

template <class T, class Fn>
Result<T> RunTransaction(ConnectionPool& pool, const char* what, Fn fn, const SqlErrorPolicy& policy = {}) {
  for (int attempt = 0;; ++attempt) {
    auto lease = pool.Acquire();
    auto conn = lease.Get();
    if (!conn) return tl::unexpected(conn.error());
    try {
      pqxx::work w(**conn);
      Result<T> r = fn(w);
      if (!r) return r;  // leaving scope rolls back: an error never commits anything
      w.commit();
      return r;
    } catch (const pqxx::in_doubt_error& e) {
      lease.Discard();
      return Fail(ErrorKind::kUnavailable,
                  fmt::format("{}: commit outcome unknown: {}", what, SqlMessage(e.what(), policy)));
    } catch (const pqxx::broken_connection&) {
      lease.Discard();
      return Fail(ErrorKind::kUnavailable, fmt::format("{}: postgres connection lost", what));
    } catch (const pqxx::serialization_failure&) {
      if (attempt < 5) continue;
      return Fail(ErrorKind::kUnavailable, fmt::format("{}: serialization failures, giving up", what));
    } catch (const pqxx::deadlock_detected&) {
      if (attempt < 5) continue;
      return Fail(ErrorKind::kUnavailable, fmt::format("{}: deadlocks, giving up", what));
    } catch (const pqxx::unique_violation&) {
      return Fail(ErrorKind::kAlreadyExists, fmt::format("{}: {}", what, policy.unique));
    } catch (const pqxx::foreign_key_violation& e) {
      if (policy.foreign_key_not_found)
        return Fail(ErrorKind::kNotFound, fmt::format("{}: {}", what, policy.foreign_key));
      return Fail(ErrorKind::kInternal, fmt::format("{}: {}", what, SqlMessage(e.what(), policy)));
    } catch (const pqxx::check_violation& e) {
      return Fail(policy.check, fmt::format("{}: {}", what, SqlMessage(e.what(), policy)));
    } catch (const pqxx::sql_error& e) {
      if (!(*conn)->is_open()) {
        lease.Discard();
        return Fail(ErrorKind::kUnavailable, fmt::format("{}: postgres connection lost", what));
      }
      return Fail(ErrorKind::kInternal, fmt::format("{}: {}", what, SqlMessage(e.what(), policy)));
    } catch (const std::exception& e) {
      lease.Discard();
      return Fail(ErrorKind::kInternal, fmt::format("{}: {}", what, SqlMessage(e.what(), policy)));
    }
  }
}

template <class T, class Fn>
Result<T> RunRead(ConnectionPool& pool, const char* what, Fn fn) {
  auto lease = pool.Acquire();
  auto conn = lease.Get();
  if (!conn) return tl::unexpected(conn.error());
  try {
    pqxx::nontransaction n(**conn);
    return fn(n);
  } catch (const pqxx::broken_connection&) {
    lease.Discard();
    return Fail(ErrorKind::kUnavailable, fmt::format("{}: postgres connection lost", what));
  } catch (const pqxx::sql_error& e) {
    if (!(*conn)->is_open()) lease.Discard();
    return Fail(ErrorKind::kInternal, fmt::format("{}: {}", what, e.what()));
  } catch (const std::exception& e) {
    lease.Discard();
    return Fail(ErrorKind::kInternal, fmt::format("{}: {}", what, e.what()));
  }
}

}  // namespace columba::pg
