// tls.cc - server TLS contexts (reloadable) and the STARTTLS-capable stream.
#include "lib/net/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace columba::net {

Result<std::shared_ptr<asio::ssl::context>> TlsContextHolder::Build(const TlsConfig& c) {
  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                     asio::ssl::context::single_dh_use);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!c.ciphers.empty() && SSL_CTX_set_cipher_list(native, c.ciphers.c_str()) != 1)
      return Fail(ErrorKind::kInvalidInput, "tls: no usable cipher in '" + c.ciphers + "'");
    ctx->use_certificate_chain_file(c.cert_file);
    ctx->use_private_key_file(c.key_file, asio::ssl::context::pem);
    if (SSL_CTX_check_private_key(native) != 1)
      return Fail(ErrorKind::kInvalidInput, "tls: private key does not match the certificate");
    if (!c.client_ca_file.empty()) {
      ctx->load_verify_file(c.client_ca_file);
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_ca_file.c_str()))
        SSL_CTX_set_client_CA_list(native, names);
      // Ask, never require: the handshake succeeds without a (valid) certificate;
      // VerifiedClientName() then reports nothing.
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
      static const unsigned char sid[] = "columba";
      SSL_CTX_set_session_id_context(native, sid, sizeof sid - 1);
    }
    return ctx;
  } catch (const std::system_error& e) {
    // The message names the file that failed, never its contents.
    return Fail(ErrorKind::kInvalidInput, std::string("tls: cannot load certificate or key: ") + e.what());
  }
}

TlsConfig ReadTlsConfig(ConfigReader& r, bool client_ca) {
  TlsConfig c;
  c.cert_file = r.String("tls", "cert_file", "");
  c.key_file = r.String("tls", "key_file", "");
  c.ciphers = r.String("tls", "ciphers", "");
  if (client_ca) c.client_ca_file = r.String("tls", "client_ca_file", "");
  return c;
}

Result<std::shared_ptr<TlsContextHolder>> MakeTlsIfConfigured(const TlsConfig& c) {
  if (c.cert_file.empty()) return std::shared_ptr<TlsContextHolder>();
  return TlsContextHolder::Create(c);
}

Result<std::shared_ptr<TlsContextHolder>> TlsContextHolder::Create(TlsConfig config) {
  std::shared_ptr<TlsContextHolder> h(new TlsContextHolder(std::move(config)));
  if (auto r = h->Reload(); !r) return tl::unexpected(r.error());
  return h;
}

Result<void> TlsContextHolder::Reload() {
  auto ctx = Build(config_);
  if (!ctx) return tl::unexpected(ctx.error());
  std::lock_guard lk(mu_);
  current_ = std::move(*ctx);
  return {};
}

std::shared_ptr<asio::ssl::context> TlsContextHolder::Current() const {
  std::lock_guard lk(mu_);
  return current_;
}

asio::awaitable<Result<void>> MaybeTlsStream::StartTls(std::shared_ptr<asio::ssl::context> ctx) {
  if (tls_) co_return Fail(ErrorKind::kInvalidInput, "TLS already active");
  ctx_ = std::move(ctx);
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *ctx_);
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (ec) co_return Fail(ErrorKind::kInvalidInput, "TLS handshake failed: " + ec.message());
  co_return Result<void>{};
}

std::string MaybeTlsStream::TlsDescription() const {
  if (!tls_) return "";
  SSL* ssl = const_cast<asio::ssl::stream<asio::ip::tcp::socket&>&>(*tls_).native_handle();
  return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

std::optional<std::string> MaybeTlsStream::VerifiedClientName() const {
  if (!tls_) return std::nullopt;
  SSL* ssl = const_cast<asio::ssl::stream<asio::ip::tcp::socket&>&>(*tls_).native_handle();
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  std::optional<std::string> name;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    char buf[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    if (n > 0 && static_cast<size_t>(n) < sizeof buf) {
      name = std::string(buf, static_cast<size_t>(n));
    } else {
      n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_pkcs9_emailAddress, buf, sizeof buf);
      if (n > 0 && static_cast<size_t>(n) < sizeof buf) name = std::string(buf, static_cast<size_t>(n));
    }
  }
  X509_free(cert);
  return name;
}

}  // namespace columba::net
