// auth.cc - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616), LOGIN, CRAM-MD5
// (RFC 2195) and SCRAM-SHA-256 (RFC 5802/7677).
//
// DESCRIPTION
//   The login steps are lib/auth/credential_check.h, shared with imapd and
//   pop3d: the penalty for recent failures of this address or user (Redis, so
//   every replica applies it), the directory lookup, the check, and the
//   bookkeeping. Every failure (unknown user, disabled, wrong password, no
//   usable secret for CRAM-MD5/SCRAM) is 535 5.7.8 after the failure delay;
//   a directory or Redis problem is 454 4.7.0. Success is 235 2.7.0 and makes
//   the session "authenticated" for relaying (lib/smtp/relay_policy.h) and
//   for the submission ports. SMTP logins write no POP-before-SMTP record:
//   the SMTP session is already authenticated.
// NEVER
//   Never accepts AUTH in plaintext outside the trusted networks (538 5.7.11,
//   unless smtp.allow_plaintext_auth), never logs a password or SASL data,
//   never tells an unknown user from a wrong password.
#include <openssl/rand.h>

#include "lib/base/log.h"
#include "services/smtpd/session.h"

namespace columba::smtpd {

namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Splits "MECH [initial-response]".
std::pair<std::string, std::optional<std::string>> SplitAuthArg(const std::string& arg) {
  auto sp = arg.find(' ');
  if (sp == std::string::npos) return {Upper(arg), std::nullopt};
  std::string rest = arg.substr(sp + 1);
  while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
  return {Upper(arg.substr(0, sp)), rest};
}

}  // namespace

// One SASL round: "334 base64(challenge)", the client's line decoded. nullopt
// once the exchange ended (aborted, bad base64, closed): the reply was sent.
asio::awaitable<std::optional<std::string>> Session::SaslRound(std::string challenge) {
  co_await Send("334 " + auth::Base64Encode(challenge) + "\r\n");
  if (!co_await Flush()) {
    quit_ = true;
    co_return std::nullopt;
  }
  net::Line line = co_await reader_.ReadLine(ctx_.cfg.max_auth_line);
  Touch();
  if (line.eof) {
    quit_ = true;
    co_return std::nullopt;
  }
  if (line.too_long) {
    co_await Error(500, "5.5.6", "Authentication exchange line is too long");
    co_return std::nullopt;
  }
  if (line.text == "*") {
    co_await Error(501, "5.0.0", "Authentication aborted");
    co_return std::nullopt;
  }
  auto decoded = auth::Base64Decode(line.text);
  if (!decoded) {
    co_await Error(501, "5.5.2", "Invalid base64 in SASL response");
    co_return std::nullopt;
  }
  co_return std::move(*decoded);
}

// The first client message: the initial response ("=" is empty) or a round.
asio::awaitable<std::optional<std::string>> Session::FirstMessage(const std::optional<std::string>& initial,
                                                                  std::string challenge) {
  if (!initial) co_return co_await SaslRound(std::move(challenge));
  if (*initial == "=") co_return std::string();
  auto d = auth::Base64Decode(*initial);
  if (!d) {
    co_await Error(501, "5.5.2", "Invalid base64 in SASL response");
    co_return std::nullopt;
  }
  co_return std::move(*d);
}

asio::awaitable<bool> Session::Auth(const smtp::Command& c) {
  if (helo_.empty() || !esmtp_) co_return co_await Error(503, "5.5.1", "Send EHLO first");
  if (!auth_user_.empty()) co_return co_await Error(503, "5.5.1", "Already authenticated");
  if (mail_from_) co_return co_await Error(503, "5.5.1", "AUTH not allowed during a mail transaction");
  auto split = SplitAuthArg(c.arg);
  const std::string mech = split.first;
  const std::optional<std::string> initial = split.second;
  auto& mechs = ctx_.cfg.auth_mechanisms;
  if (mech.empty() || std::find(mechs.begin(), mechs.end(), mech) == mechs.end()) {
    ctx_.metrics.auths.Add({{"mechanism", "other"}, {"result", "refused"}}).Increment();
    co_return co_await Error(504, "5.5.4", "Unrecognized authentication type");
  }
  if (!AuthAllowedHere()) {
    ctx_.metrics.auths.Add({{"mechanism", mech}, {"result", "refused"}}).Increment();
    co_return co_await Error(538, "5.7.11", "Encryption required for requested authentication mechanism");
  }
  auth::CredentialContext cc{ctx_.directory, ctx_.guard, ctx_.pool, ctx_.hash_pool, ctx_.cfg.allow_plain_passwords};
  const std::string ip = trusted_ ? std::string() : peer_;
  std::string user_key;
  Result<std::optional<storage::Account>> verdict = std::optional<storage::Account>();
  if (mech == "PLAIN") {
    std::string empty;
    auto msg = co_await FirstMessage(initial, empty);
    if (!msg) co_return !quit_;
    auto creds = auth::DecodePlain(*msg);
    if (!creds) co_return co_await Error(501, "5.5.2", "Invalid PLAIN response");
    user_key = auth::LoginKey(creds->authcid);
    if (!creds->authzid.empty() && auth::LoginKey(creds->authzid) != user_key)
      co_return co_await Error(535, "5.7.8", "Acting as another user is not allowed");
    co_await auth::WaitPenalty(cc, ip, user_key);
    verdict = co_await auth::VerifyPassword(cc, creds->authcid, creds->password);
  } else if (mech == "LOGIN") {
    std::string ask_user = "Username:";
    auto user = co_await FirstMessage(initial, ask_user);
    if (!user) co_return !quit_;
    std::string ask_password = "Password:";
    auto password = co_await SaslRound(ask_password);
    if (!password) co_return !quit_;
    user_key = auth::LoginKey(*user);
    co_await auth::WaitPenalty(cc, ip, user_key);
    verdict = co_await auth::VerifyPassword(cc, *user, *password);
  } else if (mech == "CRAM-MD5") {
    if (initial) co_return co_await Error(501, "5.5.2", "CRAM-MD5 takes no initial response");
    std::string challenge = auth::MakeCramChallenge(ctx_.cfg.hostname);
    auto response = co_await SaslRound(challenge);
    if (!response) co_return !quit_;
    auto user = auth::CramMd5User(*response);
    user_key = auth::LoginKey(user.value_or(std::string()));
    co_await auth::WaitPenalty(cc, ip, user_key);
    verdict = co_await auth::VerifyCramMd5(cc, *response, challenge);
  } else {  // SCRAM-SHA-256
    std::string empty;
    auto first = co_await FirstMessage(initial, empty);
    if (!first) co_return !quit_;
    auto scram = std::make_unique<auth::ScramSha256Server>();
    auto user = scram->ReceiveClientFirst(*first);
    if (!user) co_return co_await Error(501, "5.5.2", "Invalid SCRAM client-first-message");
    user_key = auth::LoginKey(*user);
    if (!scram->authzid().empty() && auth::LoginKey(scram->authzid()) != user_key)
      co_return co_await Error(535, "5.7.8", "Acting as another user is not allowed");
    co_await auth::WaitPenalty(cc, ip, user_key);
    auto found = co_await auth::LookupScram(cc, *user);
    if (!found) {
      verdict = tl::unexpected(found.error());
    } else {
      std::string nonce(18, '\0');
      RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size()));
      std::string server_first = scram->ServerFirst(found->secret, auth::Base64Encode(nonce));
      auto final_msg = co_await SaslRound(server_first);
      if (!final_msg) co_return !quit_;
      auto server_final = scram->ReceiveClientFinal(*final_msg);
      if (server_final && found->account) {
        // RFC 4954 4: the server's proof goes in a last 334; the client answers empty.
        auto ack = co_await SaslRound(*server_final);
        if (!ack) co_return !quit_;
        if (!ack->empty()) co_return co_await Error(501, "5.5.2", "Expected an empty SASL response");
        verdict = std::move(found->account);
      }
    }
  }
  if (uint64_t n = ctx_.guard.TakeErrors()) ctx_.metrics.errors.Add({{"kind", "redis"}}).Increment(static_cast<double>(n));
  if (!verdict) {
    ctx_.metrics.auths.Add({{"mechanism", mech}, {"result", "error"}}).Increment();
    log::Warn("authentication unavailable", {{"client", peer_}, {"error", verdict.error().message}});
    co_return co_await Reply(454, "4.7.0", "Temporary authentication failure, try again later");
  }
  if (!verdict->has_value()) {
    ctx_.metrics.auths.Add({{"mechanism", mech}, {"result", "failed"}}).Increment();
    log::Info("authentication failed", {{"client", peer_}, {"mechanism", mech}});
    co_await auth::RecordFailure(cc, ip, user_key);
    co_return co_await Error(535, "5.7.8", "Authentication credentials invalid");
  }
  std::string address = (**verdict).address;
  co_await auth::RecordSuccess(cc, ip, address, user_key, false);
  auth_user_ = address;
  ctx_.metrics.auths.Add({{"mechanism", mech}, {"result", "ok"}}).Increment();
  log::Info("authenticated", {{"client", peer_}, {"mechanism", mech}, {"user", address}});
  co_return co_await Reply(235, "2.7.0", "Authentication successful");
}

}  // namespace columba::smtpd
