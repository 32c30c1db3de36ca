// redis_ephemeral.h - Ephemeral on Redis through hiredis (DESIGN: State / Redis).
//
// NAME
//   RedisEphemeral - POP-before-SMTP records, counters and locks in Redis.
// SYNOPSIS
//   RedisEphemeralConfig c;
//   c.uri = "redis://127.0.0.1:6379/0";          // redis://host[:port][/db], [v6] ok
//   c.password_file = "/run/secrets/redis";       // optional; read once by Create
//   auto e = RedisEphemeral::Create(c);           // Result<std::shared_ptr<RedisEphemeral>>
// DESCRIPTION
//   Keys (prefix configurable, default "columba:"): <prefix>pbs:<ip> (SET PX / GET),
//   <prefix>cnt:<key> (a Lua script: INCR, then PEXPIRE when the counter is new, in one
//   atomic step), <prefix>lock:<key> (SET NX PX; release and refresh by Lua scripts that
//   compare the owner token first). One key per call, so it works on Redis Cluster too.
//
//   A pool of at most `pool_size` blocking connections, made lazily (a service starts
//   while Redis is down) and guarded by a mutex; a caller waits up to
//   `connect_timeout + command_timeout` for a free one. A connection that fails (I/O
//   error, timeout, EOF, protocol error, READONLY after a failover) is closed and the
//   next call makes a new one. When a connection taken from the pool turns out closed by
//   the server (EOF or reset, e.g. Redis restarted), the command is retried once on a
//   fresh connection; never after a timeout, when it may have run already.
//   Every call blocks: run it on a worker pool, never on an event loop. Connections
//   name themselves (CLIENT SETNAME `client_name`) so CLIENT LIST shows who is who.
// DIAGNOSTICS
//   kInvalidInput from Create for a bad URI or unreadable password file, and from calls
//   for bad arguments (storage/api/ephemeral.h). kUnavailable when Redis cannot be
//   reached, times out, rejects AUTH/SELECT, or answers LOADING/BUSY/MASTERDOWN/
//   READONLY/TRYAGAIN/CLUSTERDOWN; kInternal for other error replies or unexpected
//   reply types. Losing Redis is logged once as a warning (host, port, reason) and its
//   return once at info; keys appear only in debug logs.
// NEVER
//   Logs a value (user name, owner token) or the password; retries a command that may
//   have been executed; runs on an event-loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/api/ephemeral.h"

struct redisContext;
struct redisReply;

namespace columba::storage {

struct RedisEphemeralConfig {
  // redis://host[:port][/db]; host may be [IPv6]; port defaults to 6379, db to 0.
  // A password in the URI is refused: it goes in password_file, so it is never in
  // a config file, a command line or a log line.
  std::string uri = "redis://127.0.0.1:6379";
  // Optional file holding the password for AUTH (trailing newlines ignored).
  std::string password_file;
  // Time to establish a TCP connection (plus AUTH/SELECT, each with command_timeout).
  std::chrono::milliseconds connect_timeout{500};
  // Time for one command's reply; a rate-limit check must not stall a session.
  std::chrono::milliseconds command_timeout{500};
  // Connections at most; bounds the calls in flight (size it like the worker pool).
  std::size_t pool_size = 4;
  // Prefix of every key, so several installations can share one Redis.
  std::string key_prefix = "columba:";
  // CLIENT SETNAME of every connection (shows in CLIENT LIST); empty = none. Printable
  // ASCII without spaces, at most 64 bytes (e.g. "columba-smtpd").
  std::string client_name = "columba";
};

// The parts of a redis:// URI.
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
};

// Parses redis://host[:port][/db]; kInvalidInput names what is wrong (rediss://,
// userinfo, bad port or db number, empty host, query strings).
Result<RedisAddress> ParseRedisUri(std::string_view uri);

class RedisEphemeral final : public Ephemeral {
 public:
  // Checks the config and reads the password file; does not connect.
  static Result<std::shared_ptr<RedisEphemeral>> Create(RedisEphemeralConfig config);
  ~RedisEphemeral() override;
  RedisEphemeral(const RedisEphemeral&) = delete;
  RedisEphemeral& operator=(const RedisEphemeral&) = delete;

  Result<void> RecordLogin(std::string_view client_ip, std::string_view user,
                           std::chrono::milliseconds ttl) override;
  Result<std::optional<std::string>> RecentLogin(std::string_view client_ip) override;
  Result<std::vector<RecentLoginRecord>> ListRecentLogins(std::size_t limit) override;

  Result<int64_t> Increment(std::string_view key, std::chrono::milliseconds ttl) override;
  Result<int64_t> Get(std::string_view key) override;
  Result<void> Reset(std::string_view key) override;

  Result<bool> TryLock(std::string_view key, std::string_view owner,
                       std::chrono::milliseconds ttl) override;
  Result<bool> Unlock(std::string_view key, std::string_view owner) override;
  Result<bool> Refresh(std::string_view key, std::string_view owner,
                       std::chrono::milliseconds ttl) override;

  Result<void> Ping() override;

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  struct ReplyDeleter {
    void operator()(redisReply* r) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

  RedisEphemeral(RedisEphemeralConfig config, RedisAddress address, std::string password);

  // Runs one command (binary-safe arguments); an error reply becomes an Error.
  Result<ReplyPtr> Command(std::initializer_list<std::string_view> args);
  // A pooled or new connection (second: whether it came from the pool).
  Result<std::pair<ContextPtr, bool>> Acquire();
  // Returns a healthy connection to the pool, or drops a broken one.
  void Release(ContextPtr ctx, bool healthy);
  Result<ContextPtr> Connect();
  void MarkDown(const std::string& reason);
  void MarkUp();

  std::string Key(std::string_view space, std::string_view key) const;

  const RedisEphemeralConfig config_;
  const RedisAddress address_;
  const std::string password_;  // never logged

  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<ContextPtr> idle_;  // guarded by mu_
  std::size_t open_ = 0;          // connections idle or in use; guarded by mu_
  std::atomic<bool> down_{false};
};

}  // namespace columba::storage
