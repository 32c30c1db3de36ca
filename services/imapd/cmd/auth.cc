// auth.cc - STARTTLS (RFC 3501 6.2.1), LOGIN (6.2.3) and AUTHENTICATE (6.2.2)
// with PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and SCRAM-SHA-256
// (RFC 5802, RFC 7677), SASL-IR (RFC 4959): the not-authenticated state.
//
// DESCRIPTION
//   The login steps themselves (penalty, lookup, verification, bookkeeping)
//   are lib/auth/credential_check.h, shared with smtpd and pop3d.
//   Every attempt first waits the penalty for recent failures of this client
//   address or user (lib/auth/login_guard.h: counters in Redis, so every
//   replica sees them; doubling from imap.auth_penalty_base up to
//   imap.auth_penalty_max). Credentials are then checked against the
//   directory (Lookup + VerifyPassword on the blocking pool). A failure of any
//   kind (unknown user, disabled account, wrong password, bad SCRAM proof) is
//   counted and answered alike, after auth_failure_delay, with
//   NO [AUTHENTICATIONFAILED]. A directory or metad failure is
//   NO [UNAVAILABLE]. On success: the per-user connection limit
//   (NO [LIMIT]), the account ensured in metad (created with its default
//   mailboxes on first login), the user's failure counter reset and, for a
//   client outside the trusted networks, a POP-before-SMTP record
//   (client IP -> user) written for imap.pop_before_smtp_ttl.
//
//   SCRAM-SHA-256 needs a {SCRAM-SHA-256} secret in the directory. For an
//   unknown user, or one whose directory entry holds another scheme, the
//   exchange runs on with a made-up secret derived from a per-process key and
//   the name, so the answer never tells which users exist.
//
// NEVER
//   Never accepts a plaintext password on an unencrypted connection from an
//   untrusted network (unless allow_plaintext_auth), never logs a password or
//   a SASL message, never tells an unknown user from a wrong password.
#include <openssl/rand.h>

#include "lib/auth/credential_check.h"
#include "lib/auth/sasl.h"
#include "lib/base/log.h"
#include "lib/imap/format.h"
#include "services/imapd/commands.h"

namespace columba::imapd {

using net::kNoThrow;

namespace {

enum class AuthResult { kOk, kFailed, kUnavailable, kLimit };

using auth::LoginKey;

auth::CredentialContext Credentials(ServerContext& ctx) {
  return auth::CredentialContext{ctx.directory, ctx.guard, ctx.pool, ctx.hash_pool};
}

// Redis calls of the login guard that failed (it fails open) into the error metric.
void CountGuardErrors(ServerContext& ctx) {
  if (uint64_t n = ctx.guard.TakeErrors()) ctx.metrics.errors.Add({{"kind", "redis"}}).Increment(static_cast<double>(n));
}

// The penalty for recent failures of this address (untrusted only) or user.
asio::awaitable<void> WaitPenalty(Session& s, std::string user_key) {
  auto cc = Credentials(s.ctx());
  std::string ip = s.trusted() ? std::string() : s.peer_ip();  // a named copy: GCC 12 and temporaries in co_await
  co_await auth::WaitPenalty(cc, ip, user_key);
  CountGuardErrors(s.ctx());
}

// After the credentials were judged: count, delay, or log in.
asio::awaitable<AuthResult> Conclude(Session& s, std::string user_key, std::optional<storage::Account> account) {
  ServerContext& ctx = s.ctx();
  std::string ip = s.trusted() ? std::string() : s.peer_ip();
  if (!account) {
    ctx.metrics.logins.Add({{"result", "failed"}}).Increment();
    log::Info("login failed", {{"peer", s.peer_ip()}});
    auto cc = Credentials(ctx);
    co_await auth::RecordFailure(cc, ip, user_key);
    CountGuardErrors(ctx);
    co_return AuthResult::kFailed;
  }
  auto slot = ctx.conn_limits.Acquire(net::ConnectionLimits::kUser, account->address, ctx.cfg.max_connections_per_user);
  if (!slot) {
    ctx.metrics.logins.Add({{"result", "limit"}}).Increment();
    log::Info("too many connections for user", {{"peer", s.peer_ip()}});
    co_return AuthResult::kLimit;
  }
  // The account's mailstore: a read (GetAccount) when it exists with the
  // directory's quota limits - the usual login - and EnsureAccount (a committed
  // write: creates the mailstore, refreshes the limits) only otherwise.
  uint64_t account_id = 0;
  v1::GetAccountRequest get;
  get.set_address(account->address);
  auto found = co_await ctx.metad.Call(&v1::Metadata::Stub::async::GetAccount, std::move(get));
  if (found && found->account().quota().storage_limit() == account->quota_bytes &&
      found->account().quota().message_limit() == account->quota_messages) {
    account_id = found->account().account_id();
  } else if (found || found.error().kind == ErrorKind::kNotFound) {
    v1::EnsureAccountRequest req;
    req.set_address(account->address);
    req.set_storage_limit(account->quota_bytes);
    req.set_message_limit(account->quota_messages);
    auto r = co_await ctx.metad.Call(&v1::Metadata::Stub::async::EnsureAccount, std::move(req));
    if (r) account_id = r->account().account_id();
    else found = tl::unexpected(r.error());
  }
  if (account_id == 0) {
    log::Warn("account lookup in metad failed", {{"error", found ? std::string("no id") : found.error().message}});
    ctx.metrics.logins.Add({{"result", "error"}}).Increment();
    co_return AuthResult::kUnavailable;
  }
  std::string address = account->address;
  auto cc = Credentials(ctx);
  bool recorded = co_await auth::RecordSuccess(cc, ip, address, user_key, !s.trusted());
  CountGuardErrors(ctx);
  if (!recorded) ctx.metrics.errors.Add({{"kind", "pop_before_smtp"}}).Increment();
  ctx.metrics.logins.Add({{"result", "ok"}}).Increment();
  log::Info("login", {{"peer", s.peer_ip()}, {"user", address}});
  s.SetAuthenticated(address, account_id, std::move(*slot));
  co_return AuthResult::kOk;
}

// Password check (LOGIN, AUTHENTICATE PLAIN / LOGIN).
asio::awaitable<AuthResult> CheckCredentials(Session& s, std::string user, std::string password) {
  ServerContext& ctx = s.ctx();
  std::string user_key = LoginKey(user);
  co_await WaitPenalty(s, user_key);
  // Lookup on the worker pool (network), verification on the hashing pool
  // (CPU). An empty optional is "no such user, disabled, or wrong password",
  // told apart by nobody.
  auto cc = Credentials(ctx);
  auto found = co_await auth::VerifyPassword(cc, std::move(user), std::move(password));
  if (!found) {
    log::Warn("directory lookup failed", {{"error", found.error().message}});
    ctx.metrics.logins.Add({{"result", "error"}}).Increment();
    co_return AuthResult::kUnavailable;
  }
  co_return co_await Conclude(s, std::move(user_key), std::move(*found));
}

asio::awaitable<void> Reply(Session& s, std::string tag, AuthResult result) {
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
    case AuthResult::kLimit:
      co_await s.Done(tag, "NO", std::string(imap::kCodeLimit) + " Too many connections for this user.");
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

// One SASL round: "+ base64(challenge)", then the client's line decoded. nullopt
// when the exchange ended (aborted with "*", bad base64, connection closed):
// the tagged reply has then been sent.
asio::awaitable<std::optional<std::string>> SaslRound(Session& s, std::string tag, std::string challenge) {
  s.Queue("+ " + auth::Base64Encode(challenge) + "\r\n");
  s.parser().ExpectSaslLine();
  if (!co_await s.Flush()) co_return std::nullopt;
  auto ev = co_await s.NextEvent();
  if (!ev) {
    s.Close();
    co_return std::nullopt;
  }
  if (ev->kind != imap::ParseEvent::Kind::kSaslLine) {
    co_await s.Done(tag, "BAD", "Expected a SASL response.");
    co_return std::nullopt;
  }
  if (ev->line == "*") {
    co_await s.Done(tag, "BAD", "Authentication aborted.");
    co_return std::nullopt;
  }
  auto decoded = auth::Base64Decode(ev->line);
  if (!decoded) {
    co_await s.Done(tag, "BAD", "Invalid base64 in SASL response.");
    co_return std::nullopt;
  }
  co_return std::move(*decoded);
}

// The initial response (SASL-IR; "=" is empty) decoded, or a round with an empty challenge.
asio::awaitable<std::optional<std::string>> FirstResponse(Session& s, std::string tag, const imap::AuthenticateArgs& a) {
  if (!a.initial_response) co_return co_await SaslRound(s, tag, "");
  if (*a.initial_response == "=") co_return std::string();
  auto decoded = auth::Base64Decode(*a.initial_response);
  if (!decoded) {
    co_await s.Done(tag, "BAD", "Invalid base64 in SASL response.");
    co_return std::nullopt;
  }
  co_return std::move(*decoded);
}

asio::awaitable<void> AuthPlain(Session& s, std::string tag, const imap::AuthenticateArgs& args) {
  auto response = co_await FirstResponse(s, tag, args);
  if (!response) co_return;
  auto creds = auth::DecodePlain(*response);
  if (!creds) co_return co_await s.Done(tag, "BAD", "Invalid PLAIN response.");
  if (!creds->authzid.empty() && creds->authzid != creds->authcid) {
    auto a = storage::NormalizeAddress(creds->authzid), b = storage::NormalizeAddress(creds->authcid);
    if (!a || !b || *a != *b)
      co_return co_await s.Done(tag, "NO", std::string(imap::kCodeAuthorizationFailed) +
                                               " Acting as another user is not allowed.");
  }
  AuthResult r = co_await CheckCredentials(s, creds->authcid, creds->password);
  co_await Reply(s, tag, r);
}

// LOGIN: "Username:" then "Password:" challenges (an initial response is the user name).
asio::awaitable<void> AuthLogin(Session& s, std::string tag, const imap::AuthenticateArgs& args) {
  std::optional<std::string> user;
  if (args.initial_response) {
    user = co_await FirstResponse(s, tag, args);
  } else {
    user = co_await SaslRound(s, tag, "Username:");
  }
  if (!user) co_return;
  auto password = co_await SaslRound(s, tag, "Password:");
  if (!password) co_return;
  AuthResult r = co_await CheckCredentials(s, *user, *password);
  co_await Reply(s, tag, r);
}

asio::awaitable<void> AuthScram(Session& s, std::string tag, const imap::AuthenticateArgs& args) {
  ServerContext& ctx = s.ctx();
  auto first = co_await FirstResponse(s, tag, args);
  if (!first) co_return;
  auto scram = std::make_unique<auth::ScramSha256Server>();
  auto user = scram->ReceiveClientFirst(*first);
  if (!user) co_return co_await s.Done(tag, "BAD", "Invalid SCRAM client-first-message.");
  if (!scram->authzid().empty() && LoginKey(scram->authzid()) != LoginKey(*user))
    co_return co_await s.Done(tag, "NO", std::string(imap::kCodeAuthorizationFailed) +
                                             " Acting as another user is not allowed.");
  std::string user_key = LoginKey(*user);
  co_await WaitPenalty(s, user_key);
  auto cc = Credentials(ctx);
  auto found = co_await auth::LookupScram(cc, *user);
  if (!found) {
    log::Warn("directory lookup failed", {{"error", found.error().message}});
    ctx.metrics.logins.Add({{"result", "error"}}).Increment();
    co_return co_await Reply(s, tag, AuthResult::kUnavailable);
  }
  std::string nonce(18, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size()));
  std::string server_first = scram->ServerFirst(found->secret, auth::Base64Encode(nonce));
  auto final_msg = co_await SaslRound(s, tag, server_first);
  if (!final_msg) co_return;
  auto server_final = scram->ReceiveClientFinal(*final_msg);
  if (!server_final || !found->account) {
    AuthResult r = co_await Conclude(s, user_key, std::nullopt);
    co_return co_await Reply(s, tag, r);
  }
  // RFC 5802: the server's signature goes in a last challenge; the client answers empty.
  auto ack = co_await SaslRound(s, tag, *server_final);
  if (!ack) co_return;
  if (!ack->empty()) co_return co_await s.Done(tag, "BAD", "Expected an empty SASL response.");
  AuthResult r = co_await Conclude(s, user_key, std::move(found->account));
  co_await Reply(s, tag, r);
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
  AuthResult r = co_await CheckCredentials(s, args.user, args.password);
  co_await Reply(s, cmd.tag, r);
}

asio::awaitable<void> CmdAuthenticate(Session& s, const imap::Command& cmd) {
  const auto& args = std::get<imap::AuthenticateArgs>(cmd.args);
  if (!s.MechanismOffered(args.mechanism))
    co_return co_await s.Done(cmd.tag, "NO", "[CANNOT] Unsupported authentication mechanism.");
  if (co_await RefusePlaintext(s, cmd.tag)) co_return;
  if (args.mechanism == "PLAIN") co_return co_await AuthPlain(s, cmd.tag, args);
  if (args.mechanism == "LOGIN") co_return co_await AuthLogin(s, cmd.tag, args);
  co_await AuthScram(s, cmd.tag, args);
}

}  // namespace columba::imapd
