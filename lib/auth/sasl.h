// sasl.h - server sides of the SASL mechanisms the protocols offer: PLAIN
// (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and
// SCRAM-SHA-256 (RFC 5802, RFC 7677), plus the stored SCRAM secret format.
//
// Pure computation, no I/O: the protocol layer base64-decodes client data,
// calls these, and looks up users in the directory between steps. Nothing here
// logs, and no error message ever contains a password, a proof or a key.
// SCRAM and CRAM-MD5 need a secret the directory holds: a `{SCRAM-SHA-256}`
// stored secret (never the password) or, for CRAM-MD5, the plain password, which
// Columba only stores when an operator explicitly allows {PLAIN}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::auth {

std::string Base64Encode(std::string_view bytes);
// Strict: canonical padding, no whitespace; kInvalidInput otherwise.
Result<std::string> Base64Decode(std::string_view text);

struct PlainCredentials {
  std::string authzid;  // empty unless the client asks to act as another user
  std::string authcid;  // the login name
  std::string password;
};
// Decoded PLAIN message "authzid\0authcid\0password" (RFC 4616).
Result<PlainCredentials> DecodePlain(std::string_view decoded);

// CRAM-MD5: the expected response "user hex(HMAC-MD5(password, challenge))" check.
// Returns the user name when the digest matches (constant-time comparison).
Result<std::string> CramMd5User(std::string_view decoded_response);
bool CramMd5Verify(std::string_view decoded_response, std::string_view challenge, std::string_view password);

// A stored SCRAM-SHA-256 secret: "{SCRAM-SHA-256}iterations,salt,StoredKey,ServerKey"
// with base64 fields (the form Dovecot uses), derived from the password once.
struct ScramSecret {
  uint32_t iterations = 0;
  std::string salt;        // raw
  std::string stored_key;  // raw, 32 octets
  std::string server_key;  // raw, 32 octets
};
// The secret for a password, salt and iteration count (RFC 5802: StoredKey, ServerKey).
ScramSecret DeriveScramSecret(std::string_view password, std::string_view salt, uint32_t iterations);
std::string MakeScramSecret(std::string_view password, uint32_t iterations = 4096);  // random 16-octet salt
std::string FormatScramSecret(const ScramSecret& s);
Result<ScramSecret> ParseScramSecret(std::string_view stored);  // with or without the {SCRAM-SHA-256} prefix
// Password check against a stored SCRAM secret (for LOGIN/PLAIN when that is all we hold).
bool VerifyScramPassword(std::string_view password, const ScramSecret& secret);

// One SCRAM-SHA-256 server exchange (no channel binding: "n,," / "y,," only).
class ScramSha256Server {
 public:
  // client-first-message; returns the user name (authcid) to look up.
  Result<std::string> ReceiveClientFirst(std::string_view msg);
  // server-first-message for the user's secret; `server_nonce` must be random
  // printable characters (no ','), e.g. base64 of 18 random octets.
  std::string ServerFirst(const ScramSecret& secret, std::string_view server_nonce);
  // client-final-message; on a valid proof returns server-final-message ("v=...").
  Result<std::string> ReceiveClientFinal(std::string_view msg);
  const std::string& authzid() const { return authzid_; }

 private:
  enum class State { kStart, kGotClientFirst, kSentFirst, kDone } state_ = State::kStart;
  std::string gs2_header_, client_first_bare_, client_nonce_, user_, authzid_;
  std::string server_first_, nonce_;
  ScramSecret secret_;
};

}  // namespace columba::auth
