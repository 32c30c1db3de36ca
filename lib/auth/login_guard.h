// login_guard.h - brute-force defence and POP-before-SMTP records shared by
// every front-end that checks passwords (imapd now; pop3d and smtpd next).
//
// NAME
//   LoginGuardConfig, PenaltyDelay, LoginGuard
//
// SYNOPSIS
//   LoginGuard guard(ephemeral, cfg);
//   auto n = guard.RecentFailures(ip_or_empty, user);   // worker pool: blocks on Redis
//   co_await sleep(PenaltyDelay(n, cfg));                // before checking the password
//   ... check ...
//   ok ? guard.RecordSuccess(ip, user) : guard.RecordFailure(ip, user);
//   guard.RecordPopBeforeSmtp(ip, user);                  // untrusted clients only
//
// DESCRIPTION
//   Failed logins are counted in the Ephemeral store (Redis), so every replica
//   sees them: per client IP ("authfail:ip:<ip>") and per user
//   ("authfail:user:<user>"), each in a fixed window (`window`, 15 min). Before
//   checking a password the front-end waits PenaltyDelay(max of both counts):
//   nothing for none, then penalty_base * 2^(n-1) up to penalty_max, as
//   Dovecot's auth penalty does; after a failure it also waits failure_delay.
//   The wait comes before the answer is known, so opening many connections
//   does not buy fast guesses. A success resets the user's counter (not the
//   IP's: a valid login of one's own account must not reset a spray from that
//   address). Callers pass an empty IP for trusted networks (not counted).
//
//   Failure policy (storage/api/ephemeral.h): counters fail OPEN (an error
//   counts as no failures and is reported through `TakeErrors()` so the service
//   can count it); a POP-before-SMTP record that cannot be written is simply
//   missing (the SMTP side then asks for AUTH: fail closed there).
//
// NEVER
//   Blocks an event-loop thread (every call may wait on Redis: worker pool
//   only), logs a user name above debug level, or stores a password.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lib/base/config.h"
#include "storage/api/ephemeral.h"

namespace columba::auth {

struct LoginGuardConfig {
  std::chrono::milliseconds failure_delay{1000};       // after every failed attempt
  std::chrono::milliseconds penalty_base{1000};        // before checking, after 1 recent failure
  std::chrono::milliseconds penalty_max{15000};        // cap of the doubling
  std::chrono::milliseconds window{15 * 60 * 1000};    // counters expire this long after the first failure
  std::chrono::milliseconds pop_before_smtp_ttl{1200 * 1000};  // 0: no records
};

// The `auth_*` keys of a service's section (imap, pop3, smtp): auth_failure_delay
// (1s), auth_penalty_base (1s), auth_penalty_max (15s), auth_failure_window (15m),
// and, when `pop_before_smtp_key` is set, that key for pop_before_smtp_ttl (1200s;
// 0 = no records). Otherwise pop_before_smtp_ttl is 0 (the service writes none).
LoginGuardConfig ReadLoginGuardConfig(ConfigReader& r, const std::string& section, bool pop_before_smtp_key);

// The wait before checking credentials after `failures` recent failures.
std::chrono::milliseconds PenaltyDelay(int64_t failures, const LoginGuardConfig& cfg);

class LoginGuard {
 public:
  // `ephemeral` may be null (no Redis configured): then nothing is counted or recorded.
  LoginGuard(std::shared_ptr<storage::Ephemeral> ephemeral, LoginGuardConfig cfg);

  const LoginGuardConfig& config() const { return cfg_; }

  // Recent failures for this IP (empty: not counted) or this user: the larger. 0 on error.
  int64_t RecentFailures(std::string_view ip, std::string_view user);
  // Counts a failure for the IP (unless empty) and the user (unless empty).
  void RecordFailure(std::string_view ip, std::string_view user);
  // Resets the user's failure counter.
  void RecordSuccess(std::string_view user);
  // POP-before-SMTP: `ip` -> `user` for pop_before_smtp_ttl (no-op when that is 0).
  // false when it could not be recorded.
  bool RecordPopBeforeSmtp(std::string_view ip, std::string_view user);

  // Ephemeral calls that failed since the last call (all callers together), so
  // a service adds exactly this to its error counter, whatever runs concurrently.
  uint64_t TakeErrors() { return errors_.exchange(0, std::memory_order_relaxed); }

 private:
  static std::string IpKey(std::string_view ip) { return "authfail:ip:" + std::string(ip); }
  static std::string UserKey(std::string_view user) { return "authfail:user:" + std::string(user); }

  std::shared_ptr<storage::Ephemeral> ephemeral_;
  LoginGuardConfig cfg_;
  std::atomic<uint64_t> errors_{0};
};

}  // namespace columba::auth
