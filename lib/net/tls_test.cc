// tls_test.cc - STARTTLS upgrade over real loopback sockets, TLS 1.2 floor,
// and certificate reload that never drops the working context.
#include "lib/net/tls.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lib/net/line_reader.h"

namespace fs = std::filesystem;
using namespace columba;
using namespace columba::net;

namespace {

struct CertDir {
  fs::path dir;
  CertDir() {
    dir = fs::temp_directory_path() / ("columba-tls-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    fs::create_directories(dir);
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " +
                      (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "openssl (Debian package openssl) is needed";
  }
  ~CertDir() { fs::remove_all(dir); }
  TlsConfig Config() const { return {(dir / "cert.pem").string(), (dir / "key.pem").string(), "", ""}; }
};

// Server: plaintext "STARTTLS" line -> "OK", handshake, then echo one line inside TLS.
asio::awaitable<void> Serve(asio::ip::tcp::acceptor& acc, std::shared_ptr<TlsContextHolder> tls, std::string& got,
                            std::string& desc, bool& handshake_ok) {
  auto [ec, sock] = co_await acc.async_accept(kNoThrow);
  if (ec) co_return;
  MaybeTlsStream s(std::move(sock));
  {
    LineReader<MaybeTlsStream> plain(s);
    auto l = co_await plain.ReadLine(100);
    if (l.text != "STARTTLS") co_return;
    co_await asio::async_write(s, asio::buffer(std::string("OK\r\n")), kNoThrow);
  }  // the plaintext reader and anything it buffered are discarded here
  auto r = co_await s.StartTls(tls->Current());
  handshake_ok = r.has_value();
  if (!r) co_return;
  desc = s.TlsDescription();
  LineReader<MaybeTlsStream> reader(s);
  auto l = co_await reader.ReadLine(100);
  got = l.text;
  co_await asio::async_write(s, asio::buffer("echo " + got + "\r\n"), kNoThrow);
}

struct Outcome {
  bool server_handshake = false;
  bool client_handshake = false;
  std::string server_got, client_got, desc;
};

Outcome RunOnce(std::shared_ptr<TlsContextHolder> tls, int client_max_version) {
  asio::io_context io;
  asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = acc.local_endpoint().port();
  Outcome o;
  asio::co_spawn(io, Serve(acc, tls, o.server_got, o.desc, o.server_handshake), asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    asio::ip::tcp::socket sock(io);
    auto [ec] = co_await sock.async_connect({asio::ip::make_address("127.0.0.1"), port}, kNoThrow);
    if (ec) co_return;
    co_await asio::async_write(sock, asio::buffer(std::string("STARTTLS\r\n")), kNoThrow);
    std::string buf;
    co_await asio::async_read_until(sock, asio::dynamic_buffer(buf), "\r\n", kNoThrow);
    asio::ssl::context cctx(asio::ssl::context::tls_client);
    cctx.set_verify_mode(asio::ssl::verify_none);
    SSL_CTX_set_max_proto_version(cctx.native_handle(), client_max_version);
    SSL_CTX_set_security_level(cctx.native_handle(), 0);
    asio::ssl::stream<asio::ip::tcp::socket&> tls_client(sock, cctx);
    auto [hec] = co_await tls_client.async_handshake(asio::ssl::stream_base::client, kNoThrow);
    o.client_handshake = !hec;
    if (hec) co_return;
    co_await asio::async_write(tls_client, asio::buffer(std::string("hello\r\n")), kNoThrow);
    std::string reply;
    co_await asio::async_read_until(tls_client, asio::dynamic_buffer(reply), "\r\n", kNoThrow);
    o.client_got = reply;
  }, asio::detached);
  io.run_for(std::chrono::seconds(10));
  return o;
}

}  // namespace

TEST(Tls, StartTlsUpgradesTheConnection) {
  CertDir certs;
  auto tls = TlsContextHolder::Create(certs.Config());
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  auto o = RunOnce(*tls, TLS1_3_VERSION);
  EXPECT_TRUE(o.server_handshake);
  EXPECT_TRUE(o.client_handshake);
  EXPECT_EQ(o.server_got, "hello");
  EXPECT_EQ(o.client_got, "echo hello\r\n");
  EXPECT_EQ(o.desc.rfind("TLSv1.3 ", 0), 0u) << o.desc;
}

TEST(Tls, ClientsBelowTls12AreRefused) {
  CertDir certs;
  auto tls = TlsContextHolder::Create(certs.Config());
  ASSERT_TRUE(tls.has_value());
  auto o = RunOnce(*tls, TLS1_1_VERSION);
  EXPECT_FALSE(o.client_handshake);
  EXPECT_FALSE(o.server_handshake);
}

TEST(Tls, BadFilesFailClearlyAndAFailedReloadKeepsTheOldContext) {
  CertDir certs;
  auto missing = TlsContextHolder::Create({"/nonexistent/cert.pem", "/nonexistent/key.pem", "", ""});
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("tls:"), std::string::npos);

  auto tls = TlsContextHolder::Create(certs.Config());
  ASSERT_TRUE(tls.has_value());
  auto before = (*tls)->Current();
  {
    std::ofstream broken(certs.dir / "key.pem", std::ios::trunc);
    broken << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  }
  auto r = (*tls)->Reload();
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find("not a key"), std::string::npos) << "never echo key material";
  EXPECT_EQ((*tls)->Current(), before);
  auto o = RunOnce(*tls, TLS1_3_VERSION);
  EXPECT_TRUE(o.client_handshake) << "still serving with the old certificate";
}
