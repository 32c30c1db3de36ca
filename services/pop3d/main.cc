// main.cc - columba-pop3d: wiring only. POP3 (RFC 1939) access to each
// account's INBOX, stateless (locks and POP-before-SMTP records in Redis,
// mailbox state through metad, bodies from the blob store).
//
// Usage: columba-pop3d [--config FILE]   (config keys: services/pop3d/README.md)
//
// NEVER
//   Never starts with a configuration it does not fully understand (unknown or
//   invalid keys end the process with status 2 before anything listens).
#include <algorithm>
#include <cctype>
#include <iostream>
#include <thread>

#include "lib/base/log.h"
#include "lib/net/service_runtime.h"
#include "lib/net/tcp_listener.h"
#include "services/pop3d/session.h"
#include "storage/factory/factory.h"
#include "storage/factory/probe.h"

using namespace columba;

int main(int argc, char** argv, char** envp) {
  std::string config_path = net::ParseConfigFlag(argc, argv, "columba-pop3d");
  auto src = net::LoadConfigOrExit(config_path, envp);
  ConfigReader r(src);
  auto common = net::ReadCommonConfig(r, "127.0.0.1:29110");
  pop3d::Pop3Config cfg;
  std::string listen = r.String("pop3", "listen", "127.0.0.1:2110");
  std::string tls_listen = r.String("pop3", "tls_listen", "127.0.0.1:2995");
  cfg.hostname = r.String("pop3", "hostname", "localhost");
  cfg.allow_plaintext_auth = r.Bool("pop3", "allow_plaintext_auth", false);
  auto trusted_list = r.List("pop3", "trusted_networks", {"127.0.0.1/32"});
  auto proxy_list = r.List("pop3", "proxy_networks", {});
  cfg.proxy_timeout = r.Duration("pop3", "proxy_timeout", std::chrono::seconds(10), std::chrono::milliseconds(100),
                                 std::chrono::minutes(5));
  // RFC 1939 3 asks for at least 10 minutes; shorter values are for tests.
  cfg.idle_timeout = r.Duration("pop3", "idle_timeout", std::chrono::minutes(10), std::chrono::seconds(1),
                                std::chrono::hours(24));
  cfg.login_timeout = r.Duration("pop3", "login_timeout", std::chrono::seconds(60), std::chrono::seconds(1),
                                 std::chrono::hours(1));
  auto guard_cfg = auth::ReadLoginGuardConfig(r, "pop3", true);
  for (const auto& entry : r.List("pop3", "pop_before_smtp_domain_ttl", {})) {
    auto eq = entry.find('=');
    auto ttl = eq == std::string::npos ? Result<std::chrono::milliseconds>(Fail(ErrorKind::kInvalidInput, "x"))
                                       : ParseDuration(entry.substr(eq + 1));
    if (!ttl || eq == 0) {
      r.Invalid("pop3", "pop_before_smtp_domain_ttl", "entries are domain=duration (got " + entry + ")");
      continue;
    }
    std::string domain = entry.substr(0, eq);
    for (auto& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    cfg.pop_before_smtp_domain_ttl[domain] = *ttl;
  }
  cfg.auth_mechanisms = r.List("pop3", "auth_mechanisms", {"PLAIN", "LOGIN"});
  for (auto& m : cfg.auth_mechanisms) {
    for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (m != "PLAIN" && m != "LOGIN" && m != "CRAM-MD5" && m != "SCRAM-SHA-256")
      r.Invalid("pop3", "auth_mechanisms", "supported: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 (got " + m + ")");
  }
  cfg.apop = r.Bool("pop3", "apop", false);
  cfg.allow_plain_passwords = r.Bool("auth", "allow_plain_passwords", false);
  cfg.max_line_length = static_cast<size_t>(r.Size("pop3", "max_line_length", 1024, 255, 64 * 1024));
  cfg.max_auth_line = static_cast<size_t>(r.Size("pop3", "max_auth_line", 16384, 1024, 1 << 20));
  cfg.max_commands = static_cast<uint64_t>(r.Int("pop3", "max_commands", 100'000, 10, 100'000'000));
  cfg.max_bad_commands = static_cast<int>(r.Int("pop3", "max_bad_commands", 20, 1, 10'000));
  cfg.max_connections_per_ip = static_cast<uint32_t>(r.Int("pop3", "max_connections_per_ip", 50, 0, 1'000'000));
  cfg.lock_lease = r.Duration("pop3", "lock_lease", std::chrono::seconds(60), std::chrono::seconds(1),
                              std::chrono::hours(1));
  cfg.expire = r.String("pop3", "expire", "NEVER");
  if (cfg.expire != "NEVER" && (cfg.expire.empty() || !std::all_of(cfg.expire.begin(), cfg.expire.end(), ::isdigit)))
    r.Invalid("pop3", "expire", "NEVER or a number of days");
  cfg.login_delay = r.Duration("pop3", "login_delay", std::chrono::seconds(0), std::chrono::seconds(0),
                               std::chrono::hours(24));
  cfg.fetch_page = static_cast<uint32_t>(r.Int("pop3", "fetch_page", 1000, 1, 100'000));
  cfg.read_ahead_bytes = r.Size("pop3", "read_ahead_bytes", 256 * 1024, 0, 64ull << 20);
  net::TlsConfig tls_cfg = net::ReadTlsConfig(r, false);
  std::string metad_address = r.String("metad", "address", "127.0.0.1:27100");
  auto metad_deadline = r.Duration("metad", "deadline", std::chrono::seconds(30), std::chrono::milliseconds(100),
                                   std::chrono::minutes(10));
  int workers = static_cast<int>(r.Int("service", "blocking_threads", 16, 1, 1024));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int hash_workers = static_cast<int>(r.Int("service", "hash_threads", std::max(1, cores / 2), 1, 256));
  auto scfg = storage::ReadStorageConfig(r, true, true);
  auto ecfg = storage::ReadEphemeralConfig(r);
  auto hp = obs::SplitHostPort(listen);
  if (!hp) r.Invalid("pop3", "listen", "must be host:port");
  std::optional<std::pair<std::string, uint16_t>> tls_hp;
  if (!tls_listen.empty()) {
    auto t = obs::SplitHostPort(tls_listen);
    if (!t) r.Invalid("pop3", "tls_listen", "must be host:port, or empty to disable implicit TLS");
    else tls_hp = *t;
    if (tls_cfg.cert_file.empty() || tls_cfg.key_file.empty())
      r.Invalid("tls", "cert_file", "tls.cert_file and tls.key_file are required when pop3.tls_listen is set");
  }
  auto trusted = net::CidrSet::Parse(trusted_list);
  if (!trusted) r.Invalid("pop3", "trusted_networks", trusted.error().message);
  auto proxies = net::CidrSet::Parse(proxy_list);
  if (!proxies) r.Invalid("pop3", "proxy_networks", proxies.error().message);
  if (auto fin = r.Finish(); !fin) {
    std::cerr << fin.error().message << "\n";
    return 2;
  }
  log::Init("columba-pop3d", *log::ParseLevel(common.log_level));
  for (const auto& w : r.warnings()) log::Warn("config", {{"warning", w}});
  if (cfg.idle_timeout < std::chrono::minutes(10))
    log::Warn("config", {{"warning", "pop3.idle_timeout is below RFC 1939's 10 minutes"}});

  auto made_tls = net::MakeTlsIfConfigured(tls_cfg);
  if (!made_tls) {
    log::Error("tls", {{"error", made_tls.error().message}});
    return 1;
  }
  std::shared_ptr<net::TlsContextHolder> tls = *made_tls;
  auto stores = storage::OpenFrontEndStorage(scfg);
  if (!stores) {
    log::Error("storage", {{"error", stores.error().message}});
    return 1;
  }
  auto ephemeral = storage::MakeEphemeral(ecfg, "columba-pop3d");
  if (!ephemeral) {
    log::Error("storage", {{"error", ephemeral.error().message}});
    return 1;
  }
  auth::LoginGuard guard(*ephemeral, guard_cfg);
  net::ConnectionLimits conn_limits;
  net::ServiceRuntime rt("pop3d");
  rpc::MetadClient metad(metad_address, metad_deadline);
  net::BlockingPool pool(static_cast<size_t>(workers), 10'000);
  net::BlockingPool hash_pool(static_cast<size_t>(hash_workers), 10'000);
  pop3d::Pop3Metrics metrics(*rt.registry());
  pop3d::ServerContext ctx{cfg,   std::move(*trusted), std::move(*proxies), tls,  *stores->directory, guard,
                           **ephemeral, conn_limits,   *stores->blobs,      metad, pool,  hash_pool, metrics, rt};

  // A strand per connection; the implicit-TLS port starts with the handshake.
  auto starter = [&ctx](bool implicit_tls) {
    return [&ctx, implicit_tls](asio::ip::tcp::socket s, std::string peer) {
      auto ex = s.get_executor();
      asio::co_spawn(ex, pop3d::RunSession(ctx, std::move(s), std::move(peer), implicit_tls), asio::detached);
    };
  };
  net::TcpListener plain(rt.io(), starter(false)), implicit(rt.io(), starter(true));
  if (auto l = plain.Listen(hp->first, hp->second); !l) {
    log::Error("listen", {{"error", l.error().message}});
    return 1;
  }
  if (tls_hp)
    if (auto l = implicit.Listen(tls_hp->first, tls_hp->second); !l) {
      log::Error("listen", {{"error", l.error().message}});
      return 1;
    }
  rt.OnDrain([&] {
    plain.Close();
    implicit.Close();
  });
  if (tls) rt.OnReload([&] { return tls->Reload(); });

  // Ready when metad's channel is usable and the directory and blob store answer.
  storage::StorageProbe probe(scfg, stores->blobs);
  rt.SetReadiness([&] { return probe.Readiness(metad.Reachable()); });
  log::Info("listening", {{"pop3", listen}, {"pop3s", tls_listen}, {"metrics", common.metrics_listen}});
  return rt.Run(common);
}
