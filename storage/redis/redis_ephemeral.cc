// redis_ephemeral.cc - RedisEphemeral: see redis_ephemeral.h.
//
// Each operation is one round trip: a plain command (SET/GET/DEL/PING) or a small Lua
// script run by EVAL, which Redis executes atomically. Arguments are passed with
// redisCommandArgv (length-counted), so keys and values may hold any byte.
#include "storage/redis/redis_ephemeral.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <fstream>
#include <sstream>
#include <utility>

#include "lib/base/log.h"

namespace columba::storage {
namespace {

// INCR, and start the window when the counter is new. The PTTL check also gives a
// window to a counter that somehow has none, so no counter can live forever.
constexpr std::string_view kIncrementScript =
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 or redis.call('PTTL', KEYS[1]) == -1 then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "return n\n";

// DEL only when the lock holds ARGV[1] (the owner token).
constexpr std::string_view kUnlockScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

// PEXPIRE only when the lock holds ARGV[1] (the owner token).
constexpr std::string_view kRefreshScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n";

// Error replies that mean "this server cannot serve now; try later (or elsewhere)".
bool IsUnavailableReply(std::string_view msg) {
  for (std::string_view word : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN",
                                "CLUSTERDOWN", "NOAUTH", "WRONGPASS"}) {
    if (msg.substr(0, word.size()) == word &&
        (msg.size() == word.size() || msg[word.size()] == ' '))
      return true;
  }
  return false;
}

// Error replies after which this connection must not be reused (it may point at a
// demoted primary, or lost its authentication).
bool DropsConnection(std::string_view msg) {
  for (std::string_view word : {"READONLY", "MASTERDOWN", "NOAUTH", "WRONGPASS"})
    if (msg.substr(0, word.size()) == word) return true;
  return false;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Sends one command; nullptr on a transport failure (ctx->err says which).
redisReply* Send(redisContext* ctx, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
}

bool ParseInt(std::string_view s, int64_t& out, int64_t min, int64_t max) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n < min || n > max)
    return false;
  out = n;
  return true;
}

std::string_view ReplyText(const redisReply* r) { return std::string_view(r->str, r->len); }

}  // namespace

Result<RedisAddress> ParseRedisUri(std::string_view uri) {
  constexpr std::string_view kScheme = "redis://";
  if (uri.substr(0, 9) == "rediss://")
    return Fail(ErrorKind::kInvalidInput, "redis uri: TLS (rediss://) is not supported");
  if (uri.substr(0, kScheme.size()) != kScheme)
    return Fail(ErrorKind::kInvalidInput, "redis uri must start with redis://");
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos)
    return Fail(ErrorKind::kInvalidInput, "redis uri: query and fragment are not supported");
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = rest.substr(authority.size());
  if (authority.find('@') != std::string_view::npos)
    return Fail(ErrorKind::kInvalidInput,
                "redis uri: no user or password in the uri; use password_file");
  RedisAddress out;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return Fail(ErrorKind::kInvalidInput, "redis uri: unterminated [IPv6 address]");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Fail(ErrorKind::kInvalidInput, "redis uri: junk after ]");
      port_text = after.substr(1);
      if (port_text.empty()) return Fail(ErrorKind::kInvalidInput, "redis uri: empty port");
    }
  } else {
    auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos)
      return Fail(ErrorKind::kInvalidInput, "redis uri: write an IPv6 host as [addr]");
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Fail(ErrorKind::kInvalidInput, "redis uri: empty port");
    }
  }
  if (out.host.empty()) return Fail(ErrorKind::kInvalidInput, "redis uri: empty host");
  if (!port_text.empty()) {
    int64_t port = 0;
    if (!ParseInt(port_text, port, 1, 65535))
      return Fail(ErrorKind::kInvalidInput, "redis uri: port must be 1..65535");
    out.port = static_cast<int>(port);
  }
  if (path.size() > 1) {
    int64_t db = 0;
    if (!ParseInt(path.substr(1), db, 0, 1'000'000))
      return Fail(ErrorKind::kInvalidInput, "redis uri: database must be a number (/0, /1, ...)");
    out.db = static_cast<int>(db);
  }
  return out;
}

void RedisEphemeral::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }
void RedisEphemeral::ReplyDeleter::operator()(redisReply* r) const { freeReplyObject(r); }

Result<std::shared_ptr<RedisEphemeral>> RedisEphemeral::Create(RedisEphemeralConfig config) {
  auto address = ParseRedisUri(config.uri);
  if (!address) return tl::unexpected(address.error());
  if (config.pool_size < 1) return Fail(ErrorKind::kInvalidInput, "redis pool_size must be >= 1");
  if (config.connect_timeout.count() < 1 || config.command_timeout.count() < 1)
    return Fail(ErrorKind::kInvalidInput, "redis timeouts must be at least 1 ms");
  if (config.key_prefix.size() > 64)
    return Fail(ErrorKind::kInvalidInput, "redis key_prefix is longer than 64 bytes");
  if (config.client_name.size() > 64)
    return Fail(ErrorKind::kInvalidInput, "redis client_name is longer than 64 bytes");
  for (char c : config.client_name)
    if (c <= ' ' || c > '~')
      return Fail(ErrorKind::kInvalidInput, "redis client_name must be printable ASCII without spaces");
  std::string password;
  if (!config.password_file.empty()) {
    std::ifstream in(config.password_file, std::ios::binary);
    if (!in)
      return Fail(ErrorKind::kInvalidInput, "cannot read redis password_file " + config.password_file);
    std::ostringstream s;
    s << in.rdbuf();
    password = s.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
      password.pop_back();
    if (password.empty())
      return Fail(ErrorKind::kInvalidInput, "redis password_file " + config.password_file + " is empty");
  }
  RedisAddress addr = *address;
  return std::shared_ptr<RedisEphemeral>(
      new RedisEphemeral(std::move(config), std::move(addr), std::move(password)));
}

RedisEphemeral::RedisEphemeral(RedisEphemeralConfig config, RedisAddress address,
                               std::string password)
    : config_(std::move(config)), address_(std::move(address)), password_(std::move(password)) {}

RedisEphemeral::~RedisEphemeral() = default;

std::string RedisEphemeral::Key(std::string_view space, std::string_view key) const {
  std::string out;
  out.reserve(config_.key_prefix.size() + space.size() + key.size());
  out.append(config_.key_prefix);
  out.append(space);
  out.append(key);
  return out;
}

void RedisEphemeral::MarkDown(const std::string& reason) {
  if (!down_.exchange(true))
    log::Warn("redis unavailable", {{"host", address_.host}, {"port", address_.port}, {"reason", reason}});
}

void RedisEphemeral::MarkUp() {
  if (down_.exchange(false))
    log::Info("redis reachable again", {{"host", address_.host}, {"port", address_.port}});
}

Result<RedisEphemeral::ContextPtr> RedisEphemeral::Connect() {
  const std::string where = "redis " + address_.host + ":" + std::to_string(address_.port);
  ContextPtr ctx(redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                         ToTimeval(config_.connect_timeout)));
  if (!ctx) return Fail(ErrorKind::kUnavailable, where + ": cannot allocate a connection");
  if (ctx->err) {
    std::string reason = std::string("connect: ") + ctx->errstr;
    MarkDown(reason);
    return Fail(ErrorKind::kUnavailable, where + ": " + reason);
  }
  if (redisSetTimeout(ctx.get(), ToTimeval(config_.command_timeout)) != REDIS_OK) {
    std::string reason = std::string("setting the command timeout: ") + ctx->errstr;
    MarkDown(reason);
    return Fail(ErrorKind::kUnavailable, where + ": " + reason);
  }
  redisEnableKeepAlive(ctx.get());  // best effort: finds dead peers on idle connections

  // AUTH (never logged with its argument) and SELECT, each a round trip that must say OK.
  auto handshake = [&](std::initializer_list<std::string_view> args,
                       const char* what) -> Result<void> {
    ReplyPtr reply(Send(ctx.get(), args));
    std::string reason;
    if (!reply)
      reason = std::string(what) + ": " + ctx->errstr;
    else if (reply->type == REDIS_REPLY_ERROR)
      reason = std::string(what) + " refused: " + std::string(ReplyText(reply.get()));
    else if (reply->type != REDIS_REPLY_STATUS)
      reason = std::string(what) + ": unexpected reply type " + std::to_string(reply->type);
    else
      return {};
    MarkDown(reason);
    return Fail(ErrorKind::kUnavailable, where + ": " + reason);
  };
  if (!password_.empty()) {
    if (auto r = handshake({"AUTH", password_}, "AUTH"); !r) return tl::unexpected(r.error());
  }
  if (address_.db != 0) {
    const std::string db = std::to_string(address_.db);
    if (auto r = handshake({"SELECT", db}, "SELECT"); !r) return tl::unexpected(r.error());
  }
  if (!config_.client_name.empty()) {
    if (auto r = handshake({"CLIENT", "SETNAME", config_.client_name}, "CLIENT SETNAME"); !r)
      return tl::unexpected(r.error());
  }
  log::Debug("redis connected", {{"host", address_.host}, {"port", address_.port}});
  return ctx;
}

Result<std::pair<RedisEphemeral::ContextPtr, bool>> RedisEphemeral::Acquire() {
  std::unique_lock lock(mu_);
  const auto deadline =
      std::chrono::steady_clock::now() + config_.connect_timeout + config_.command_timeout;
  for (;;) {
    if (!idle_.empty()) {
      ContextPtr ctx = std::move(idle_.back());
      idle_.pop_back();
      return std::make_pair(std::move(ctx), true);
    }
    if (open_ < config_.pool_size) {
      ++open_;
      break;
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= config_.pool_size)
      return Fail(ErrorKind::kUnavailable,
                  "redis: all " + std::to_string(config_.pool_size) + " connections busy");
  }
  lock.unlock();
  auto ctx = Connect();
  if (!ctx) {
    lock.lock();
    --open_;
    freed_.notify_one();
    return tl::unexpected(ctx.error());
  }
  return std::make_pair(std::move(*ctx), false);
}

void RedisEphemeral::Release(ContextPtr ctx, bool healthy) {
  ContextPtr drop;
  {
    std::lock_guard lock(mu_);
    if (healthy) {
      idle_.push_back(std::move(ctx));
    } else {
      drop = std::move(ctx);
      --open_;
    }
  }
  freed_.notify_one();
  // `drop` closes its socket here, outside the lock.
}

Result<RedisEphemeral::ReplyPtr> RedisEphemeral::Command(std::initializer_list<std::string_view> args) {
  const std::string where = "redis " + address_.host + ":" + std::to_string(address_.port);
  const std::string_view name = *args.begin();
  for (int attempt = 0;; ++attempt) {
    auto acquired = Acquire();
    if (!acquired) return tl::unexpected(acquired.error());
    auto [ctx, pooled] = std::move(*acquired);
    ReplyPtr reply(Send(ctx.get(), args));
    if (!reply) {
      const int err = ctx->err;
      const std::string errstr = ctx->errstr;
      Release(std::move(ctx), false);
      // A pooled connection the server closed while it sat idle (restart, idle timeout):
      // the command never reached a live server, so one retry on a new connection is safe.
      // Never after a timeout: the command may have run.
      const bool closed_by_server =
          err == REDIS_ERR_EOF ||
          (err == REDIS_ERR_IO && (errstr.find("reset") != std::string::npos ||
                                   errstr.find("Broken pipe") != std::string::npos));
      if (attempt == 0 && pooled && closed_by_server) {
        log::Debug("redis connection closed by server; retrying once", {{"command", name}});
        continue;
      }
      // hiredis reports SO_RCVTIMEO/SO_SNDTIMEO expiring as EAGAIN's text.
      const std::string reason =
          errstr.find("temporarily unavailable") != std::string::npos
              ? "timed out after " + std::to_string(config_.command_timeout.count()) + " ms"
              : errstr;
      MarkDown(reason);
      return Fail(ErrorKind::kUnavailable, where + ": " + std::string(name) + ": " + reason);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      const std::string msg(ReplyText(reply.get()).substr(0, 200));
      Release(std::move(ctx), !DropsConnection(msg));
      log::Debug("redis error reply", {{"command", name}, {"error", msg}});
      if (IsUnavailableReply(msg)) {
        MarkDown(msg);
        return Fail(ErrorKind::kUnavailable, where + ": " + msg);
      }
      return Fail(ErrorKind::kInternal, where + ": " + std::string(name) + ": " + msg);
    }
    Release(std::move(ctx), true);
    MarkUp();
    return reply;
  }
}

// ---- POP-before-SMTP

Result<void> RedisEphemeral::RecordLogin(std::string_view client_ip, std::string_view user,
                                         std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("client ip", client_ip); !r) return r;
  if (auto r = CheckEphemeralArg("user", user); !r) return r;
  if (auto r = CheckEphemeralTtl(ttl); !r) return r;
  const std::string key = Key("pbs:", client_ip);
  const std::string ms = std::to_string(ttl.count());
  auto reply = Command({"SET", key, user, "PX", ms});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type != REDIS_REPLY_STATUS)
    return Fail(ErrorKind::kInternal, "redis SET: unexpected reply type");
  return {};
}

Result<std::optional<std::string>> RedisEphemeral::RecentLogin(std::string_view client_ip) {
  if (auto r = CheckEphemeralArg("client ip", client_ip); !r) return tl::unexpected(r.error());
  const std::string key = Key("pbs:", client_ip);
  auto reply = Command({"GET", key});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type == REDIS_REPLY_NIL) return std::optional<std::string>();
  if ((*reply)->type != REDIS_REPLY_STRING)
    return Fail(ErrorKind::kInternal, "redis GET: unexpected reply type");
  return std::optional<std::string>(std::string(ReplyText(reply->get())));
}

namespace {
// A SCAN MATCH pattern that matches `literal` exactly (glob characters escaped).
std::string GlobEscape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

Result<std::vector<RecentLoginRecord>> RedisEphemeral::ListRecentLogins(std::size_t limit) {
  const std::string prefix = Key("pbs:", "");
  const std::string pattern = GlobEscape(prefix) + "*";
  std::vector<RecentLoginRecord> out;
  std::string cursor = "0";
  do {
    auto reply = Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "500"});
    if (!reply) return tl::unexpected(reply.error());
    const redisReply* r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY)
      return Fail(ErrorKind::kInternal, "redis SCAN: unexpected reply type");
    cursor = std::string(ReplyText(r->element[0]));
    std::vector<std::string> keys;
    for (size_t i = 0; i < r->element[1]->elements; ++i) keys.emplace_back(ReplyText(r->element[1]->element[i]));
    for (const auto& key : keys) {
      if (out.size() >= limit) return out;
      auto user = Command({"GET", key});
      if (!user) return tl::unexpected(user.error());
      if ((*user)->type != REDIS_REPLY_STRING) continue;  // expired since SCAN saw it
      auto pttl = Command({"PTTL", key});
      if (!pttl) return tl::unexpected(pttl.error());
      if ((*pttl)->type != REDIS_REPLY_INTEGER || (*pttl)->integer <= 0) continue;
      out.push_back(RecentLoginRecord{key.substr(prefix.size()), std::string(ReplyText(user->get())),
                                      std::chrono::milliseconds((*pttl)->integer)});
    }
  } while (cursor != "0" && out.size() < limit);
  return out;
}

// ---- Counters

Result<int64_t> RedisEphemeral::Increment(std::string_view key, std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralTtl(ttl); !r) return tl::unexpected(r.error());
  const std::string k = Key("cnt:", key);
  const std::string ms = std::to_string(ttl.count());
  auto reply = Command({"EVAL", kIncrementScript, "1", k, ms});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type != REDIS_REPLY_INTEGER)
    return Fail(ErrorKind::kInternal, "redis increment: unexpected reply type");
  return static_cast<int64_t>((*reply)->integer);
}

Result<int64_t> RedisEphemeral::Get(std::string_view key) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  const std::string k = Key("cnt:", key);
  auto reply = Command({"GET", k});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type == REDIS_REPLY_NIL) return int64_t{0};
  int64_t n = 0;
  if ((*reply)->type != REDIS_REPLY_STRING ||
      !ParseInt(ReplyText(reply->get()), n, INT64_MIN, INT64_MAX))
    return Fail(ErrorKind::kInternal, "redis counter holds a value that is not an integer");
  return n;
}

Result<void> RedisEphemeral::Reset(std::string_view key) {
  if (auto r = CheckEphemeralArg("key", key); !r) return r;
  const std::string k = Key("cnt:", key);
  auto reply = Command({"DEL", k});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type != REDIS_REPLY_INTEGER)
    return Fail(ErrorKind::kInternal, "redis DEL: unexpected reply type");
  return {};
}

// ---- Locks

Result<bool> RedisEphemeral::TryLock(std::string_view key, std::string_view owner,
                                     std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralArg("owner", owner); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralTtl(ttl); !r) return tl::unexpected(r.error());
  const std::string k = Key("lock:", key);
  const std::string ms = std::to_string(ttl.count());
  auto reply = Command({"SET", k, owner, "NX", "PX", ms});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type == REDIS_REPLY_NIL) return false;
  if ((*reply)->type == REDIS_REPLY_STATUS) return true;
  return Fail(ErrorKind::kInternal, "redis SET NX: unexpected reply type");
}

Result<bool> RedisEphemeral::Unlock(std::string_view key, std::string_view owner) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralArg("owner", owner); !r) return tl::unexpected(r.error());
  const std::string k = Key("lock:", key);
  auto reply = Command({"EVAL", kUnlockScript, "1", k, owner});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type != REDIS_REPLY_INTEGER)
    return Fail(ErrorKind::kInternal, "redis unlock: unexpected reply type");
  return (*reply)->integer == 1;
}

Result<bool> RedisEphemeral::Refresh(std::string_view key, std::string_view owner,
                                     std::chrono::milliseconds ttl) {
  if (auto r = CheckEphemeralArg("key", key); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralArg("owner", owner); !r) return tl::unexpected(r.error());
  if (auto r = CheckEphemeralTtl(ttl); !r) return tl::unexpected(r.error());
  const std::string k = Key("lock:", key);
  const std::string ms = std::to_string(ttl.count());
  auto reply = Command({"EVAL", kRefreshScript, "1", k, owner, ms});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type != REDIS_REPLY_INTEGER)
    return Fail(ErrorKind::kInternal, "redis refresh: unexpected reply type");
  return (*reply)->integer == 1;
}

// ---- Health

Result<void> RedisEphemeral::Ping() {
  auto reply = Command({"PING"});
  if (!reply) return tl::unexpected(reply.error());
  if ((*reply)->type != REDIS_REPLY_STATUS || ReplyText(reply->get()) != "PONG")
    return Fail(ErrorKind::kInternal, "redis PING: unexpected reply");
  return {};
}

}  // namespace columba::storage
