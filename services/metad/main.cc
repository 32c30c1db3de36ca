// main.cc - columba-metad: wiring only. The metadata service: the only process
// that speaks SQL (DESIGN invariant 3).
//
// Usage: columba-metad [--config FILE]   (config keys: docs/operations.md#metad)
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "lib/base/log.h"
#include "lib/net/service_runtime.h"
#include "services/metad/queue_service.h"
#include "services/metad/directory_service.h"
#include "services/metad/service.h"
#include "storage/postgres/migrations.h"
#include "storage/postgres/pg_directory.h"

using namespace columba;

namespace {

struct MetadConfig {
  net::CommonConfig common;
  std::string listen;
  std::string postgres_uri;
  int db_connections;
  int max_queue;
  bool migrate_on_start;
};

MetadConfig ReadConfig(ConfigReader& r) {
  MetadConfig c;
  c.common = net::ReadCommonConfig(r, "127.0.0.1:29100");
  c.listen = r.String("metad", "listen", "127.0.0.1:27100");
  c.postgres_uri = r.String("metad", "postgres_uri", "");
  std::string uri_file = r.String("metad", "postgres_uri_file", "");
  if (!uri_file.empty()) {
    std::ifstream in(uri_file);
    if (!std::getline(in, c.postgres_uri)) r.Invalid("metad", "postgres_uri_file", "cannot read " + uri_file);
  }
  if (c.postgres_uri.empty()) r.Invalid("metad", "postgres_uri", "required (or postgres_uri_file)");
  c.db_connections = static_cast<int>(r.Int("metad", "db_connections", 16, 1, 1000));
  c.max_queue = static_cast<int>(r.Int("metad", "max_queue", 10000, 1, 1'000'000));
  c.migrate_on_start = r.Bool("metad", "migrate_on_start", false);
  return c;
}

}  // namespace

int main(int argc, char** argv, char** envp) {
  std::string config_path = net::ParseConfigFlag(argc, argv, "columba-metad");
  auto src = net::LoadConfigOrExit(config_path, envp);
  ConfigReader reader(src);
  MetadConfig cfg = ReadConfig(reader);
  if (auto fin = reader.Finish(); !fin) {
    std::cerr << fin.error().message << "\n";
    return 2;
  }
  net::ServiceRuntime rt("metad");
  log::Init("columba-metad", *log::ParseLevel(cfg.common.log_level));
  for (const auto& w : reader.warnings()) log::Warn("config", {{"warning", w}});

  if (cfg.migrate_on_start) {
    auto m = pg::ApplyMigrations(cfg.postgres_uri);
    if (!m) {
      log::Error("migration failed", {{"error", m.error().message}});
      return 1;
    }
  }

  metad::Metrics metrics(*rt.registry());
  auto pool = std::make_shared<pg::ConnectionPool>(cfg.postgres_uri, cfg.db_connections);
  auto store = std::make_shared<pg::PgStore>(pool);
  metad::WatchHub hub(cfg.postgres_uri, &metrics.notices);
  hub.Start();
  metad::MetadataService service(store, hub, cfg.db_connections, cfg.max_queue, metrics);
  // The outbound queue (queue.proto) shares the pool, the worker threads and the metrics.
  metad::QueueService queue_service(std::make_shared<pg::PgQueue>(pool), service);
  // The SQL directory (directory.backend: sql) on the same pool and workers.
  metad::DirectoryService directory_service(std::make_shared<pg::PgDirectory>(pool), service);

  grpc::ServerBuilder builder;
  int bound_port = 0;
  // A port already taken (say by a stale metad) must be an error, not a silent
  // share of the traffic: gRPC enables SO_REUSEPORT unless told not to.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(cfg.listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  builder.RegisterService(&queue_service);
  builder.RegisterService(&directory_service);
  builder.SetMaxReceiveMessageSize(64 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    log::Error("cannot listen for gRPC", {{"listen", cfg.listen}});
    return 1;
  }

  // Readiness: PostgreSQL answers and the LISTEN connection is up. Checked on a
  // background thread so /readyz never blocks the loop.
  std::atomic<bool> pg_ok{false};
  std::atomic<bool> stop_probe{false};
  std::thread probe([&] {
    while (!stop_probe) {
      bool ok = store->Ping().has_value();
      pg_ok = ok;
      metrics.pg_up.Set(ok ? 1 : 0);
      for (int i = 0; i < 20 && !stop_probe; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  rt.SetReadiness([&] {
    if (!pg_ok) return obs::Readiness{false, "postgres unreachable"};
    if (!hub.listening()) return obs::Readiness{false, "change feed (LISTEN) not connected"};
    return obs::Readiness{true, ""};
  });

  std::thread shutdown_thread;
  auto drain_timeout = cfg.common.drain_timeout;
  rt.OnDrain([&] {
    rt.SessionStarted();
    // Watch streams never end on their own: end them now (clients reconnect to
    // another replica and resync) so drain waits only for unary calls.
    hub.CloseAll();
    shutdown_thread = std::thread([&, drain_timeout] {
      server->Shutdown(std::chrono::system_clock::now() + drain_timeout);
      rt.SessionEnded();
    });
  });
  log::Info("listening", {{"grpc", cfg.listen}, {"metrics", cfg.common.metrics_listen}});
  int rc = rt.Run(cfg.common);
  if (shutdown_thread.joinable()) {
    shutdown_thread.join();
  } else {
    // Fixed in metad_test (MetricsPortInUseExitsOneAtOnce): when Run fails before
    // any drain (e.g. metrics port in use, rc 1) nobody shut the server down, so
    // Wait() below blocked forever and metad hung instead of exiting 1.
    server->Shutdown(std::chrono::system_clock::now());
  }
  server->Wait();
  stop_probe = true;
  probe.join();
  hub.Stop();
  service.Shutdown();
  return rc;
}
