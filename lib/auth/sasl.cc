// sasl.cc - PLAIN, CRAM-MD5 and SCRAM-SHA-256 server computations (OpenSSL 3).
#include "lib/auth/sasl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <vector>

namespace columba::auth {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string SaltedPassword(std::string_view password, std::string_view salt, uint32_t iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                    static_cast<int>(iterations), EVP_sha256(), sizeof out, out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

bool SameBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Xor(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// SCRAM saslname: "=2C" for ',' and "=3D" for '='; any other '=' is an error.
Result<std::string> DecodeSaslName(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') return Fail(ErrorKind::kInvalidInput, "SCRAM: ',' in a name");
    if (s[i] != '=') {
      out.push_back(s[i]);
      continue;
    }
    if (s.substr(i, 3) == "=2C") out.push_back(',');
    else if (s.substr(i, 3) == "=3D") out.push_back('=');
    else return Fail(ErrorKind::kInvalidInput, "SCRAM: bad escape in a name");
    i += 2;
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto u = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (u(i) << 16) | (u(i + 1) << 8) | u(i + 2);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = u(i) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (u(i) << 16) | (u(i + 1) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return Fail(ErrorKind::kInvalidInput, "invalid base64 length");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int pad = (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=');
    if (pad && !last) return Fail(ErrorKind::kInvalidInput, "invalid base64 padding");
    int v[4];
    for (int k = 0; k < 4 - pad; ++k)
      if ((v[k] = val(in[i + k])) < 0) return Fail(ErrorKind::kInvalidInput, "invalid base64 character");
    if (pad == 0 && in[i + 2] == '=') return Fail(ErrorKind::kInvalidInput, "invalid base64 padding");
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (pad < 2 ? v[2] << 6 : 0) | (pad < 1 ? v[3] : 0);
    // Canonical form: the bits dropped by padding must be zero.
    if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
      return Fail(ErrorKind::kInvalidInput, "non-canonical base64");
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

Result<PlainCredentials> DecodePlain(std::string_view d) {
  auto a = d.find('\0');
  if (a == std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "PLAIN: missing separator");
  auto b = d.find('\0', a + 1);
  if (b == std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "PLAIN: missing separator");
  if (d.find('\0', b + 1) != std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "PLAIN: too many fields");
  PlainCredentials c{std::string(d.substr(0, a)), std::string(d.substr(a + 1, b - a - 1)),
                     std::string(d.substr(b + 1))};
  if (c.authcid.empty() || c.password.empty()) return Fail(ErrorKind::kInvalidInput, "PLAIN: empty user or password");
  if (c.authcid.size() > 255 || c.authzid.size() > 255 || c.password.size() > 1024)
    return Fail(ErrorKind::kInvalidInput, "PLAIN: field too long");
  return c;
}

Result<std::string> CramMd5User(std::string_view r) {
  auto sp = r.rfind(' ');
  if (sp == std::string_view::npos || sp == 0 || r.size() - sp - 1 != 32)
    return Fail(ErrorKind::kInvalidInput, "CRAM-MD5: expected 'user digest'");
  return std::string(r.substr(0, sp));
}

bool CramMd5Verify(std::string_view r, std::string_view challenge, std::string_view password) {
  auto sp = r.rfind(' ');
  if (sp == std::string_view::npos || r.size() - sp - 1 != 32) return false;
  std::string mac = Hmac(EVP_md5(), password, challenge);
  static const char* hex = "0123456789abcdef";
  std::string expect;
  for (unsigned char c : mac) {
    expect.push_back(hex[c >> 4]);
    expect.push_back(hex[c & 15]);
  }
  std::string got(r.substr(sp + 1));
  for (char& c : got) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return SameBytes(got, expect);
}

std::string FormatScramSecret(const ScramSecret& s) {
  return "{SCRAM-SHA-256}" + std::to_string(s.iterations) + "," + Base64Encode(s.salt) + "," +
         Base64Encode(s.stored_key) + "," + Base64Encode(s.server_key);
}

ScramSecret DeriveScramSecret(std::string_view password, std::string_view salt, uint32_t iterations) {
  ScramSecret s;
  s.iterations = iterations;
  s.salt = std::string(salt);
  std::string salted = SaltedPassword(password, s.salt, iterations);
  s.stored_key = Sha256(Hmac(EVP_sha256(), salted, "Client Key"));
  s.server_key = Hmac(EVP_sha256(), salted, "Server Key");
  return s;
}

std::string MakeScramSecret(std::string_view password, uint32_t iterations) {
  unsigned char salt[16];
  RAND_bytes(salt, sizeof salt);
  return FormatScramSecret(DeriveScramSecret(password, std::string_view(reinterpret_cast<char*>(salt), sizeof salt),
                                             iterations));
}

Result<ScramSecret> ParseScramSecret(std::string_view stored) {
  constexpr std::string_view kPrefix = "{SCRAM-SHA-256}";
  if (stored.substr(0, kPrefix.size()) == kPrefix) stored.remove_prefix(kPrefix.size());
  std::string_view f[4];
  for (int i = 0; i < 4; ++i) {
    auto c = stored.find(',');
    if ((i < 3) == (c == std::string_view::npos)) return Fail(ErrorKind::kInvalidInput, "SCRAM secret: need 4 fields");
    f[i] = stored.substr(0, c);
    if (i < 3) stored.remove_prefix(c + 1);
  }
  ScramSecret s;
  auto [p, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), s.iterations);
  if (ec != std::errc() || p != f[0].data() + f[0].size() || s.iterations < 4096 || s.iterations > 10'000'000)
    return Fail(ErrorKind::kInvalidInput, "SCRAM secret: iterations must be 4096..10000000");
  auto salt = Base64Decode(f[1]), stored_key = Base64Decode(f[2]), server_key = Base64Decode(f[3]);
  if (!salt || !stored_key || !server_key || salt->empty() || stored_key->size() != 32 || server_key->size() != 32)
    return Fail(ErrorKind::kInvalidInput, "SCRAM secret: bad salt or key");
  s.salt = *salt;
  s.stored_key = *stored_key;
  s.server_key = *server_key;
  return s;
}

bool VerifyScramPassword(std::string_view password, const ScramSecret& secret) {
  return SameBytes(DeriveScramSecret(password, secret.salt, secret.iterations).stored_key, secret.stored_key);
}

Result<std::string> ScramSha256Server::ReceiveClientFirst(std::string_view msg) {
  if (state_ != State::kStart) return Fail(ErrorKind::kInvalidInput, "SCRAM: unexpected client-first");
  if (msg.size() > 1024) return Fail(ErrorKind::kInvalidInput, "SCRAM: message too long");
  // gs2-header: ("n" | "y") "," [ "a=" saslname ] ","   ("p=" channel binding is not offered)
  if (msg.size() < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
    return Fail(ErrorKind::kInvalidInput, "SCRAM: channel binding is not supported");
  auto second = msg.find(',', 2);
  if (second == std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "SCRAM: bad gs2 header");
  std::string_view authz = msg.substr(2, second - 2);
  if (!authz.empty()) {
    if (authz.substr(0, 2) != "a=") return Fail(ErrorKind::kInvalidInput, "SCRAM: bad authzid");
    auto a = DecodeSaslName(authz.substr(2));
    if (!a) return tl::unexpected(a.error());
    authzid_ = *a;
  }
  gs2_header_ = std::string(msg.substr(0, second + 1));
  client_first_bare_ = std::string(msg.substr(second + 1));
  std::string_view bare = client_first_bare_;
  if (bare.substr(0, 2) != "n=") return Fail(ErrorKind::kInvalidInput, "SCRAM: expected n=");
  auto comma = bare.find(',');
  if (comma == std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "SCRAM: expected r=");
  auto user = DecodeSaslName(bare.substr(2, comma - 2));
  if (!user || user->empty()) return Fail(ErrorKind::kInvalidInput, "SCRAM: bad user name");
  std::string_view rest = bare.substr(comma + 1);
  if (rest.substr(0, 2) != "r=") return Fail(ErrorKind::kInvalidInput, "SCRAM: expected r=");
  auto end = rest.find(',');
  client_nonce_ = std::string(rest.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2));
  if (client_nonce_.empty()) return Fail(ErrorKind::kInvalidInput, "SCRAM: empty nonce");
  for (char c : client_nonce_)
    if (c < 0x21 || c > 0x7e) return Fail(ErrorKind::kInvalidInput, "SCRAM: bad nonce");
  user_ = *user;
  state_ = State::kGotClientFirst;
  return user_;
}

std::string ScramSha256Server::ServerFirst(const ScramSecret& secret, std::string_view server_nonce) {
  secret_ = secret;
  nonce_ = client_nonce_ + std::string(server_nonce);
  server_first_ = "r=" + nonce_ + ",s=" + Base64Encode(secret.salt) + ",i=" + std::to_string(secret.iterations);
  state_ = State::kSentFirst;
  return server_first_;
}

Result<std::string> ScramSha256Server::ReceiveClientFinal(std::string_view msg) {
  if (state_ != State::kSentFirst) return Fail(ErrorKind::kInvalidInput, "SCRAM: unexpected client-final");
  state_ = State::kDone;
  if (msg.size() > 1024) return Fail(ErrorKind::kInvalidInput, "SCRAM: message too long");
  auto p = msg.rfind(",p=");
  if (p == std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "SCRAM: missing proof");
  std::string_view without_proof = msg.substr(0, p);
  // c= must carry exactly our gs2 header; r= must be the combined nonce.
  std::string expect_prefix = "c=" + Base64Encode(gs2_header_) + ",r=" + nonce_;
  if (without_proof.substr(0, expect_prefix.size()) != expect_prefix ||
      (without_proof.size() > expect_prefix.size() && without_proof[expect_prefix.size()] != ','))
    return Fail(ErrorKind::kPermissionDenied, "SCRAM: channel binding or nonce mismatch");
  auto proof = Base64Decode(msg.substr(p + 3));
  if (!proof || proof->size() != 32) return Fail(ErrorKind::kInvalidInput, "SCRAM: bad proof encoding");
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  std::string client_signature = Hmac(EVP_sha256(), secret_.stored_key, auth_message);
  std::string client_key = Xor(*proof, client_signature);
  if (!SameBytes(Sha256(client_key), secret_.stored_key))
    return Fail(ErrorKind::kPermissionDenied, "SCRAM: authentication failed");
  return "v=" + Base64Encode(Hmac(EVP_sha256(), secret_.server_key, auth_message));
}

}  // namespace columba::auth
