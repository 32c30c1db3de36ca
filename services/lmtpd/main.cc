// main.cc - columba-lmtpd: wiring only. LMTP delivery (RFC 2033) into the mailstore.
//
// Usage: columba-lmtpd [--config FILE]   (config keys: docs/operations.md#lmtpd)
#include <iostream>

#include "lib/base/log.h"
#include "lib/net/service_runtime.h"
#include "services/lmtpd/listener.h"
#include "storage/factory/factory.h"
#include "storage/factory/probe.h"

using namespace columba;

int main(int argc, char** argv, char** envp) {
  std::string config_path = net::ParseConfigFlag(argc, argv, "columba-lmtpd");
  auto src = net::LoadConfigOrExit(config_path, envp);
  ConfigReader r(src);
  auto common = net::ReadCommonConfig(r, "127.0.0.1:29124");
  lmtpd::LmtpConfig cfg;
  std::string listen = r.String("lmtp", "listen", "127.0.0.1:2424");
  std::string unix_socket = r.String("lmtp", "unix_socket", "");
  cfg.hostname = r.String("lmtp", "hostname", "localhost");
  cfg.max_message_size = r.Size("lmtp", "max_message_size", 50ull << 20, 1024, 2ull << 30);
  cfg.max_recipients = static_cast<size_t>(r.Int("lmtp", "max_recipients", 1000, 1, 100'000));
  cfg.max_command_line = static_cast<size_t>(r.Size("lmtp", "max_command_line", 2048, 512, 64 << 10));
  cfg.max_data_line = static_cast<size_t>(r.Size("lmtp", "max_data_line", 1 << 20, 1000, 64 << 20));
  cfg.max_errors = static_cast<int>(r.Int("lmtp", "max_errors", 20, 1, 10'000));
  cfg.idle_timeout = r.Duration("lmtp", "idle_timeout", std::chrono::minutes(5), std::chrono::seconds(1),
                                std::chrono::hours(1));
  cfg.recipient_delimiter = r.String("lmtp", "recipient_delimiter", "+");
  cfg.max_parallel_copies = static_cast<size_t>(r.Int("lmtp", "max_parallel_copies", 8, 1, 256));
  std::string metad_address = r.String("metad", "address", "127.0.0.1:27100");
  auto metad_deadline = r.Duration("metad", "deadline", std::chrono::seconds(30), std::chrono::milliseconds(100),
                                   std::chrono::minutes(10));
  int workers = static_cast<int>(r.Int("service", "blocking_threads", 16, 1, 1024));
  auto account_ttl = r.Duration("lmtp", "account_cache_ttl", std::chrono::seconds(30), std::chrono::seconds(0),
                                std::chrono::hours(1));
  auto scfg = storage::ReadStorageConfig(r, true, true);
  auto hp = obs::SplitHostPort(listen);
  if (!hp) r.Invalid("lmtp", "listen", "must be host:port");
  if (auto fin = r.Finish(); !fin) {
    std::cerr << fin.error().message << "\n";
    return 2;
  }
  log::Init("columba-lmtpd", *log::ParseLevel(common.log_level));
  for (const auto& w : r.warnings()) log::Warn("config", {{"warning", w}});

  auto stores = storage::OpenFrontEndStorage(scfg);
  if (!stores) {
    log::Error("storage", {{"error", stores.error().message}});
    return 1;
  }
  net::ServiceRuntime rt("lmtpd");
  rpc::MetadClient metad(metad_address, metad_deadline);
  net::BlockingPool pool(static_cast<size_t>(workers), 10'000);
  lmtpd::AccountCache accounts(account_ttl);
  lmtpd::LmtpMetrics metrics(*rt.registry());
  lmtpd::ServerContext ctx{cfg, *stores->directory, lmtpd::DeliveryContext{*stores->blobs, metad, pool, accounts}, metrics, rt};

  lmtpd::Listeners listeners(ctx);
  if (auto l = listeners.ListenTcp(hp->first, hp->second); !l) {
    log::Error("listen", {{"error", l.error().message}});
    return 1;
  }
  if (!unix_socket.empty())
    if (auto l = listeners.ListenUnix(unix_socket); !l) {
      log::Error("listen", {{"error", l.error().message}});
      return 1;
    }
  rt.OnDrain([&] { listeners.Close(); });

  // Ready when metad's channel is usable and the directory and blob store answer.
  storage::StorageProbe probe(scfg, stores->blobs);
  rt.SetReadiness([&] { return probe.Readiness(metad.Reachable()); });
  log::Info("listening", {{"lmtp", listen}, {"unix", unix_socket}, {"metrics", common.metrics_listen}});
  return rt.Run(common);
}
