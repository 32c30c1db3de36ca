// auth.cc - the AUTHORIZATION state: CAPA (RFC 2449), STLS (RFC 2595), USER/PASS
// and APOP (RFC 1939 7), AUTH (RFC 5034) with PLAIN, LOGIN, CRAM-MD5 and
// SCRAM-SHA-256; then opening the maildrop (lock, snapshot) and the
// POP-before-SMTP record.
//
// DESCRIPTION
//   The login steps (penalty wait, directory lookup, verification, counters)
//   are lib/auth/credential_check.h, shared with imapd and smtpd. Every
//   failure of the credentials (unknown user, disabled, wrong password, bad
//   proof) is one answer, "-ERR [AUTH] Authentication failed.", given after
//   the failure delay; a directory, metad or Redis failure is -ERR [SYS/TEMP].
//   After the credentials: the account's id from metad (created with its
//   mailboxes on first login), LOGIN-DELAY (when
//   configured: one login per user per window, counted in Redis, failing
//   open), the maildrop lock (-ERR [IN-USE] when another session holds it,
//   on any replica), the INBOX snapshot; only then "+OK", the user's failure
//   counter reset and, for a client outside the trusted networks, the
//   POP-before-SMTP record client IP -> user for the window of the user's
//   domain (pop3.pop_before_smtp_domain_ttl) or pop3.pop_before_smtp_ttl.
//
//   APOP (off unless pop3.apop) needs the stored plain password
//   ({PLAIN}/{CLEAR}, auth.allow_plain_passwords); every other account is
//   checked against a random one, so the answer is the same failure.
//
// NEVER
//   Never accepts USER/PASS or AUTH PLAIN/LOGIN on an unencrypted connection
//   from outside the trusted networks (unless allow_plaintext_auth), never
//   logs a password or a SASL message, never tells an unknown user from a
//   wrong password, never enters TRANSACTION without the lock.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/auth/credential_check.h"
#include "lib/auth/sasl.h"
#include "lib/base/log.h"
#include "services/pop3d/commands.h"
#include "services/pop3d/maildrop.h"

namespace columba::pop3d {

namespace {

constexpr std::string_view kPlaintextRefused = "Plaintext authentication disallowed on non-secure connections.";

auth::CredentialContext Credentials(ServerContext& ctx) {
  return auth::CredentialContext{ctx.directory, ctx.guard, ctx.pool, ctx.hash_pool, ctx.cfg.allow_plain_passwords};
}

void CountGuardErrors(ServerContext& ctx) {
  if (uint64_t n = ctx.guard.TakeErrors()) ctx.metrics.errors.Add({{"kind", "redis"}}).Increment(static_cast<double>(n));
}

void CountLogin(ServerContext& ctx, const char* result) { ctx.metrics.logins.Add({{"result", result}}).Increment(); }

// The address failures are counted under: none for trusted networks.
std::string ClientIp(Session& s) { return s.trusted() ? std::string() : s.peer_ip(); }

std::string Domain(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string() : address.substr(at + 1);
}

// Opens the maildrop of a verified account: metad account, LOGIN-DELAY, lock,
// snapshot, then +OK and the bookkeeping of a successful login.
asio::awaitable<void> OpenMaildrop(Session& s, storage::Account account, std::string user_key) {
  ServerContext& ctx = s.ctx();
  // The account's id: a read (GetAccount) for the usual case, EnsureAccount (a
  // write: creates the mailstore, refreshes quota limits) only for a user
  // without a mailstore yet. POP3 never appends, so stale quota limits do not
  // matter here; deliveries refresh them.
  uint64_t account_id = 0;
  v1::GetAccountRequest get;
  get.set_address(account.address);
  auto found = co_await ctx.metad.Call(&v1::Metadata::Stub::async::GetAccount, std::move(get));
  if (found) {
    account_id = found->account().account_id();
  } else if (found.error().kind == ErrorKind::kNotFound) {
    v1::EnsureAccountRequest req;
    req.set_address(account.address);
    req.set_storage_limit(account.quota_bytes);
    req.set_message_limit(account.quota_messages);
    auto ensured = co_await ctx.metad.Call(&v1::Metadata::Stub::async::EnsureAccount, std::move(req));
    if (ensured) account_id = ensured->account().account_id();
    else found = tl::unexpected(ensured.error());
  }
  if (account_id == 0) {
    log::Warn("account lookup in metad failed", {{"error", found ? std::string("no id") : found.error().message}});
    CountLogin(ctx, "error");
    ctx.metrics.Error("metad");
    s.Err("SYS/TEMP", "Temporary failure, try again later.");
    co_return;
  }
  const std::string address = account.address;
  if (ctx.cfg.login_delay.count() > 0) {
    // RFC 2449 6.5: one login per window; the first of a window passes. Fails open.
    std::string key = "pop3:login-delay:" + address;
    auto delay = ctx.cfg.login_delay;
    Result<int64_t> n = co_await ctx.pool.Run([&ctx, &key, delay] { return ctx.ephemeral.Increment(key, delay); });
    if (!n) ctx.metrics.Error("redis");
    if (n && *n > 1) {
      CountLogin(ctx, "login_delay");
      s.Err("LOGIN-DELAY", "Minimum time between logins has not passed yet.");
      co_return;
    }
  }
  asio::any_io_executor ex = co_await asio::this_coro::executor;
  auto lock = std::make_shared<MaildropLock>(ctx, address, ex);
  MaildropLock::Outcome taken = co_await lock->Take();
  if (taken == MaildropLock::Outcome::kInUse) {
    ctx.metrics.locks.Add({{"result", "in_use"}}).Increment();
    CountLogin(ctx, "in_use");
    log::Info("maildrop in use", {{"peer", s.peer_ip()}, {"user", address}});
    s.Err("IN-USE", "Maildrop is locked by another session.");
    co_return;
  }
  if (taken == MaildropLock::Outcome::kUnavailable) {
    ctx.metrics.locks.Add({{"result", "unavailable"}}).Increment();
    CountLogin(ctx, "error");
    s.Err("SYS/TEMP", "Cannot lock the maildrop now, try again later.");
    co_return;
  }
  ctx.metrics.locks.Add({{"result", "taken"}}).Increment();
  auto drop = co_await LoadMaildrop(ctx, account_id);
  if (!drop) {
    log::Warn("maildrop load failed", {{"error", drop.error().message}});
    ctx.metrics.Error("metad");
    CountLogin(ctx, "error");
    co_await lock->Release();
    s.Err("SYS/TEMP", "Cannot open the maildrop now, try again later.");
    co_return;
  }
  // POP-before-SMTP: outside the trusted networks only, for the domain's window.
  auto cc = Credentials(ctx);
  std::string ip = ClientIp(s);
  auto per_domain = ctx.cfg.pop_before_smtp_domain_ttl.find(Domain(address));
  bool recorded = true;
  if (per_domain == ctx.cfg.pop_before_smtp_domain_ttl.end()) {
    recorded = co_await auth::RecordSuccess(cc, ip, address, user_key, !s.trusted());
  } else {
    co_await auth::RecordSuccess(cc, ip, address, user_key, false);
    auto ttl = per_domain->second;
    if (!ip.empty() && ttl.count() > 0) {
      Result<void> w = co_await ctx.pool.Run([&ctx, &ip, &address, ttl] { return ctx.ephemeral.RecordLogin(ip, address, ttl); });
      recorded = w.has_value();
    }
  }
  CountGuardErrors(ctx);
  if (!recorded) ctx.metrics.Error("pop_before_smtp");
  CountLogin(ctx, "ok");
  log::Info("login", {{"peer", s.peer_ip()}, {"user", address}, {"messages", std::to_string(drop->messages.size())}});
  const std::string text = "Logged in, " + std::to_string(drop->Count()) + " messages (" +
                           std::to_string(drop->Octets()) + " octets).";
  s.EnterTransaction(address, account_id, std::move(*drop), std::move(lock));
  s.Ok(text);
}

// After the credentials were judged (every mechanism ends here).
asio::awaitable<void> Conclude(Session& s, Result<std::optional<storage::Account>> verdict, std::string user_key) {
  ServerContext& ctx = s.ctx();
  CountGuardErrors(ctx);
  if (!verdict) {
    log::Warn("authentication unavailable", {{"peer", s.peer_ip()}, {"error", verdict.error().message}});
    CountLogin(ctx, "error");
    s.Err("SYS/TEMP", "Temporary authentication failure, try again later.");
  } else if (!verdict->has_value()) {
    CountLogin(ctx, "failed");
    log::Info("login failed", {{"peer", s.peer_ip()}});
    auto cc = Credentials(ctx);
    std::string ip = ClientIp(s);
    co_await auth::RecordFailure(cc, ip, user_key);
    CountGuardErrors(ctx);
    s.Err("AUTH", "Authentication failed.");
  } else {
    storage::Account account = std::move(**verdict);
    co_await OpenMaildrop(s, std::move(account), std::move(user_key));
  }
}

asio::awaitable<void> WaitPenalty(Session& s, const std::string& user_key) {
  auto cc = Credentials(s.ctx());
  std::string ip = ClientIp(s);
  std::string key = user_key;
  co_await auth::WaitPenalty(cc, ip, key);
}

// One SASL round (RFC 5034 4): "+ base64(challenge)", then the client's line
// decoded. nullopt when the exchange ended (the -ERR is queued, or the
// connection is gone).
asio::awaitable<std::optional<std::string>> SaslRound(Session& s, std::string challenge) {
  s.Queue("+ " + auth::Base64Encode(challenge) + "\r\n");
  net::Line line = co_await s.ReadAuthLine();
  std::optional<std::string> out;
  if (line.eof) {
    s.Close();
  } else if (line.too_long) {
    s.ctx().metrics.Error("line_too_long");
    s.Err("", "Authentication line too long.");
  } else if (line.text == "*") {
    s.Err("", "Authentication aborted.");
  } else if (auto decoded = auth::Base64Decode(line.text)) {
    out = std::move(*decoded);
  } else {
    s.Err("", "Invalid base64 in SASL response.");
  }
  co_return out;
}

// The initial response ("=" is empty) or, without one, a round with `challenge`.
asio::awaitable<std::optional<std::string>> FirstMessage(Session& s, const std::optional<std::string>& initial,
                                                         std::string challenge) {
  std::optional<std::string> out;
  if (!initial) {
    out = co_await SaslRound(s, std::move(challenge));
  } else if (*initial == "=") {
    out = std::string();
  } else if (auto d = auth::Base64Decode(*initial)) {
    out = std::move(*d);
  } else {
    s.Err("", "Invalid base64 in SASL response.");
  }
  co_return out;
}

std::string Md5Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return storage::HexEncode(md, len);
}

}  // namespace

asio::awaitable<void> CmdCapa(Session& s, const pop3::Command&) {
  const auto& cfg = s.ctx().cfg;
  std::string out = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n";
  if (!s.authenticated()) {
    if (s.PlaintextAuthAllowed()) out += "USER\r\n";
    auto mechs = s.Mechanisms();
    if (!mechs.empty()) {
      out += "SASL";
      for (const auto& m : mechs) out += " " + m;
      out += "\r\n";
    }
    if (s.CanStartTls()) out += "STLS\r\n";
  }
  out += "EXPIRE " + cfg.expire + "\r\n";
  if (cfg.login_delay.count() > 0)
    out += "LOGIN-DELAY " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cfg.login_delay).count()) +
           "\r\n";
  out += "IMPLEMENTATION Columba\r\n.\r\n";
  s.Queue(out);
  co_return;
}

asio::awaitable<void> CmdStls(Session& s, const pop3::Command&) {
  if (s.tls()) {
    s.Err("", "TLS is already active.");
  } else if (!s.CanStartTls()) {
    s.Err("", "TLS is not available.");
  } else {
    s.pending_user().reset();
    s.Ok("Begin TLS negotiation now.");
    bool flushed = co_await s.Flush();
    if (flushed) co_await s.UpgradeToTls();
  }
}

asio::awaitable<void> CmdUser(Session& s, const pop3::Command& cmd) {
  if (!s.PlaintextAuthAllowed()) {
    CountLogin(s.ctx(), "refused");
    s.Err("AUTH", kPlaintextRefused);
  } else {
    s.pending_user() = cmd.name;
    s.Ok("");
  }
  co_return;
}

asio::awaitable<void> CmdPass(Session& s, const pop3::Command& cmd) {
  if (!s.PlaintextAuthAllowed()) {
    CountLogin(s.ctx(), "refused");
    s.Err("AUTH", kPlaintextRefused);
    co_return;
  }
  if (!s.pending_user()) {
    s.Err("", "No USER given.");
    co_return;
  }
  std::string user = *s.pending_user();
  s.pending_user().reset();  // RFC 1939 7: after a failed PASS, start again with USER
  std::string user_key = auth::LoginKey(user);
  co_await WaitPenalty(s, user_key);
  auto cc = Credentials(s.ctx());
  std::string password = cmd.secret;
  auto verdict = co_await auth::VerifyPassword(cc, std::move(user), std::move(password));
  co_await Conclude(s, std::move(verdict), std::move(user_key));
}

asio::awaitable<void> CmdApop(Session& s, const pop3::Command& cmd) {
  ServerContext& ctx = s.ctx();
  if (!ctx.cfg.apop || s.apop_banner().empty()) {
    s.Err("", "APOP is not enabled.");
    co_return;
  }
  std::string user_key = auth::LoginKey(cmd.name);
  co_await WaitPenalty(s, user_key);
  std::string address = storage::NormalizeAddress(cmd.name).value_or(std::string());
  Result<std::optional<storage::Account>> found =
      co_await ctx.pool.Run([&ctx, &address] { return auth::LookupEnabled(ctx.directory, address); });
  if (found && found->has_value()) {
    std::optional<std::string> plain;
    if (ctx.cfg.allow_plain_passwords) plain = auth::StoredPlainPassword((**found).password_hash);
    unsigned char rnd[24];
    RAND_bytes(rnd, sizeof rnd);
    std::string password = plain.value_or(storage::HexEncode(rnd, sizeof rnd));
    std::string expected = Md5Hex(s.apop_banner() + password);
    bool match = CRYPTO_memcmp(expected.data(), cmd.secret.data(), 32) == 0;
    if (!match || !plain) found = std::optional<storage::Account>();
  }
  co_await Conclude(s, std::move(found), std::move(user_key));
}

asio::awaitable<void> CmdAuth(Session& s, const pop3::Command& cmd) {
  ServerContext& ctx = s.ctx();
  if (cmd.name.empty()) {  // the mechanism list (as the old RFC 1734 clients ask)
    std::string out = "+OK\r\n";
    for (const auto& m : s.Mechanisms()) out += m + "\r\n";
    s.Queue(out + ".\r\n");
    co_return;
  }
  const std::string mech = cmd.name;
  if (!s.MechanismAllowed(mech)) {
    bool configured = false;
    for (const auto& m : ctx.cfg.auth_mechanisms) configured |= m == mech;
    CountLogin(ctx, "refused");
    if (configured)
      s.Err("AUTH", kPlaintextRefused);
    else
      s.Err("", "Unsupported authentication mechanism.");
    co_return;
  }
  auto cc = Credentials(ctx);
  std::string user_key;
  Result<std::optional<storage::Account>> verdict = std::optional<storage::Account>();
  if (mech == "PLAIN") {
    std::string empty;
    auto msg = co_await FirstMessage(s, cmd.initial, empty);
    if (!msg) co_return;
    auto creds = auth::DecodePlain(*msg);
    if (!creds) {
      s.Err("", "Invalid PLAIN response.");
      co_return;
    }
    user_key = auth::LoginKey(creds->authcid);
    if (!creds->authzid.empty() && auth::LoginKey(creds->authzid) != user_key) {
      s.Err("AUTH", "Acting as another user is not allowed.");
      co_return;
    }
    co_await WaitPenalty(s, user_key);
    verdict = co_await auth::VerifyPassword(cc, creds->authcid, creds->password);
  } else if (mech == "LOGIN") {
    std::string ask_user = "Username:";
    auto user = co_await FirstMessage(s, cmd.initial, ask_user);
    if (!user) co_return;
    std::string ask_password = "Password:";
    auto password = co_await SaslRound(s, ask_password);
    if (!password) co_return;
    user_key = auth::LoginKey(*user);
    co_await WaitPenalty(s, user_key);
    verdict = co_await auth::VerifyPassword(cc, *user, *password);
  } else if (mech == "CRAM-MD5") {
    if (cmd.initial) {
      s.Err("", "CRAM-MD5 takes no initial response.");
      co_return;
    }
    std::string challenge = auth::MakeCramChallenge(ctx.cfg.hostname);
    auto response = co_await SaslRound(s, challenge);
    if (!response) co_return;
    auto user = auth::CramMd5User(*response);
    user_key = auth::LoginKey(user.value_or(std::string()));
    co_await WaitPenalty(s, user_key);
    verdict = co_await auth::VerifyCramMd5(cc, *response, challenge);
  } else {  // SCRAM-SHA-256
    std::string empty;
    auto first = co_await FirstMessage(s, cmd.initial, empty);
    if (!first) co_return;
    auto scram = std::make_unique<auth::ScramSha256Server>();
    auto user = scram->ReceiveClientFirst(*first);
    if (!user) {
      s.Err("", "Invalid SCRAM client-first-message.");
      co_return;
    }
    user_key = auth::LoginKey(*user);
    if (!scram->authzid().empty() && auth::LoginKey(scram->authzid()) != user_key) {
      s.Err("AUTH", "Acting as another user is not allowed.");
      co_return;
    }
    co_await WaitPenalty(s, user_key);
    auto found = co_await auth::LookupScram(cc, *user);
    if (!found) {
      verdict = tl::unexpected(found.error());
    } else {
      std::string nonce(18, '\0');
      RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size()));
      std::string server_first = scram->ServerFirst(found->secret, auth::Base64Encode(nonce));
      auto final_msg = co_await SaslRound(s, server_first);
      if (!final_msg) co_return;
      auto server_final = scram->ReceiveClientFinal(*final_msg);
      if (server_final && found->account) {
        // RFC 5034 4: no data with +OK; the server's proof goes in a last
        // challenge and the client answers with an empty line.
        auto ack = co_await SaslRound(s, *server_final);
        if (!ack) co_return;
        if (!ack->empty()) {
          s.Err("", "Expected an empty SASL response.");
          co_return;
        }
        verdict = std::move(found->account);
      }
    }
  }
  co_await Conclude(s, std::move(verdict), std::move(user_key));
}

}  // namespace columba::pop3d
