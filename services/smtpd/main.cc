// main.cc - columba-smtpd: wiring only. SMTP ingress (RFC 5321) on the MX,
// submission (STARTTLS) and submissions (implicit TLS) ports (docs/smtp.md).
//
// Usage: columba-smtpd [--config FILE]   (config keys: services/smtpd/README.md)
#include <unistd.h>

#include <iostream>
#include <thread>
#include <tuple>

#include "lib/auth/login_guard.h"
#include "lib/base/log.h"
#include "lib/net/asio_compat.h"
#include "lib/net/service_runtime.h"
#include "lib/net/tcp_listener.h"
#include "lib/rpc/metad_client.h"
#include "lib/rpc/queue_client.h"
#include "services/smtpd/session.h"
#include "storage/factory/factory.h"
#include "storage/factory/probe.h"

using namespace columba;

int main(int argc, char** argv, char** envp) {
  std::string config_path = net::ParseConfigFlag(argc, argv, "columba-smtpd");
  auto src = net::LoadConfigOrExit(config_path, envp);
  ConfigReader r(src);
  auto common = net::ReadCommonConfig(r, "127.0.0.1:29125");
  smtpd::SmtpConfig cfg;
  std::string listen = r.String("smtp", "listen", "127.0.0.1:2525");
  cfg.hostname = r.String("smtp", "hostname", "localhost");
  cfg.max_message_size = r.Size("smtp", "max_message_size", 50ull << 20, 1024, 2ull << 30);
  cfg.max_recipients = static_cast<size_t>(r.Int("smtp", "max_recipients", 100, 1, 10'000));
  cfg.max_errors = static_cast<int>(r.Int("smtp", "max_errors", 20, 1, 10'000));
  cfg.idle_timeout = r.Duration("smtp", "idle_timeout", std::chrono::minutes(5), std::chrono::seconds(1),
                                std::chrono::hours(1));
  cfg.relay_domains = r.List("smtp", "relay_domains", {});
  cfg.max_messages = static_cast<size_t>(r.Int("smtp", "max_messages_per_session", 100, 1, 100'000));
  cfg.max_commands = static_cast<size_t>(r.Int("smtp", "max_commands_per_message", 1000, 10, 1'000'000));
  cfg.max_session_time = r.Duration("smtp", "max_session_time", std::chrono::minutes(30), std::chrono::seconds(1),
                                    std::chrono::hours(24));
  cfg.max_connections_per_ip =
      static_cast<uint32_t>(r.Int("smtp", "max_connections_per_ip", 20, 0, 1'000'000));
  auto trusted_list = r.List("smtp", "trusted_networks", {"127.0.0.1/32", "::1/128"});
  auto proxy_list = r.List("smtp", "proxy_networks", {});
  cfg.proxy_timeout = r.Duration("smtp", "proxy_timeout", std::chrono::seconds(10), std::chrono::milliseconds(100),
                                 std::chrono::minutes(5));
  std::string submission_listen = r.String("smtp", "submission_listen", "127.0.0.1:2587");
  std::string submissions_listen = r.String("smtp", "submissions_listen", "");
  cfg.allow_plaintext_auth = r.Bool("smtp", "allow_plaintext_auth", false);
  cfg.sender_login_match = r.Bool("smtp", "sender_login_match", true);
  cfg.pop_before_smtp = r.Bool("smtp", "pop_before_smtp", true);
  std::string bare = r.String("smtp", "bare_line_ends", "normalize");
  if (bare != "normalize" && bare != "reject") r.Invalid("smtp", "bare_line_ends", "must be normalize or reject");
  cfg.reject_bare_line_ends = bare == "reject";
  // CRAM-MD5 needs the password itself in the directory: offered (by default) only
  // where the operator allows plain passwords (the same key columbactl reads).
  cfg.allow_plain_passwords = r.Bool("auth", "allow_plain_passwords", false);
  std::vector<std::string> default_mechs = {"PLAIN", "LOGIN"};
  if (cfg.allow_plain_passwords) default_mechs.push_back("CRAM-MD5");
  default_mechs.push_back("SCRAM-SHA-256");
  cfg.auth_mechanisms = r.List("smtp", "auth_mechanisms", default_mechs);
  for (auto& m : cfg.auth_mechanisms) {
    for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (m != "PLAIN" && m != "LOGIN" && m != "CRAM-MD5" && m != "SCRAM-SHA-256")
      r.Invalid("smtp", "auth_mechanisms", "supported: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 (got " + m + ")");
    if (m == "CRAM-MD5" && !cfg.allow_plain_passwords)
      r.Invalid("smtp", "auth_mechanisms", "CRAM-MD5 needs plain passwords in the directory: set auth.allow_plain_passwords");
  }
  auto guard_cfg = auth::ReadLoginGuardConfig(r, "smtp", false);
  net::TlsConfig tls_cfg = net::ReadTlsConfig(r, true);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int hash_workers = static_cast<int>(r.Int("service", "hash_threads", std::max(1, cores / 2), 1, 256));
  auto ecfg = storage::ReadEphemeralConfig(r);
  std::string lmtp = r.String("smtp", "lmtp_address", "127.0.0.1:2424");
  cfg.lmtp_timeout = r.Duration("smtp", "lmtp_timeout", std::chrono::minutes(2), std::chrono::seconds(1),
                                std::chrono::minutes(30));
  int workers = static_cast<int>(r.Int("service", "blocking_threads", 16, 1, 1024));
  auto scfg = storage::ReadStorageConfig(r, true, true);
  std::string metad_address = r.String("metad", "address", "127.0.0.1:27100");
  auto metad_deadline = r.Duration("metad", "deadline", std::chrono::seconds(10), std::chrono::milliseconds(100),
                                   std::chrono::minutes(10));
  bool run_queue = r.Bool("smtp", "queue_runner", true);
  smtpd::RunnerConfig runner_cfg;
  runner_cfg.interval = r.Duration("smtp", "queue_interval", std::chrono::seconds(5), std::chrono::milliseconds(100),
                                   std::chrono::hours(1));
  runner_cfg.retry_base = std::chrono::duration_cast<std::chrono::seconds>(r.Duration(
      "smtp", "queue_retry_base", std::chrono::minutes(1), std::chrono::seconds(1), std::chrono::hours(24)));
  runner_cfg.retry_max = std::chrono::duration_cast<std::chrono::seconds>(r.Duration(
      "smtp", "queue_retry_max", std::chrono::hours(1), std::chrono::seconds(1), std::chrono::hours(24)));
  runner_cfg.lifetime = std::chrono::duration_cast<std::chrono::seconds>(r.Duration(
      "smtp", "queue_lifetime", std::chrono::hours(5 * 24), std::chrono::minutes(1), std::chrono::hours(30 * 24)));
  auto hp = obs::SplitHostPort(listen);
  if (!hp) r.Invalid("smtp", "listen", "must be host:port");
  auto lhp = obs::SplitHostPort(lmtp);
  if (!lhp) r.Invalid("smtp", "lmtp_address", "must be host:port");
  auto trusted = net::CidrSet::Parse(trusted_list);
  if (!trusted) r.Invalid("smtp", "trusted_networks", trusted.error().message);
  auto proxies = net::CidrSet::Parse(proxy_list);
  if (!proxies) r.Invalid("smtp", "proxy_networks", proxies.error().message);
  std::optional<std::pair<std::string, uint16_t>> sub_hp, subs_hp;
  if (!submission_listen.empty()) {
    auto t = obs::SplitHostPort(submission_listen);
    if (!t) r.Invalid("smtp", "submission_listen", "must be host:port, or empty to disable the submission port");
    else sub_hp = *t;
  }
  if (!submissions_listen.empty()) {
    auto t = obs::SplitHostPort(submissions_listen);
    if (!t) r.Invalid("smtp", "submissions_listen", "must be host:port, or empty to disable implicit TLS");
    else subs_hp = *t;
    if (tls_cfg.cert_file.empty() || tls_cfg.key_file.empty())
      r.Invalid("tls", "cert_file", "tls.cert_file and tls.key_file are required when smtp.submissions_listen is set");
  }
  if (!tls_cfg.client_ca_file.empty() && tls_cfg.cert_file.empty())
    r.Invalid("tls", "client_ca_file", "needs tls.cert_file and tls.key_file");
  for (auto& d : cfg.relay_domains)
    for (char& ch : d) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (auto fin = r.Finish(); !fin) {
    std::cerr << fin.error().message << "\n";
    return 2;
  }
  cfg.lmtp_host = lhp->first;
  cfg.lmtp_port = lhp->second;
  log::Init("columba-smtpd", *log::ParseLevel(common.log_level));
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
  auto ephemeral = storage::MakeEphemeral(ecfg, "columba-smtpd");
  if (!ephemeral) {
    log::Error("storage", {{"error", ephemeral.error().message}});
    return 1;
  }
  auth::LoginGuard guard(*ephemeral, guard_cfg);
  net::ServiceRuntime rt("smtpd");
  net::BlockingPool pool(static_cast<size_t>(workers), 10'000);
  net::BlockingPool hash_pool(static_cast<size_t>(hash_workers), 10'000);
  smtpd::SmtpMetrics metrics(*rt.registry());
  net::ConnectionLimits conn_limits;
  rpc::MetadClient metad(metad_address, metad_deadline);  // readiness; the queue shares its channel
  rpc::QueueClient queue_client(metad.channel(), metad_deadline);
  smtpd::QueueContext queue{*stores->blobs, queue_client, pool, *stores->directory, cfg.hostname};
  smtpd::ServerContext ctx{cfg,         std::move(*trusted), std::move(*proxies), tls,
                           !tls_cfg.client_ca_file.empty(), conn_limits, *stores->directory, guard,
                           *ephemeral,  pool,                hash_pool,           queue,
                           metrics,     rt};
  // Local recipients lmtpd could not take at once are retried from the queue by
  // every smtpd replica (leases keep them apart).
  bool stop_runner = false;
  runner_cfg.lmtp_host = cfg.lmtp_host;
  runner_cfg.lmtp_port = cfg.lmtp_port;
  runner_cfg.lhlo_name = cfg.hostname;
  runner_cfg.lmtp_timeout = cfg.lmtp_timeout;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  smtpd::LocalQueueRunner runner(queue, runner_cfg, std::string(host) + ":" + std::to_string(::getpid()));
  if (run_queue) asio::co_spawn(rt.io(), runner.Run(stop_runner), asio::detached);

  // A strand per connection (lib/net/tcp_listener.h), one listener per port kind.
  auto starter = [&ctx](smtpd::PortKind kind) {
    return [&ctx, kind](asio::ip::tcp::socket s, std::string peer) {
      auto ex = s.get_executor();
      asio::co_spawn(ex, smtpd::RunSession(ctx, std::move(s), std::move(peer), kind), asio::detached);
    };
  };
  net::TcpListener mx(rt.io(), starter(smtpd::PortKind::kMx));
  net::TcpListener submission(rt.io(), starter(smtpd::PortKind::kSubmission));
  net::TcpListener submissions(rt.io(), starter(smtpd::PortKind::kSubmissions));
  for (auto [listener, where] : {std::pair{&mx, std::optional(*hp)}, std::pair{&submission, sub_hp},
                                 std::pair{&submissions, subs_hp}}) {
    if (!where) continue;
    if (auto l = listener->Listen(where->first, where->second); !l) {
      log::Error("listen", {{"error", l.error().message}});
      return 1;
    }
  }
  rt.OnDrain([&] {
    stop_runner = true;
    mx.Close();
    submission.Close();
    submissions.Close();
  });
  if (tls) rt.OnReload([&] { return tls->Reload(); });
  // Ready when metad (the queue) is reachable and the directory and blob store answer.
  storage::StorageProbe probe(scfg, stores->blobs);
  rt.SetReadiness([&] { return probe.Readiness(metad.Reachable()); });
  log::Info("listening", {{"smtp", listen},
                          {"submission", submission_listen},
                          {"submissions", submissions_listen},
                          {"lmtp", lmtp},
                          {"metrics", common.metrics_listen}});
  return rt.Run(common);
}
