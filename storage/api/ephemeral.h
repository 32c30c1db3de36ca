// ephemeral.h - the interface to short-lived shared state (DESIGN: State / Redis).
//
// NAME
//   Ephemeral - POP-before-SMTP records, expiring counters and owner-token locks
//   shared by every front-end replica.
// SYNOPSIS
//   std::shared_ptr<Ephemeral> e = ...;   // storage/redis or storage/memory
//   e->RecordLogin("192.0.2.7", "alice@example.org", 1200s);       // after POP3/IMAP login
//   auto who = e->RecentLogin("192.0.2.7");                         // smtpd relay check
//   auto n = e->Increment("authfail:ip:192.0.2.7", 15min);         // rate limits
//   if (e->TryLock("pop3:alice@example.org", session_token, 10min).value_or(false)) ...
// DESCRIPTION
//   Backends: storage/redis (RedisEphemeral, production) and storage/memory
//   (MemoryEphemeral, unit tests). Both pass storage/redis/ephemeral_conformance_test.cc.
//   Every call may block on the network: run it on a worker pool, never on an event loop.
//
//   Three name spaces, so a counter, a lock and a login record never collide even when
//   the caller passes the same string (Redis keys, with the default prefix "columba:"):
//     POP-before-SMTP  <prefix>pbs:<client_ip>  -> user name, expires after `ttl`
//     counters         <prefix>cnt:<key>        -> integer, expires `ttl` after the
//                                                  FIRST increment (fixed window)
//     locks            <prefix>lock:<key>       -> owner token, expires after `ttl`
//   Callers choose `key` (e.g. "authfail:ip:<ip>", "authfail:user:<user>",
//   "rate:smtp:<ip>", "pop3:<user>"); keys, IPs, users and owners are opaque bytes,
//   1..kMaxEphemeralKeyBytes long. A TTL is at least 1 ms. Time is the backend's own
//   clock (Redis server time; a steady clock for the memory twin), never the caller's.
//
// FAILURE POLICY (callers decide; the interface only reports)
//   Losing this state may cost a record or a counter, never mail (DESIGN invariant 2).
//   Every backend failure (server down, connect or command timeout, server loading or
//   read-only after a failover) is ErrorKind::kUnavailable; a reply the backend does not
//   understand is kInternal; bad arguments are kInvalidInput. Then:
//   - POP-before-SMTP FAILS CLOSED: RecentLogin erroring means "no record": the client
//     must authenticate (SMTP AUTH) or get 4xx; never relay on doubt (DESIGN invariant 6).
//   - Rate limits and auth-failure counters FAIL OPEN: an erroring Increment/Get lets the
//     connection through (log + metric), so a Redis outage does not stop mail.
//   - POP3 maildrop locks FAIL CLOSED for that session: TryLock erroring means
//     "-ERR [SYS/TEMP]", never a second writer on one maildrop.
// NEVER
//   Stores mail or anything that must survive a restart; logs values (user names,
//   owner tokens) above debug level; blocks an event-loop thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace columba::storage {

// Longest accepted key, client IP, user name or owner token (bytes).
inline constexpr std::size_t kMaxEphemeralKeyBytes = 512;

// kInvalidInput unless 1 <= value.size() <= kMaxEphemeralKeyBytes. `what` names the
// argument in the message (the value itself is never put in the message).
inline Result<void> CheckEphemeralArg(std::string_view what, std::string_view value) {
  if (value.empty()) return Fail(ErrorKind::kInvalidInput, std::string(what) + " is empty");
  if (value.size() > kMaxEphemeralKeyBytes)
    return Fail(ErrorKind::kInvalidInput, std::string(what) + " is longer than " +
                                              std::to_string(kMaxEphemeralKeyBytes) + " bytes");
  return {};
}

// kInvalidInput unless ttl >= 1 ms.
inline Result<void> CheckEphemeralTtl(std::chrono::milliseconds ttl) {
  if (ttl.count() < 1) return Fail(ErrorKind::kInvalidInput, "ttl must be at least 1 ms");
  return {};
}

// One live POP-before-SMTP record (ListRecentLogins).
struct RecentLoginRecord {
  std::string client_ip;
  std::string user;
  std::chrono::milliseconds remaining{0};  // time left in its window
};

class Ephemeral {
 public:
  virtual ~Ephemeral() = default;

  // ---- POP-before-SMTP (DESIGN: client IP -> user, TTL = window, default 1200 s)
  // Records that `user` logged in from `client_ip`; replaces any earlier record for that
  // IP and restarts its window.
  virtual Result<void> RecordLogin(std::string_view client_ip, std::string_view user,
                                   std::chrono::milliseconds ttl) = 0;
  // The user of the fresh record for `client_ip`, std::nullopt when there is none (never
  // recorded or expired). An error means "unknown": fail closed (see above).
  virtual Result<std::optional<std::string>> RecentLogin(std::string_view client_ip) = 0;
  // Every live record, at most `limit`, in no particular order (operators:
  // `columbactl popbeforesmtp list`). Redis walks the keys with SCAN (never KEYS),
  // so a record written or expiring meanwhile may or may not be listed.
  virtual Result<std::vector<RecentLoginRecord>> ListRecentLogins(std::size_t limit) = 0;

  // ---- Counters with expiry (auth failures per IP / per user, rate limits)
  // Adds 1 and returns the new value. The first increment (the counter absent or
  // expired) starts a window of `ttl`; later increments do not extend it, so the
  // counter counts events in a fixed window. Atomic: N concurrent calls add exactly N.
  virtual Result<int64_t> Increment(std::string_view key, std::chrono::milliseconds ttl) = 0;
  // The current value; 0 when the counter is absent or expired.
  virtual Result<int64_t> Get(std::string_view key) = 0;
  // Deletes the counter (e.g. after a successful login); fine when it is absent.
  virtual Result<void> Reset(std::string_view key) = 0;

  // ---- Locks with an owner token (POP3 maildrop: RFC 1939 exclusive access)
  // Takes the lock for `owner` (a random per-session token) for `ttl`. true when taken,
  // false when held by anyone, including `owner` itself (not re-entrant: use Refresh).
  virtual Result<bool> TryLock(std::string_view key, std::string_view owner,
                               std::chrono::milliseconds ttl) = 0;
  // Releases the lock if `owner` holds it: true when released, false when the lock is
  // absent, expired or held by another owner (which is left untouched).
  virtual Result<bool> Unlock(std::string_view key, std::string_view owner) = 0;
  // Sets the remaining lifetime of `owner`'s lock to `ttl` (a long session calls this
  // well before the lock expires). true when done, false when `owner` does not hold it
  // (any more): the session must then stop writing to the maildrop.
  virtual Result<bool> Refresh(std::string_view key, std::string_view owner,
                               std::chrono::milliseconds ttl) = 0;

  // ---- Health: reaches the backend (readiness probes, startup checks).
  virtual Result<void> Ping() = 0;
};

}  // namespace columba::storage
