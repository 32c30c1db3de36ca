// columba_load.cc - NAME
//   columba-load - load generator for Columba's mail protocols (and any other
//   server speaking them, for comparison).
//
// SYNOPSIS
//   columba-load lmtp --target 127.0.0.1:2424 --sessions 8 --duration 20s
//                     --size 10k --rcpt-pattern 'load%d@example.test' --rcpt-count 100 [--json]
//   columba-load smtp --target 127.0.0.1:2525 --sessions 10 --message-size 10k
//                     --user-pattern 'load%d@example.test' --user-count 20 [--messages-per-session 10]
//
// DESCRIPTION
//   Runs N concurrent sessions of one scenario (the subcommand; see scenario.cc
//   for the table) on one event-loop thread, then prints throughput, error counts
//   by reply code and latency percentiles (text, or one JSON object with --json).
//   It only ever connects to the one endpoint it is told: a loopback address
//   unless --allow-remote is given, never a name looked up in DNS. It never
//   writes files; its only output is stdout/stderr.
//
// DIAGNOSTICS
//   Exit 0: the run finished and delivered at least one measured message.
//   Exit 1: nothing was delivered, or a session could not connect at all.
//   Exit 2: bad command line.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include "lib/net/asio_compat.h"
#include "loadtest/options.h"
#include "loadtest/run.h"
#include "loadtest/scenario.h"
#include "loadtest/stats.h"

namespace {

using namespace columba::loadtest;

std::string FormatSizeShort(uint64_t octets) {
  if (octets >= 1024 * 1024 && octets % (1024 * 1024) == 0) return fmt::format("{}m", octets / (1024 * 1024));
  if (octets >= 1024 && octets % 1024 == 0) return fmt::format("{}k", octets / 1024);
  return std::to_string(octets);
}

std::string DescribeSizes(const Options& o) {
  if (o.sizes.size() == 1) return FormatSizeShort(o.sizes[0].size);
  std::string out;
  for (const auto& b : o.sizes) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", FormatSizeShort(b.size), b.weight);
  return out;
}

std::string DescribeTarget(const Options& o) {
  if (!o.unix_path.empty()) return "unix:" + o.unix_path;
  if (o.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", o.host, o.port);
  return fmt::format("{}:{}", o.host, o.port);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h" || (i == 1 && a == "help")) {
      std::fputs(UsageText().c_str(), stdout);
      return 0;
    }
  }
  auto parsed = ParseOptions(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "columba-load: %s\n", parsed.error().c_str());
    return 2;
  }
  Options options = std::move(*parsed);
  const ScenarioInfo* info = FindScenario(options.scenario);
  if (!info) {
    std::fprintf(stderr, "columba-load: unknown scenario '%s' (try --help)\n", options.scenario.c_str());
    return 2;
  }
  if (options.unix_path.empty() && options.port == 0) options.port = info->default_port;
  if (options.dry_run) {
    std::string stop = options.messages > 0 ? fmt::format("{} messages", options.messages) : std::string();
    if (options.duration.count() > 0) {
      stop += fmt::format("{}{:g} s", stop.empty() ? "" : " or ", options.duration.count() / 1000.0);
    }
    std::printf("columba-load %s: would run %d session(s) against %s for %s after %g s warmup, sizes %s, "
                "%zu recipient(s), %d per message, rate %s\n",
                options.scenario.c_str(), options.sessions, DescribeTarget(options).c_str(), stop.c_str(),
                options.warmup.count() / 1000.0, DescribeSizes(options).c_str(), options.rcpts.size(),
                options.rcpts_per_msg, options.rate > 0 ? fmt::format("{:g} msgs/s", options.rate).c_str() : "unlimited");
    if (options.scenario == "lmtp" || options.scenario == "smtp") {
      std::printf("  %s: pipelining %s, %s\n", options.scenario.c_str(),
                  options.pipelining ? "when offered" : "off",
                  options.messages_per_session > 0
                      ? fmt::format("QUIT and reconnect every {} messages", options.messages_per_session).c_str()
                      : "one connection per session");
    }
    if (options.scenario.starts_with("imap")) {
      std::string mix;
      for (const auto& m : options.mix) mix += fmt::format("{}{}:{}", mix.empty() ? "" : ",", m.op, m.weight);
      std::printf("  imap: %zu user(s) from %s, mailbox %s, mix %s%s\n", options.users.size(),
                  options.users.front().c_str(), options.mailbox.c_str(), mix.c_str(),
                  options.scenario == "imap-idle" ? (options.idle_hold ? ", held in IDLE" : ", held selected") : "");
    }
    return 0;
  }

  // Many connections (imap-idle holds thousands): use every descriptor allowed.
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
  }

  asio::io_context io(1);
  // imap-idle holds its connections for --duration once all are set up; the Run
  // itself must not end the run while they are still connecting.
  Options run_options = options;
  if (options.scenario == "imap-idle") run_options.duration = std::chrono::milliseconds(0);
  Run run(io.get_executor(), run_options);
  auto scenario = info->make(options);

  // SIGINT/SIGTERM end the run gracefully: no new messages, in-flight ones finish.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) run.Stop();
  });

  int running = options.sessions;
  for (int i = 0; i < options.sessions; ++i) {
    asio::co_spawn(io, scenario->RunSession(run, i), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "columba-load: session failed: %s\n", ex.what());
        }
        run.SessionError("exception");
        run.SessionGaveUp();
      }
      if (--running == 0) signals.cancel();
    });
  }
  io.run();

  RunResult result = run.Result(options.scenario, DescribeTarget(options), DescribeSizes(options));
  std::string report;
  if (options.json) {
    report = FormatJson(result);
    std::string extra = scenario->ExtraJsonMembers(result.elapsed_s);
    // FormatJson ends with "}\n": add the scenario's members inside the object.
    if (!extra.empty() && report.size() >= 2) report = report.substr(0, report.size() - 2) + "," + extra + "}\n";
  } else {
    report = FormatText(result) + scenario->ExtraText(result.elapsed_s);
  }
  std::fputs(report.c_str(), stdout);
  std::fflush(stdout);
  if (result.delivered == 0 || run.sessions_gave_up() > 0) {
    std::fprintf(stderr, "columba-load: run failed (%llu delivered, %d session(s) gave up)\n",
                 static_cast<unsigned long long>(result.delivered), run.sessions_gave_up());
    return 1;
  }
  return 0;
}
