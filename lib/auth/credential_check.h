// credential_check.h - the login steps every front-end that checks passwords
// shares (imapd, smtpd, pop3d): penalty wait, directory lookup, password or
// SASL-secret check, failure/success bookkeeping in the login guard.
//
// NAME
//   CredentialContext, LoginKey, WaitPenalty, VerifyPassword, LookupScram,
//   VerifyCramMd5, RecordFailure, RecordSuccess, DecoyScramSecret
//
// SYNOPSIS
//   auth::CredentialContext cc{directory, guard, pool, hash_pool};
//   std::string key = auth::LoginKey(user);
//   co_await auth::WaitPenalty(cc, ip_or_empty, key);
//   auto account = co_await auth::VerifyPassword(cc, user, password);
//   if (!account) -> temporary failure (directory down, pool full)
//   else if (!*account) { co_await auth::RecordFailure(cc, ip_or_empty, key); -> "failed" }
//   else co_await auth::RecordSuccess(cc, ip_or_empty, (*account)->address, key, pop_before_smtp);
//
// DESCRIPTION
//   The protocol layer owns the dialogue (IMAP tags, SMTP 334 rounds, POP3 +);
//   this layer owns what the answer is. A failure of any kind (unknown user,
//   disabled account, wrong password, no usable secret for the mechanism) is
//   one "empty optional", so the protocols answer every such case alike and
//   never tell an unknown user from a wrong password. Directory and Redis calls
//   run on `pool`, password hashing on `hash_pool` (Argon2 costs ~100 ms of CPU:
//   a burst of logins must not take the cores the sessions need).
//
//   SCRAM-SHA-256 needs a {SCRAM-SHA-256} secret in the directory, CRAM-MD5 the
//   password itself ({PLAIN}/{CLEAR}/{CLEARTEXT}, stored only when an operator
//   chose so). For every other account, and for unknown names, the exchange runs
//   on with a made-up secret (DecoyScramSecret / a random CRAM password), so the
//   dialogue looks the same and fails at the end.
//
// NEVER
//   Never logs a password, a SASL message or a user name above debug level;
//   never blocks the calling event loop; never reports success for a disabled
//   account or on an error.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "lib/auth/login_guard.h"
#include "lib/auth/sasl.h"
#include "lib/net/blocking_pool.h"
#include "storage/api/directory.h"

namespace columba::auth {

struct CredentialContext {
  storage::Directory& directory;
  LoginGuard& guard;
  net::BlockingPool& pool;       // directory and Redis calls
  net::BlockingPool& hash_pool;  // password hashing only
  // {PLAIN}/{CLEAR} stored passwords count (operator's choice, auth.allow_plain_passwords);
  // without it they verify nothing, and CRAM-MD5 (which needs them) proves nobody.
  bool allow_plain = false;
};

// The key failures are counted under: the normalised address, or the name as given.
std::string LoginKey(std::string_view user);

// The enabled account of a normalised address (blocking: worker threads only).
// An empty optional is "unknown, malformed or disabled"; an error is the directory failing.
// Only the account's own address or an alias names it: an address that reaches the
// account only through its domain's catch-all is unknown here (no login as
// anything@domain, no client certificate for it, no fresh failure counter per made-up name).
Result<std::optional<storage::Account>> LookupEnabled(storage::Directory& directory, const std::string& address);

// The password of a {PLAIN}/{CLEAR}/{CLEARTEXT} directory entry (CRAM-MD5, APOP),
// nullopt for every other scheme. Callers honour auth.allow_plain_passwords.
std::optional<std::string> StoredPlainPassword(const std::string& stored);

// A made-up SCRAM secret, stable per name within this process (keyed hashes of
// the name: no key derivation, so unknown names are not measurably faster).
ScramSecret DecoyScramSecret(std::string_view name);

asio::awaitable<void> SleepFor(std::chrono::milliseconds d);

// Waits the login guard's penalty for recent failures of `ip` (empty: not
// counted, e.g. trusted networks) or `user_key`.
asio::awaitable<void> WaitPenalty(CredentialContext& cc, std::string ip, std::string user_key);

// Looks `user` up and checks `password` (PLAIN, LOGIN, USER/PASS). The account
// when both are right; empty for any failure; an error when the directory or a
// pool cannot answer (the protocol's "try again later").
asio::awaitable<Result<std::optional<storage::Account>>> VerifyPassword(CredentialContext& cc, std::string user,
                                                                        std::string password);

struct ScramLookup {
  std::optional<storage::Account> account;  // set only when the directory holds a usable secret
  ScramSecret secret;                        // the real one, or a decoy
};
asio::awaitable<Result<ScramLookup>> LookupScram(CredentialContext& cc, std::string user);

// CRAM-MD5 (RFC 2195): `decoded_response` is "user hexdigest" for `challenge`.
// The account when the digest matches the account's stored plain password.
asio::awaitable<Result<std::optional<storage::Account>>> VerifyCramMd5(CredentialContext& cc,
                                                                       std::string decoded_response,
                                                                       std::string challenge);

// Counts a failure for `ip` (unless empty) and `user_key`, then waits the
// guard's failure delay before the protocol answers.
asio::awaitable<void> RecordFailure(CredentialContext& cc, std::string ip, std::string user_key);

// Resets the user's failure counters and, when `pop_before_smtp` and `ip` is
// set, writes the POP-before-SMTP record ip -> address. false when that record
// was wanted but could not be written (the caller counts it; SMTP then fails closed).
asio::awaitable<bool> RecordSuccess(CredentialContext& cc, std::string ip, std::string address, std::string user_key,
                                    bool pop_before_smtp);

// A random challenge for CRAM-MD5: "<random.time@hostname>" (RFC 2195).
std::string MakeCramChallenge(std::string_view hostname);

}  // namespace columba::auth
