// directory.h - the interface to virtual users and domains (DESIGN: Directory).
//
// Backends: storage/ldap (OpenLDAP, replicated), storage/filedir (one flat file),
// storage/sqldir (PostgreSQL through metad; storage/postgres/pg_directory.h is the
// metad side) and storage/memory (unit tests). One conformance suite runs against each backend. Every
// call may block on the network: run it on a worker pool, never on an event loop.
//
// Like Postfix and Dovecot virtual users, Columba lower-cases the whole address
// before storing or looking it up (NormalizeAddress). Never log password_hash.
//
// Domains come in two kinds, and a name is at most one of them:
// - a local domain: its addresses are accounts or aliases here (ListDomains);
// - a relay domain: mail for it is accepted from anyone and queued for the next
//   server (backup MX); no account or alias lives in it (ListRelayDomains).
// Catch-all: an alias "@domain" (domain local) makes every address of the domain
// that is neither an account nor an alias deliver to the alias's account. Lookup
// tries the exact address (account, then alias) first and the catch-all of the
// address's domain only when that finds nothing, so an exact match always wins.
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
// Normalises one alias: an address (NormalizeAsciiAddress) or a catch-all
// "@domain" (NormalizeDomain of the part after '@', stored as "@" + domain).
// kInvalidInput for anything else ("@", "@a@b", "@bad domain", "@ x").
Result<std::string> NormalizeAlias(std::string_view alias);
// True for a normalised catch-all alias ("@domain").
bool IsCatchAll(std::string_view alias);
// The catch-all alias of a normalised domain: "@" + domain.
std::string CatchAllOf(const std::string& domain);
// True when the normalised `address` is the account's own address or one of its
// aliases; false when Lookup found the account only through a catch-all. Logins
// and identities (client certificates) must use exact matches only: a catch-all
// routes mail, it does not name anyone.
bool IsOwnAddress(const struct Account& account, std::string_view address);
// Normalises an account's aliases (NormalizeAlias: addresses or catch-alls;
// de-duplicated, sorted); kInvalidInput when one is malformed or equals the
// account's own (normalised) address.
Result<std::vector<std::string>> NormalizeAliases(const std::string& address,
                                                  const std::vector<std::string>& aliases);
// The part after the last '@' of a normalised address.
std::string DomainOf(const std::string& address);

class Directory {
 public:
  virtual ~Directory() = default;

  // Finds the account whose address or one of whose aliases equals `address`;
  // when none does, the account holding the catch-all "@domain" of the address's
  // domain. std::nullopt when neither exists. `address` must be an address: a
  // catch-all ("@domain") is kInvalidInput here, it is not a recipient.
  virtual Result<std::optional<Account>> Lookup(std::string_view address) = 0;
  // True when `domain` is one of the platform's local domains (never for a relay domain).
  virtual Result<bool> IsLocalDomain(std::string_view domain) = 0;
  // True when `domain` is a relay domain (never for a local domain). Like
  // IsLocalDomain, a string that is not a domain name is simply not one (false).
  virtual Result<bool> IsRelayDomain(std::string_view domain) = 0;
  // Local domains only, sorted.
  virtual Result<std::vector<std::string>> ListDomains() = 0;
  // Relay domains only, sorted.
  virtual Result<std::vector<std::string>> ListRelayDomains() = 0;
  // Accounts of one domain, or of all domains when `domain` is empty; sorted by address.
  virtual Result<std::vector<Account>> ListAccounts(std::string_view domain) = 0;

  // Writes (go to the provider / primary). kAlreadyExists / kNotFound as named.
  // AddDomain / AddRelayDomain: kAlreadyExists when the name is already a domain
  // of either kind (a domain is local or relay, never both).
  virtual Result<void> AddDomain(std::string_view domain) = 0;
  virtual Result<void> AddRelayDomain(std::string_view domain) = 0;
  // The domain must be local (kNotFound otherwise), and so must the domain of
  // every catch-all among the aliases.
  virtual Result<void> AddAccount(const Account& account) = 0;
  virtual Result<void> DeleteAccount(std::string_view address) = 0;
  virtual Result<void> SetPasswordHash(std::string_view address, std::string_view hash) = 0;
  virtual Result<void> SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) = 0;
  // Adds `alias` (an address, or "@domain" for the domain's catch-all) to the
  // account `target` (named by its address or one of its address aliases, never a
  // catch-all). Checks in order: input (kInvalidInput), target (kNotFound),
  // a catch-all's domain must be local (kNotFound), then kAlreadyExists when the
  // alias is taken by any account (as address or alias; one catch-all per domain).
  virtual Result<void> AddAlias(std::string_view alias, std::string_view target) = 0;
};

}  // namespace columba::storage
