// credential_check.cc - shared login steps (credential_check.h).
#include "lib/auth/credential_check.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <ctime>

#include "lib/auth/password.h"
#include "lib/net/asio_compat.h"

namespace columba::auth {

namespace {

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
  return s;
}

}  // namespace

std::optional<std::string> StoredPlainPassword(const std::string& stored) {
  for (std::string_view prefix : {"{PLAIN}", "{CLEAR}", "{CLEARTEXT}"}) {
    if (stored.size() < prefix.size()) continue;
    bool match = true;
    for (size_t i = 0; i < prefix.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(stored[i])) != prefix[i]) match = false;
    if (match) return stored.substr(prefix.size());
  }
  return std::nullopt;
}


std::string LoginKey(std::string_view user) {
  return storage::NormalizeAddress(user).value_or(std::string(user));
}

Result<std::optional<storage::Account>> LookupEnabled(storage::Directory& directory, const std::string& address) {
  if (address.empty()) return std::optional<storage::Account>();
  auto a = directory.Lookup(address);
  if (!a && a.error().kind == ErrorKind::kInvalidInput) return std::optional<storage::Account>();
  if (!a) return a;
  if (!a->has_value() || !(*a)->enabled) return std::optional<storage::Account>();
  auto normalized = storage::NormalizeAsciiAddress(address);
  if (!normalized || !storage::IsOwnAddress(**a, *normalized)) return std::optional<storage::Account>();  // catch-all
  return a;
}

ScramSecret DecoyScramSecret(std::string_view name) {
  static const std::string key = RandomBytes(32);
  auto mac = [&name](std::string_view label) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    std::string data = std::string(label) + '\0' + std::string(name);
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
  };
  ScramSecret fake;
  fake.iterations = 4096;
  fake.salt = mac("salt").substr(0, 16);
  fake.stored_key = mac("stored");
  fake.server_key = mac("server");
  return fake;
}

asio::awaitable<void> SleepFor(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(net::kNoThrow);
}

asio::awaitable<void> WaitPenalty(CredentialContext& cc, std::string ip, std::string user_key) {
  Result<int64_t> failures =
      co_await cc.pool.Run([&cc, &ip, &user_key]() -> Result<int64_t> { return cc.guard.RecentFailures(ip, user_key); });
  co_await SleepFor(PenaltyDelay(failures.value_or(0), cc.guard.config()));
}

asio::awaitable<Result<std::optional<storage::Account>>> VerifyPassword(CredentialContext& cc, std::string user,
                                                                        std::string password) {
  std::string address = storage::NormalizeAddress(user).value_or(std::string());
  Result<std::optional<storage::Account>> found =
      co_await cc.pool.Run([&cc, &address] { return LookupEnabled(cc.directory, address); });
  if (!found || !found->has_value()) co_return found;
  const std::string& hash = (**found).password_hash;
  VerifyOptions options;
  options.allow_plain = cc.allow_plain;
  Result<bool> ok = co_await cc.hash_pool.Run([&password, &hash, &options]() -> Result<bool> {
    auto v = auth::VerifyPassword(password, hash, options);
    return v && *v;
  });
  if (!ok) co_return tl::unexpected(ok.error());  // the hashing queue is full: try again later
  if (!*ok) co_return std::optional<storage::Account>();
  co_return found;
}

asio::awaitable<Result<ScramLookup>> LookupScram(CredentialContext& cc, std::string user) {
  std::string address = storage::NormalizeAddress(user).value_or(std::string());
  std::string key = LoginKey(user);
  co_return co_await cc.pool.Run([&cc, &address, &key]() -> Result<ScramLookup> {
    auto a = LookupEnabled(cc.directory, address);
    if (!a) return tl::unexpected(a.error());
    ScramLookup f;
    if (a->has_value() && (*a)->password_hash.rfind("{SCRAM-SHA-256}", 0) == 0) {
      if (auto sec = ParseScramSecret((*a)->password_hash)) {
        f.secret = *sec;
        f.account = std::move(**a);
        return f;
      }
    }
    f.secret = DecoyScramSecret(key);
    return f;
  });
}

asio::awaitable<Result<std::optional<storage::Account>>> VerifyCramMd5(CredentialContext& cc,
                                                                       std::string decoded_response,
                                                                       std::string challenge) {
  auto user = CramMd5User(decoded_response);
  if (!user) co_return std::optional<storage::Account>();
  std::string address = storage::NormalizeAddress(*user).value_or(std::string());
  Result<std::optional<storage::Account>> found =
      co_await cc.pool.Run([&cc, &address] { return LookupEnabled(cc.directory, address); });
  if (!found) co_return found;
  // Accounts without a stored plain password are checked against a random one,
  // so the work (and the answer) is the same as for a wrong digest.
  std::optional<std::string> plain;
  if (found->has_value() && cc.allow_plain) plain = StoredPlainPassword((**found).password_hash);
  std::string password = plain.value_or(RandomBytes(24));
  if (!CramMd5Verify(decoded_response, challenge, password) || !plain) co_return std::optional<storage::Account>();
  co_return found;
}

asio::awaitable<void> RecordFailure(CredentialContext& cc, std::string ip, std::string user_key) {
  co_await cc.pool.Run([&cc, &ip, &user_key]() -> Result<bool> {
    cc.guard.RecordFailure(ip, user_key);
    return true;
  });
  co_await SleepFor(cc.guard.config().failure_delay);
}

asio::awaitable<bool> RecordSuccess(CredentialContext& cc, std::string ip, std::string address, std::string user_key,
                                    bool pop_before_smtp) {
  bool record = pop_before_smtp && !ip.empty() && cc.guard.config().pop_before_smtp_ttl.count() > 0;
  Result<bool> recorded = co_await cc.pool.Run([&cc, &ip, &address, &user_key, record]() -> Result<bool> {
    cc.guard.RecordSuccess(user_key);
    if (address != user_key) cc.guard.RecordSuccess(address);
    return record ? cc.guard.RecordPopBeforeSmtp(ip, address) : true;
  });
  co_return recorded.value_or(false);
}

std::string MakeCramChallenge(std::string_view hostname) {
  std::string r = RandomBytes(8);
  uint64_t n = 0;
  for (char c : r) n = (n << 8) | static_cast<unsigned char>(c);
  return "<" + std::to_string(n) + "." + std::to_string(std::time(nullptr)) + "@" + std::string(hostname) + ">";
}

}  // namespace columba::auth
