// password.cc - Argon2 (libargon2), crypt(3) schemes (libxcrypt) and {PLAIN}.
//
// Must never copy a password into an error message, leave a copy of it in memory
// it frees (copies are cleansed), or answer "match" for anything it cannot parse.
#include "lib/auth/password.h"
#include "lib/auth/sasl.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <vector>

namespace columba::auth {
namespace {

constexpr size_t kArgon2SaltLength = 16;
constexpr size_t kArgon2HashLength = 32;
// Limits on what a stored Argon2 string may declare (beyond the work ceilings).
constexpr size_t kArgon2MaxSaltLength = 64;
constexpr size_t kArgon2MinHashLength = 4;
constexpr size_t kArgon2MaxHashLength = 128;
constexpr size_t kMaxSchemeNameLength = 32;

// A NUL-terminated copy of a secret, wiped when it goes out of scope.
class SecretCopy {
 public:
  explicit SecretCopy(std::string_view s) : buf_(s) {}
  SecretCopy(const SecretCopy&) = delete;
  SecretCopy& operator=(const SecretCopy&) = delete;
  ~SecretCopy() { OPENSSL_cleanse(buf_.data(), buf_.size()); }
  const char* c_str() const { return buf_.c_str(); }

 private:
  std::string buf_;
};

// crypt_rn's 32 KiB work area, zeroed before use and wiped after.
struct CryptArea {
  std::unique_ptr<crypt_data> data = std::make_unique<crypt_data>();
  ~CryptArea() { OPENSSL_cleanse(data.get(), sizeof(crypt_data)); }
};

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string UpperCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Upper(c);
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A scheme name that came from a stored hash or config, made safe to print.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxSchemeNameLength)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

tl::unexpected<Error> Malformed(std::string_view what) {
  return Fail(ErrorKind::kInvalidInput, "password: malformed " + std::string(what) + " hash");
}

Result<void> CheckPasswordLength(std::string_view password) {
  if (password.size() > kMaxPasswordLength)
    return Fail(ErrorKind::kLimitExceeded,
                "password: longer than " + std::to_string(kMaxPasswordLength) + " octets");
  return {};
}

// ---------------------------------------------------------------------------
// Argon2

// RFC 4648 base64 without padding, as in the PHC string format.
std::optional<std::vector<uint8_t>> DecodeB64NoPad(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<uint32_t> ParseU32(std::string_view s) {
  uint32_t v = 0;
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

Result<std::string> HashArgon2id(std::string_view password, const Argon2Params& p) {
  std::array<uint8_t, kArgon2SaltLength> salt;
  if (RAND_bytes(salt.data(), salt.size()) != 1) return Fail(ErrorKind::kUnavailable, "password: RAND_bytes failed");
  const size_t len = argon2_encodedlen(p.iterations, p.memory_kib, p.parallelism, salt.size(), kArgon2HashLength,
                                       Argon2_id);
  std::string encoded(len, '\0');
  int rc = argon2id_hash_encoded(p.iterations, p.memory_kib, p.parallelism, password.data(), password.size(),
                                 salt.data(), salt.size(), kArgon2HashLength, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    const ErrorKind kind = (rc == ARGON2_MEMORY_ALLOCATION_ERROR || rc == ARGON2_THREAD_FAIL)
                               ? ErrorKind::kUnavailable
                               : ErrorKind::kInvalidInput;
    return Fail(kind, std::string("password: argon2: ") + argon2_error_message(rc));
  }
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return "{ARGON2ID}" + encoded;
}

// `hash` is "$argon2id$v=19$m=..,t=..,p=..$salt$hash" (or $argon2i$, or no v=).
Result<bool> VerifyArgon2(std::string_view password, std::string_view hash, const VerifyOptions& opt) {
  std::vector<std::string_view> f = Split(hash, '$');
  // "", type, [v=..], params, salt, hash
  if (f.size() != 5 && f.size() != 6) return Malformed("argon2");
  if (!f[0].empty()) return Malformed("argon2");
  argon2_type type;
  if (f[1] == "argon2id") type = Argon2_id;
  else if (f[1] == "argon2i") type = Argon2_i;
  else return Malformed("argon2");
  size_t i = 2;
  uint32_t version = ARGON2_VERSION_10;
  if (f.size() == 6) {
    if (!StartsWith(f[2], "v=")) return Malformed("argon2");
    auto v = ParseU32(f[2].substr(2));
    if (!v || (*v != ARGON2_VERSION_10 && *v != ARGON2_VERSION_13)) return Malformed("argon2");
    version = *v;
    i = 3;
  }
  std::optional<uint32_t> m, t, p;
  for (std::string_view kv : Split(f[i], ',')) {
    if (kv.size() < 3 || kv[1] != '=') return Malformed("argon2");
    auto v = ParseU32(kv.substr(2));
    std::optional<uint32_t>* slot = kv[0] == 'm' ? &m : kv[0] == 't' ? &t : kv[0] == 'p' ? &p : nullptr;
    if (!v || slot == nullptr || slot->has_value()) return Malformed("argon2");
    *slot = v;
  }
  if (!m || !t || !p) return Malformed("argon2");
  if (*m > opt.max_argon2_memory_kib || *t > opt.max_argon2_iterations || *p > opt.max_argon2_parallelism)
    return Fail(ErrorKind::kLimitExceeded, "password: stored argon2 hash asks for more work than allowed");
  auto salt = DecodeB64NoPad(f[i + 1]);
  auto want = DecodeB64NoPad(f[i + 2]);
  if (!salt || !want || salt->size() < ARGON2_MIN_SALT_LENGTH || salt->size() > kArgon2MaxSaltLength ||
      want->size() < kArgon2MinHashLength || want->size() > kArgon2MaxHashLength)
    return Malformed("argon2");

  std::vector<uint8_t> got(want->size());
  int rc = argon2_hash(*t, *m, *p, password.data(), password.size(), salt->data(), salt->size(), got.data(),
                       got.size(), nullptr, 0, type, version);
  if (rc != ARGON2_OK) {
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR || rc == ARGON2_THREAD_FAIL)
      return Fail(ErrorKind::kUnavailable, std::string("password: argon2: ") + argon2_error_message(rc));
    return Malformed("argon2");  // e.g. m < 8*p, t = 0
  }
  bool match = CRYPTO_memcmp(got.data(), want->data(), got.size()) == 0;
  OPENSSL_cleanse(got.data(), got.size());
  return match;
}

// ---------------------------------------------------------------------------
// crypt(3)

Result<std::string> CryptRn(std::string_view password, const char* setting) {
  if (password.find('\0') != std::string_view::npos)
    return Fail(ErrorKind::kInvalidInput, "password: contains a NUL octet, which crypt schemes cannot hash");
  SecretCopy phrase(password);
  CryptArea area;
  errno = 0;
  const char* out = crypt_rn(phrase.c_str(), setting, area.data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') {
    if (errno == ENOMEM) return Fail(ErrorKind::kUnavailable, "password: crypt: out of memory");
    return Malformed("crypt");
  }
  return std::string(out);
}

Result<std::string> HashCrypt(std::string_view password, const char* prefix, unsigned long count,
                              std::string_view scheme_prefix) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  errno = 0;
  if (crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof setting) == nullptr) {
    if (errno == EINVAL || errno == ERANGE)
      return Fail(ErrorKind::kInvalidInput, "password: invalid cost for " + std::string(scheme_prefix));
    return Fail(ErrorKind::kUnavailable, "password: crypt_gensalt failed (no entropy?)");
  }
  auto out = CryptRn(password, setting);
  if (!out) return out;
  return std::string(scheme_prefix) + *out;
}

// The cost a SHA-crypt ($5$/$6$) or bcrypt ($2?$) string declares, checked against
// the ceilings before any work is done.
Result<void> CheckCryptCost(std::string_view hash, const VerifyOptions& opt) {
  if (StartsWith(hash, "$5$rounds=") || StartsWith(hash, "$6$rounds=")) {
    std::string_view rest = hash.substr(10);
    auto rounds = ParseU32(rest.substr(0, rest.find('$')));
    if (!rounds) return Malformed("sha-crypt");
    if (*rounds > opt.max_sha_crypt_rounds)
      return Fail(ErrorKind::kLimitExceeded, "password: stored sha-crypt hash asks for more rounds than allowed");
  } else if (hash.size() >= 7 && StartsWith(hash, "$2") && hash[3] == '$') {
    const char d1 = hash[4], d2 = hash[5];
    if (d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' || hash[6] != '$') return Malformed("bcrypt");
    const uint32_t cost = static_cast<uint32_t>((d1 - '0') * 10 + (d2 - '0'));
    if (cost > opt.max_bcrypt_cost)
      return Fail(ErrorKind::kLimitExceeded, "password: stored bcrypt hash asks for a higher cost than allowed");
  }
  return {};
}

Result<bool> VerifyCrypt(std::string_view password, std::string_view hash, const VerifyOptions& opt) {
  if (hash.empty() || hash.find('\0') != std::string_view::npos || hash.size() >= CRYPT_OUTPUT_SIZE)
    return Malformed("crypt");
  if (auto r = CheckCryptCost(hash, opt); !r) return tl::unexpected(r.error());
  // A NUL would silently cut the password short for crypt(3): never a match.
  if (password.find('\0') != std::string_view::npos) return false;
  const std::string setting(hash);
  auto out = CryptRn(password, setting.c_str());
  if (!out) return tl::unexpected(out.error());
  return out->size() == hash.size() && CRYPTO_memcmp(out->data(), hash.data(), hash.size()) == 0;
}

// ---------------------------------------------------------------------------
// {PLAIN}: compare digests so neither content nor length leaks through timing.

bool PlainEquals(std::string_view a, std::string_view b) {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr);
  EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr);
  bool eq = la == lb && CRYPTO_memcmp(da, db, la) == 0;
  OPENSSL_cleanse(da, sizeof da);
  OPENSSL_cleanse(db, sizeof db);
  return eq;
}

// Which verifier handles an un-prefixed (or {CRYPT}) string.
enum class Kind { kArgon2, kCrypt, kUnknown };

Kind KindOf(std::string_view hash) {
  if (StartsWith(hash, "$argon2id$") || StartsWith(hash, "$argon2i$")) return Kind::kArgon2;
  for (std::string_view p : {"$6$", "$5$", "$y$", "$2a$", "$2b$", "$2y$"})
    if (StartsWith(hash, p)) return Kind::kCrypt;
  return Kind::kUnknown;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, PasswordScheme scheme, const HashOptions& options) {
  if (auto r = CheckPasswordLength(password); !r) return tl::unexpected(r.error());
  switch (scheme) {
    case PasswordScheme::kArgon2id:
      return HashArgon2id(password, options.argon2);
    case PasswordScheme::kSha512Crypt:
      // Count 0 asks for the default and keeps "rounds=" out of the string.
      return HashCrypt(password, "$6$", options.sha512_rounds == 5000 ? 0 : options.sha512_rounds, "{SHA512-CRYPT}");
    case PasswordScheme::kYescrypt:
      return HashCrypt(password, "$y$", options.yescrypt_cost, "{YESCRYPT}");
    case PasswordScheme::kBcrypt:
      // bcrypt reads only the first 72 octets; refuse rather than silently ignore the rest.
      if (password.size() > 72)
        return Fail(ErrorKind::kLimitExceeded, "password: BLF-CRYPT uses at most 72 octets of a password");
      return HashCrypt(password, "$2b$", options.bcrypt_cost, "{BLF-CRYPT}");
    case PasswordScheme::kPlain:
      return "{PLAIN}" + std::string(password);
    case PasswordScheme::kScramSha256:
      return MakeScramSecret(password);
  }
  return Fail(ErrorKind::kInvalidInput, "password: unknown scheme");
}

Result<bool> VerifyPassword(std::string_view password, std::string_view stored, const VerifyOptions& options) {
  if (auto r = CheckPasswordLength(password); !r) return tl::unexpected(r.error());

  std::string scheme;  // upper-case, empty when there was no {SCHEME} prefix
  std::string_view hash = stored;
  if (StartsWith(stored, "{")) {
    size_t close = stored.find('}');
    if (close == std::string_view::npos || close > kMaxSchemeNameLength + 1 || close == 1)
      return Fail(ErrorKind::kInvalidInput, "password: malformed {SCHEME} prefix");
    scheme = UpperCopy(stored.substr(1, close - 1));
    hash = stored.substr(close + 1);
  }

  if (scheme == "PLAIN" || scheme == "CLEAR" || scheme == "CLEARTEXT") {
    if (!options.allow_plain)
      return Fail(ErrorKind::kPermissionDenied,
                  "password: stored password is in plain text ({" + scheme +
                      "}) and plain passwords are not allowed; rehash it or enable allow_plain");
    return PlainEquals(password, hash);
  }

  Kind kind = KindOf(hash);
  if (scheme.empty() || scheme == "CRYPT") {
    // {CRYPT} takes whatever crypt(3) takes (legacy $1$, DES...); bare strings only
    // the formats listed in KindOf.
    if (kind == Kind::kArgon2) return VerifyArgon2(password, hash, options);
    if (kind == Kind::kCrypt || (!scheme.empty() && !hash.empty())) return VerifyCrypt(password, hash, options);
    return Fail(ErrorKind::kInvalidInput, scheme.empty()
                                              ? "password: unrecognised stored password format (no {SCHEME} prefix)"
                                              : "password: empty {CRYPT} hash");
  }
  if (scheme == "ARGON2ID" || scheme == "ARGON2I") {
    const std::string_view want = scheme == "ARGON2ID" ? "$argon2id$" : "$argon2i$";
    if (!StartsWith(hash, want)) return Malformed("argon2");
    return VerifyArgon2(password, hash, options);
  }
  if (scheme == "SHA512-CRYPT" || scheme == "SHA256-CRYPT" || scheme == "YESCRYPT" || scheme == "BLF-CRYPT") {
    bool ok = scheme == "SHA512-CRYPT"   ? StartsWith(hash, "$6$")
              : scheme == "SHA256-CRYPT" ? StartsWith(hash, "$5$")
              : scheme == "YESCRYPT"     ? StartsWith(hash, "$y$")
                                         : (StartsWith(hash, "$2a$") || StartsWith(hash, "$2b$") ||
                                        StartsWith(hash, "$2y$"));
    if (!ok) return Malformed(Printable(scheme));
    return VerifyCrypt(password, hash, options);
  }
  if (scheme == "SCRAM-SHA-256") {
    // A stored SCRAM secret (lib/auth/sasl.h) also answers plain LOGIN/PLAIN.
    auto secret = ParseScramSecret(hash);
    if (!secret) return Malformed("SCRAM-SHA-256");
    return VerifyScramPassword(password, *secret);
  }
  return Fail(ErrorKind::kInvalidInput, "password: unknown password scheme {" + Printable(scheme) + "}");
}

std::string_view SchemeName(PasswordScheme scheme) {
  switch (scheme) {
    case PasswordScheme::kArgon2id: return "ARGON2ID";
    case PasswordScheme::kSha512Crypt: return "SHA512-CRYPT";
    case PasswordScheme::kYescrypt: return "YESCRYPT";
    case PasswordScheme::kBcrypt: return "BLF-CRYPT";
    case PasswordScheme::kPlain: return "PLAIN";
    case PasswordScheme::kScramSha256: return "SCRAM-SHA-256";
  }
  return "UNKNOWN";
}

Result<PasswordScheme> ParseScheme(std::string_view name) {
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}') name = name.substr(1, name.size() - 2);
  const std::string n = UpperCopy(name);
  if (n == "ARGON2ID") return PasswordScheme::kArgon2id;
  if (n == "SHA512-CRYPT") return PasswordScheme::kSha512Crypt;
  if (n == "YESCRYPT") return PasswordScheme::kYescrypt;
  if (n == "BLF-CRYPT" || n == "BCRYPT") return PasswordScheme::kBcrypt;
  if (n == "PLAIN" || n == "CLEAR" || n == "CLEARTEXT") return PasswordScheme::kPlain;
  if (n == "SCRAM-SHA-256") return PasswordScheme::kScramSha256;
  return Fail(ErrorKind::kInvalidInput, "password: unknown password scheme '" + Printable(name) +
                                            "' (want ARGON2ID, SHA512-CRYPT, YESCRYPT, BLF-CRYPT or PLAIN)");
}

}  // namespace columba::auth
