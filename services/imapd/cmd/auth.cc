// auth.cc - STARTTLS (RFC 3501 6.2.1), LOGIN (6.2.3) and AUTHENTICATE PLAIN
// (6.2.2, RFC 4616, SASL-IR RFC 4959): the not-authenticated state.
//
// DESCRIPTION
//   Credentials are checked against the directory (Lookup + VerifyPassword on
//   the blocking pool: both block, and hashing costs tens of milliseconds of
//   CPU). A failure of any kind (unknown user, disabled account, wrong
//   password) is answered alike, after auth_failure_delay, with
//   NO [AUTHENTICATIONFAILED]. A directory or metad failure is
//   NO [UNAVAILABLE]. On success the account is ensured in metad (created with
//   its default mailboxes on first login).
//
// NEVER
//   Never accepts a plaintext password on an unencrypted connection from an
//   untrusted network (unless allow_plaintext_auth), never logs a password,
//   never tells an unknown user from a wrong password.
#include "lib/auth/password.h"
#include "lib/auth/sasl.h"
#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "services/imapd/commands.h"

namespace columba::imapd {

using net::kNoThrow;

namespace {

enum class AuthResult { kOk, kFailed, kUnavailable };

asio::awaitable<AuthResult> CheckCredentials(Session& s, std::string user, std::string password) {
  ServerContext& ctx = s.ctx();
  std::string address = storage::NormalizeAddress(user).value_or(std::string());
  // Lookup and verification in one worker call; an empty optional is "no such
  // user, disabled, or wrong password", told apart by nobody.
  Result<std::optional<storage::Account>> found = co_await ctx.pool.Run(
      [&ctx, &address, &password]() -> Result<std::optional<storage::Account>> {
        if (address.empty()) return std::optional<storage::Account>();
        auto a = ctx.directory.Lookup(address);
        if (!a && a.error().kind == ErrorKind::kInvalidInput) return std::optional<storage::Account>();
        if (!a) return a;
        if (!a->has_value() || !(*a)->enabled) return std::optional<storage::Account>();
        auto ok = auth::VerifyPassword(password, (*a)->password_hash);
        if (!ok || !*ok) return std::optional<storage::Account>();
        return a;
      });
  if (!found) {
    log::Warn("directory lookup failed", {{"error", found.error().message}});
    ctx.metrics.logins.Add({{"result", "error"}}).Increment();
    co_return AuthResult::kUnavailable;
  }
  if (!found->has_value()) {
    ctx.metrics.logins.Add({{"result", "failed"}}).Increment();
    log::Info("login failed", {{"peer", s.peer_ip()}});
    asio::steady_timer delay(co_await asio::this_coro::executor, ctx.cfg.auth_failure_delay);
    co_await delay.async_wait(kNoThrow);
    co_return AuthResult::kFailed;
  }
  const storage::Account& account = **found;
  v1::EnsureAccountRequest req;
  req.set_address(account.address);
  req.set_storage_limit(account.quota_bytes);
  req.set_message_limit(account.quota_messages);
  auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::EnsureAccount, std::move(req));
  if (!r) {
    log::Warn("EnsureAccount failed", {{"error", r.error().message}});
    ctx.metrics.logins.Add({{"result", "error"}}).Increment();
    co_return AuthResult::kUnavailable;
  }
  ctx.metrics.logins.Add({{"result", "ok"}}).Increment();
  log::Info("login", {{"peer", s.peer_ip()}, {"user", account.address}});
  s.SetAuthenticated(account.address, r->account().account_id());
  co_return AuthResult::kOk;
}

asio::awaitable<void> FinishLogin(Session& s, std::string tag, std::string user, std::string password) {
  const AuthResult result = co_await CheckCredentials(s, std::move(user), std::move(password));
  switch (result) {
    case AuthResult::kOk:
      co_await s.Done(tag, "OK", "[CAPABILITY " + s.Capabilities() + "] Logged in.");
      break;
    case AuthResult::kFailed:
      co_await s.Done(tag, "NO", std::string(imap::kCodeAuthenticationFailed) + " Authentication failed.");
      break;
    case AuthResult::kUnavailable:
      co_await s.Done(tag, "NO", std::string(imap::kCodeUnavailable) + " Temporary authentication failure, try again later.");
      break;
  }
}

asio::awaitable<bool> RefusePlaintext(Session& s, const std::string& tag) {
  if (s.PlaintextAuthAllowed()) co_return false;
  s.ctx().metrics.logins.Add({{"result", "refused"}}).Increment();
  co_await s.Done(tag, "NO",
                  std::string(imap::kCodePrivacyRequired) +
                      " Plaintext authentication disallowed on non-secure connections.");
  co_return true;
}

}  // namespace

asio::awaitable<void> CmdStartTls(Session& s, const imap::Command& cmd) {
  if (s.tls()) co_return co_await s.Done(cmd.tag, "BAD", "TLS is already active.");
  if (!s.CanStartTls()) co_return co_await s.Done(cmd.tag, "NO", "TLS is not configured.");
  co_await s.Done(cmd.tag, "OK", "Begin TLS negotiation now.");
  if (s.closing()) co_return;
  co_await s.UpgradeToTls();
}

asio::awaitable<void> CmdLogin(Session& s, const imap::Command& cmd) {
  if (co_await RefusePlaintext(s, cmd.tag)) co_return;
  const auto& args = std::get<imap::LoginArgs>(cmd.args);
  co_await FinishLogin(s, cmd.tag, args.user, args.password);
}

asio::awaitable<void> CmdAuthenticate(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::AuthenticateArgs>(cmd.args);
  if (args.mechanism != "PLAIN")
    co_return co_await s.Done(cmd.tag, "NO", "[CANNOT] Unsupported authentication mechanism.");
  if (co_await RefusePlaintext(s, cmd.tag)) co_return;
  std::string response;
  if (args.initial_response) {
    response = *args.initial_response == "=" ? "" : *args.initial_response;
  } else {
    s.Queue("+ \r\n");
    s.parser().ExpectSaslLine();
    if (!co_await s.Flush()) co_return;
    auto ev = co_await s.NextEvent();
    if (!ev) {
      s.Close();
      co_return;
    }
    if (ev->kind != imap::ParseEvent::Kind::kSaslLine)
      co_return co_await s.Done(cmd.tag, "BAD", "Expected a SASL response.");
    response = ev->line;
    if (response == "*") co_return co_await s.Done(cmd.tag, "BAD", "Authentication aborted.");
  }
  auto decoded = auth::Base64Decode(response);
  if (!decoded) co_return co_await s.Done(cmd.tag, "BAD", "Invalid base64 in SASL response.");
  auto creds = auth::DecodePlain(*decoded);
  if (!creds) co_return co_await s.Done(cmd.tag, "BAD", "Invalid PLAIN response.");
  if (!creds->authzid.empty() && creds->authzid != creds->authcid) {
    auto a = storage::NormalizeAddress(creds->authzid), b = storage::NormalizeAddress(creds->authcid);
    if (!a || !b || *a != *b)
      co_return co_await s.Done(cmd.tag, "NO", std::string(imap::kCodeAuthorizationFailed) +
                                                   " Acting as another user is not allowed.");
  }
  co_await FinishLogin(s, cmd.tag, creds->authcid, creds->password);
}

}  // namespace columba::imapd
