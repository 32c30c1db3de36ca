// password.h - password schemes in Dovecot's "{SCHEME}hash" string forms.
//
// NAME
//   HashPassword, VerifyPassword, SchemeName, ParseScheme
// SYNOPSIS
//   auto stored = HashPassword("secret");                 // {ARGON2ID}$argon2id$v=19$...
//   auto ok = VerifyPassword("secret", *stored);          // Result<bool>: true / false
// DESCRIPTION
//   Writes {ARGON2ID} (libargon2), {SHA512-CRYPT} $6$, {YESCRYPT} $y$, {BLF-CRYPT}
//   $2b$ (libxcrypt) and {PLAIN}. Verifies those plus what a Dovecot or LDAP directory
//   typically holds: {ARGON2I}, {SHA256-CRYPT}, {CRYPT} (any crypt(3) string),
//   {CLEAR}/{CLEARTEXT}, and un-prefixed $argon2id$/$argon2i$/$6$/$5$/$y$/$2a$/$2b$/
//   $2y$ strings. Scheme names are case-insensitive. Hash comparison is constant
//   time (CRYPTO_memcmp). Salts are random (OpenSSL RAND_bytes for Argon2, the
//   kernel's entropy through crypt_gensalt for crypt schemes).
//   Hashing and verifying cost tens to hundreds of milliseconds of CPU and up to
//   the Argon2 memory size: call them on a worker pool, never on an event loop.
// NEVER
//   - puts the password, or the stored hash, into an error message or a log;
//   - accepts a {PLAIN} stored password unless VerifyOptions::allow_plain;
//   - treats an unknown or malformed stored string as a match.
// DIAGNOSTICS
//   kInvalidInput: unknown scheme, malformed stored hash, bad parameters, a NUL in a
//   password for a crypt scheme. kPermissionDenied: {PLAIN} refused by policy.
//   kLimitExceeded: password longer than kMaxPasswordLength, or a stored hash that
//   asks for more work than VerifyOptions allows. kUnavailable: out of memory or
//   randomness. A wrong password is not an error: the result is false.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::auth {

// kScramSha256 stores a SCRAM-SHA-256 secret (lib/auth/sasl.h): it verifies plain
// logins and also enables AUTH=SCRAM-SHA-256, without keeping the password.
enum class PasswordScheme { kArgon2id, kSha512Crypt, kYescrypt, kBcrypt, kPlain, kScramSha256 };

// Longest password accepted, in octets. libxcrypt refuses phrases of 512 octets or
// more; one limit for every scheme keeps a password valid when the scheme changes,
// and bounds the CPU an attacker can make SHA-crypt spend per guess.
inline constexpr size_t kMaxPasswordLength = 511;

struct Argon2Params {
  uint32_t memory_kib = 65536;  // 64 MiB: Dovecot's and RFC 9106's second choice
  uint32_t iterations = 3;
  uint32_t parallelism = 1;
};

struct HashOptions {
  Argon2Params argon2;
  uint32_t sha512_rounds = 5000;  // the crypt default; written as rounds=N only when different
  uint32_t bcrypt_cost = 10;      // 4..31; each step doubles the work
  uint32_t yescrypt_cost = 5;     // 1..11; libxcrypt's default (16 MiB)
};

// Hashes `password` into the stored form of `scheme` (with its {SCHEME} prefix).
Result<std::string> HashPassword(std::string_view password, PasswordScheme scheme = PasswordScheme::kArgon2id,
                                 const HashOptions& options = {});

struct VerifyOptions {
  bool allow_plain = false;  // accept {PLAIN}/{CLEAR}/{CLEARTEXT} stored passwords
  // Ceilings on the work one stored hash may demand, so that a bad directory entry
  // cannot make a single login cost seconds of CPU or gigabytes of memory.
  uint32_t max_argon2_memory_kib = 1u << 20;  // 1 GiB
  uint32_t max_argon2_iterations = 64;
  uint32_t max_argon2_parallelism = 16;
  uint32_t max_sha_crypt_rounds = 1'000'000;
  uint32_t max_bcrypt_cost = 16;
};

// true: the password matches; false: it does not. Errors: see DIAGNOSTICS above.
Result<bool> VerifyPassword(std::string_view password, std::string_view stored, const VerifyOptions& options = {});

// Dovecot's names: "ARGON2ID", "SHA512-CRYPT", "YESCRYPT", "BLF-CRYPT", "PLAIN".
std::string_view SchemeName(PasswordScheme scheme);
// Case-insensitive, braces optional; also BCRYPT, CLEAR, CLEARTEXT as aliases.
Result<PasswordScheme> ParseScheme(std::string_view name);

}  // namespace columba::auth
