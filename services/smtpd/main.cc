// main.cc - columba-smtpd: wiring only. SMTP ingress (RFC 5321) on the MX port;
// this first slice delivers to local recipients through lmtpd (docs/smtp.md).
//
// Usage: columba-smtpd [--config FILE]   (config keys: services/smtpd/README.md)
#include <iostream>

#include "lib/base/log.h"
#include "lib/net/asio_compat.h"
#include "lib/net/service_runtime.h"
#include "services/smtpd/session.h"
#include "storage/factory/factory.h"

using namespace columba;

namespace {

// The accept loop: a strand per session; closed when drain starts.
asio::awaitable<void> Accept(smtpd::ServerContext& ctx, asio::ip::tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    auto strand = asio::make_strand(ctx.runtime.io());
    asio::ip::tcp::socket sock(strand);
    auto [ec] = co_await acceptor.async_accept(sock, net::kNoThrow);
    if (ec) {
      if (!acceptor.is_open()) co_return;
      continue;
    }
    asio::error_code pe;
    auto remote = sock.remote_endpoint(pe);
    std::string ip = pe ? std::string() : remote.address().to_string();
    asio::co_spawn(strand, smtpd::RunSession(ctx, std::move(sock), std::move(ip)), asio::detached);
  }
}

}  // namespace

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
  std::string lmtp = r.String("smtp", "lmtp_address", "127.0.0.1:2424");
  cfg.lmtp_timeout = r.Duration("smtp", "lmtp_timeout", std::chrono::minutes(2), std::chrono::seconds(1),
                                std::chrono::minutes(30));
  int workers = static_cast<int>(r.Int("service", "blocking_threads", 16, 1, 1024));
  auto scfg = storage::ReadStorageConfig(r, false, true);
  auto hp = obs::SplitHostPort(listen);
  if (!hp) r.Invalid("smtp", "listen", "must be host:port");
  auto lhp = obs::SplitHostPort(lmtp);
  if (!lhp) r.Invalid("smtp", "lmtp_address", "must be host:port");
  auto trusted = net::CidrSet::Parse(trusted_list);
  if (!trusted) r.Invalid("smtp", "trusted_networks", trusted.error().message);
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

  auto directory = storage::MakeDirectory(scfg, true);
  if (!directory) {
    log::Error("storage", {{"error", directory.error().message}});
    return 1;
  }
  net::ServiceRuntime rt("smtpd");
  net::BlockingPool pool(static_cast<size_t>(workers), 10'000);
  smtpd::SmtpMetrics metrics(*rt.registry());
  net::ConnectionLimits conn_limits;
  smtpd::ServerContext ctx{cfg, std::move(*trusted), conn_limits, **directory, pool, metrics, rt};

  asio::ip::tcp::acceptor acceptor(rt.io());
  {
    asio::error_code ec;
    auto addr = asio::ip::make_address(hp->first, ec);
    asio::ip::tcp::endpoint ep(addr, hp->second);
    if (!ec) acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      log::Error("listen", {{"error", listen + ": " + ec.message()}});
      return 1;
    }
  }
  asio::co_spawn(rt.io(), Accept(ctx, acceptor), asio::detached);
  rt.OnDrain([&] {
    asio::error_code ignored;
    acceptor.close(ignored);
  });
  rt.SetReadiness([] { return obs::Readiness{true, ""}; });
  log::Info("listening", {{"smtp", listen}, {"lmtp", lmtp}, {"metrics", common.metrics_listen}});
  return rt.Run(common);
}
