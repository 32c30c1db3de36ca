// directory.h - the interface to virtual users and domains (DESIGN: Directory).
//
// Backends: storage/ldap (OpenLDAP, replicated), storage/filedir (one flat file),
// storage/sqldir (PostgreSQL through metad; storage/postgres/pg_directory.h is the
// metad side) and storage/memory (unit tests). One conformance suite runs against each backend. Every
// call may block on the network: run it on a worker pool, never on an event loop.
//
// Like Postfix and Dovecot virtual users, Columba lower-cases the whole address
// before storing or looking it up (NormalizeAddress). Never log password_hash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace columba::storage {

struct Account {
  std::string address;               // canonical, lower-case "local@domain"
  std::vector<std::string> aliases;  // other addresses delivering to this account
  std::string password_hash;         // "{SCHEME}..." as written by lib/auth; never logged
  uint64_t quota_bytes = 0;          // 0 = unlimited
  uint64_t quota_messages = 0;       // 0 = unlimited
  bool enabled = true;               // disabled accounts neither log in nor receive
};

// Lower-cases and trims an address; returns kInvalidInput when it has no single '@'
// with non-empty local part and domain.
Result<std::string> NormalizeAddress(std::string_view address);
// NormalizeAddress plus ASCII only (what the directory backends store today;
// internationalised addresses are not supported yet).
Result<std::string> NormalizeAsciiAddress(std::string_view address);
// Lower-cases and trims a domain; kInvalidInput unless it is a plausible DNS name
// (ASCII letters, digits, '-', '_', '.'; no empty label; at most 253 octets).
Result<std::string> NormalizeDomain(std::string_view domain);
// Normalises an account's aliases (ASCII, de-duplicated, sorted); kInvalidInput
// when one is malformed or equals the account's own (normalised) address.
Result<std::vector<std::string>> NormalizeAliases(const std::string& address,
                                                  const std::vector<std::string>& aliases);
// The part after the last '@' of a normalised address.
std::string DomainOf(const std::string& address);

class Directory {
 public:
  virtual ~Directory() = default;

  // Finds the account whose address or one of whose aliases equals `address`
  // (already normalized). std::nullopt when no such account exists.
  virtual Result<std::optional<Account>> Lookup(std::string_view address) = 0;
  // True when `domain` is one of the platform's local domains.
  virtual Result<bool> IsLocalDomain(std::string_view domain) = 0;
  virtual Result<std::vector<std::string>> ListDomains() = 0;
  // Accounts of one domain, or of all domains when `domain` is empty; sorted by address.
  virtual Result<std::vector<Account>> ListAccounts(std::string_view domain) = 0;

  // Writes (go to the provider / primary). kAlreadyExists / kNotFound as named.
  virtual Result<void> AddDomain(std::string_view domain) = 0;
  virtual Result<void> AddAccount(const Account& account) = 0;  // domain must exist
  virtual Result<void> DeleteAccount(std::string_view address) = 0;
  virtual Result<void> SetPasswordHash(std::string_view address, std::string_view hash) = 0;
  virtual Result<void> SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) = 0;
  // Adds `alias` to the account `target`; kAlreadyExists when the alias is taken by
  // any account (as address or alias), kNotFound when target is unknown.
  virtual Result<void> AddAlias(std::string_view alias, std::string_view target) = 0;
};

}  // namespace columba::storage
