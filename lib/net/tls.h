// tls.h - TLS for every listener: server contexts that reload on SIGHUP, and a
// stream that starts in plaintext and can be upgraded in place (STARTTLS) or
// starts in TLS (implicit TLS ports).
//
// Policy: TLS 1.2 or newer only, OpenSSL 3 defaults for ciphers unless the
// operator sets `ciphers`; no compression, no renegotiation, server cipher
// preference. A reload that fails keeps serving with the old certificate and
// reports the error (a typo in a new key must not take the service down).
// The stream never writes plaintext after TLS started and never reads bytes
// that arrived before STARTTLS's reply into the TLS layer (the caller must
// discard its read buffer at the upgrade: command injection defence).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <asio/ssl.hpp>

#include "lib/base/config.h"
#include "lib/base/result.h"
#include "lib/net/asio_compat.h"

namespace columba::net {

struct TlsConfig {
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;   // PEM private key (never logged)
  std::string ciphers;    // OpenSSL cipher list for TLS 1.2; empty = OpenSSL defaults
  // PEM bundle of CAs whose client certificates count (SMTP relay by certificate).
  // When set, the server asks every client for a certificate but never requires
  // one: a missing or unverifiable certificate just grants nothing.
  std::string client_ca_file;
};

// The `tls` section: cert_file, key_file, ciphers and, for services that grant
// something to client certificates (smtpd), client_ca_file; all "" by default.
TlsConfig ReadTlsConfig(ConfigReader& r, bool client_ca);
class TlsContextHolder;
// The holder for `c`, or null when no certificate is configured (no TLS).
Result<std::shared_ptr<TlsContextHolder>> MakeTlsIfConfigured(const TlsConfig& c);

// Holds the current server context; Current() is what a new handshake uses.
class TlsContextHolder {
 public:
  static Result<std::shared_ptr<TlsContextHolder>> Create(TlsConfig config);
  // Re-reads the files (SIGHUP). On failure the previous context stays in use.
  Result<void> Reload();
  std::shared_ptr<asio::ssl::context> Current() const;

 private:
  explicit TlsContextHolder(TlsConfig c) : config_(std::move(c)) {}
  static Result<std::shared_ptr<asio::ssl::context>> Build(const TlsConfig& c);
  TlsConfig config_;
  mutable std::mutex mu_;
  std::shared_ptr<asio::ssl::context> current_;
};

// A TCP connection that is plaintext until StartTls, TLS afterwards. It has the
// async_read_some/async_write_some of an asio stream, so LineReader and
// async_write work on it unchanged.
class MaybeTlsStream {
 public:
  using executor_type = asio::any_io_executor;
  explicit MaybeTlsStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  executor_type get_executor() { return socket_.get_executor(); }
  asio::ip::tcp::socket& lowest_layer() { return socket_; }
  bool tls() const { return tls_ != nullptr; }
  // Negotiated protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" (for Received: lines).
  std::string TlsDescription() const;

  // The subject of the client certificate when one was presented AND verified
  // against TlsConfig::client_ca_file: its commonName, or its
  // emailAddress attribute when there is no CN. nullopt otherwise.
  std::optional<std::string> VerifiedClientName() const;
  // Runs the server handshake (after a STARTTLS reply, or at once on implicit TLS ports).
  asio::awaitable<Result<void>> StartTls(std::shared_ptr<asio::ssl::context> ctx);

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    if (tls_) return tls_->async_read_some(b, std::forward<Token>(token));
    return socket_.async_read_some(b, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    if (tls_) return tls_->async_write_some(b, std::forward<Token>(token));
    return socket_.async_write_some(b, std::forward<Token>(token));
  }
  void close() {
    asio::error_code ec;
    socket_.close(ec);
  }
  void cancel() {
    asio::error_code ec;
    socket_.cancel(ec);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> ctx_;  // keeps the context of this session alive across reloads
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
};

}  // namespace columba::net
