// main.cc - columba-imapd: wiring only. IMAP4rev1 access to the mailstore
// (first slice: see README.md).
//
// Usage: columba-imapd [--config FILE]   (config keys: services/imapd/README.md)
#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <thread>

#include "lib/base/log.h"
#include "lib/net/service_runtime.h"
#include "lib/net/tcp_listener.h"
#include "services/imapd/session.h"
#include "services/imapd/message_cache.h"
#include "services/imapd/watch.h"
#include "storage/factory/factory.h"
#include "storage/factory/probe.h"

using namespace columba;

int main(int argc, char** argv, char** envp) {
  std::string config_path = net::ParseConfigFlag(argc, argv, "columba-imapd");
  auto src = net::LoadConfigOrExit(config_path, envp);
  ConfigReader r(src);
  auto common = net::ReadCommonConfig(r, "127.0.0.1:29143");
  imapd::ImapConfig cfg;
  std::string listen = r.String("imap", "listen", "127.0.0.1:2143");
  std::string tls_listen = r.String("imap", "tls_listen", "127.0.0.1:2993");
  cfg.hostname = r.String("imap", "hostname", "localhost");
  cfg.allow_plaintext_auth = r.Bool("imap", "allow_plaintext_auth", false);
  auto trusted_list = r.List("imap", "trusted_networks", {"127.0.0.1/32"});
  cfg.idle_timeout = r.Duration("imap", "idle_timeout", std::chrono::minutes(30), std::chrono::seconds(1),
                                std::chrono::hours(24));
  auto guard_cfg = auth::ReadLoginGuardConfig(r, "imap", true);
  cfg.login_timeout = r.Duration("imap", "login_timeout", std::chrono::seconds(60), std::chrono::seconds(1),
                                 std::chrono::hours(1));
  cfg.auth_mechanisms = r.List("imap", "auth_mechanisms", {"PLAIN", "LOGIN"});
  for (auto& m : cfg.auth_mechanisms) {
    for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (m != "PLAIN" && m != "LOGIN" && m != "SCRAM-SHA-256")
      r.Invalid("imap", "auth_mechanisms", "supported: PLAIN, LOGIN, SCRAM-SHA-256 (got " + m + ")");
  }
  cfg.max_connections_per_ip = static_cast<uint32_t>(r.Int("imap", "max_connections_per_ip", 50, 0, 1'000'000));
  cfg.max_connections_per_user = static_cast<uint32_t>(r.Int("imap", "max_connections_per_user", 20, 0, 1'000'000));
  cfg.max_bad_commands = static_cast<int>(r.Int("imap", "max_bad_commands", 20, 1, 10'000));
  cfg.fetch_batch = static_cast<uint32_t>(r.Int("imap", "fetch_batch", 500, 1, 100'000));
  cfg.fetch_stream_threshold = r.Size("imap", "fetch_stream_threshold", 256 * 1024, 0, 1ull << 40);
  cfg.poll_max_staleness = r.Duration("imap", "poll_max_staleness", std::chrono::seconds(1),
                                      std::chrono::milliseconds(0), std::chrono::minutes(1));
  cfg.watch_linger = r.Duration("imap", "watch_linger", std::chrono::seconds(60), std::chrono::milliseconds(0),
                                std::chrono::hours(1));
  cfg.index_max_messages = static_cast<uint32_t>(r.Int("imap", "index_max_messages", 50'000, 0, 10'000'000));
  cfg.index_max_bytes = r.Size("imap", "index_max_bytes", 256ull << 20, 0, 1ull << 40);
  cfg.message_cache_bytes = r.Size("imap", "message_cache_bytes", 32ull << 20, 0, 1ull << 40);
  auto& lim = cfg.limits;
  lim.max_line_length_unauthenticated = static_cast<size_t>(
      r.Size("imap", "max_line_length_unauthenticated", lim.max_line_length_unauthenticated, 1024, 1 << 20));
  lim.max_line_length = static_cast<size_t>(r.Size("imap", "max_line_length", lim.max_line_length, 1024, 16 << 20));
  lim.max_literal_size_unauthenticated = r.Size("imap", "max_literal_size_unauthenticated",
                                                lim.max_literal_size_unauthenticated, 1024, 1 << 20);
  lim.max_literal_size = r.Size("imap", "max_literal_size", lim.max_literal_size, 1024, 2ull << 30);
  lim.max_command_size_unauthenticated = r.Size("imap", "max_command_size_unauthenticated",
                                                lim.max_command_size_unauthenticated, 4096, 16 << 20);
  lim.max_command_size = r.Size("imap", "max_command_size", lim.max_command_size, 4096, 8ull << 30);
  lim.max_nesting = static_cast<size_t>(r.Int("imap", "max_nesting", static_cast<int64_t>(lim.max_nesting), 4, 1000));
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
  if (!hp) r.Invalid("imap", "listen", "must be host:port");
  std::optional<std::pair<std::string, uint16_t>> tls_hp;
  if (!tls_listen.empty()) {
    auto t = obs::SplitHostPort(tls_listen);
    if (!t) r.Invalid("imap", "tls_listen", "must be host:port, or empty to disable implicit TLS");
    else tls_hp = *t;
    if (tls_cfg.cert_file.empty() || tls_cfg.key_file.empty())
      r.Invalid("tls", "cert_file", "tls.cert_file and tls.key_file are required when imap.tls_listen is set");
  }
  auto trusted = net::CidrSet::Parse(trusted_list);
  if (!trusted) r.Invalid("imap", "trusted_networks", trusted.error().message);
  if (auto fin = r.Finish(); !fin) {
    std::cerr << fin.error().message << "\n";
    return 2;
  }
  log::Init("columba-imapd", *log::ParseLevel(common.log_level));
  for (const auto& w : r.warnings()) log::Warn("config", {{"warning", w}});

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
  auto ephemeral = storage::MakeEphemeral(ecfg, "columba-imapd");
  if (!ephemeral) {
    log::Error("storage", {{"error", ephemeral.error().message}});
    return 1;
  }
  auth::LoginGuard guard(*ephemeral, guard_cfg);
  net::ConnectionLimits conn_limits;
  net::ServiceRuntime rt("imapd");
  rpc::MetadClient metad(metad_address, metad_deadline);
  net::BlockingPool pool(static_cast<size_t>(workers), 10'000);
  net::BlockingPool hash_pool(static_cast<size_t>(hash_workers), 10'000);
  imapd::ImapMetrics metrics(*rt.registry());
  imapd::WatchHub watches(metad, rt.io().get_executor(), cfg.watch_linger);
  imapd::MessageCache messages(cfg.message_cache_bytes);
  imapd::ServerContext ctx{cfg,           std::move(*trusted), tls,  *stores->directory, guard, conn_limits, watches,
                           *stores->blobs, metad,               pool, hash_pool, metrics, rt, messages};

  // A strand per connection; the implicit-TLS port starts with the handshake.
  auto starter = [&ctx](bool implicit_tls) {
    return [&ctx, implicit_tls](asio::ip::tcp::socket s, std::string peer) {
      auto ex = s.get_executor();
      asio::co_spawn(ex, imapd::RunSession(ctx, std::move(s), std::move(peer), implicit_tls), asio::detached);
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
  log::Info("listening", {{"imap", listen}, {"imaps", tls_listen}, {"metrics", common.metrics_listen}});
  return rt.Run(common);
}
