// options.h - columba-load's command line: the flags every scenario shares.
//
// Pure parsing: strings in, an Options value or an error message out; no I/O, so
// the parsers (durations, sizes, size distributions, recipient patterns) are unit
// tested without a socket. It must never accept a target it cannot prove is a
// loopback address unless --allow-remote is given: the load generator is for
// loopback and test hosts only, and it never resolves names through DNS.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace columba::loadtest {

template <class T>
using Parsed = tl::expected<T, std::string>;

// One entry of --size-dist: messages of `size` octets chosen with relative `weight`.
struct SizeBucket {
  uint64_t size = 0;
  uint32_t weight = 0;
};

// One entry of --mix: an IMAP operation chosen with relative `weight`.
struct MixItem {
  std::string op;
  uint32_t weight = 0;
};
// The operations --mix may name (scenario imap), and the default mix.
extern const std::vector<std::string_view> kImapMixOps;
std::vector<MixItem> DefaultImapMix();

struct Options {
  std::string scenario;  // the subcommand: "lmtp", "smtp", ...

  // Where to connect: TCP (host must be a numeric address) or a unix socket path.
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the scenario's default port
  std::string unix_path;
  bool allow_remote = false;

  int sessions = 1;
  std::chrono::milliseconds duration{0};  // measured period; 0 with messages == 0: 10 s
  uint64_t messages = 0;                  // measured messages in total; 0: run for `duration`
  double rate = 0;                        // messages/s over all sessions; 0: as fast as possible
  std::chrono::milliseconds warmup{0};    // sent before measuring starts, not counted
  std::chrono::milliseconds timeout{30000};  // per read/write; a session that waits longer reconnects

  std::vector<SizeBucket> sizes{{10 * 1024, 1}};
  std::vector<std::string> rcpts;  // filled from --rcpt or --rcpt-pattern/--rcpt-count
  int rcpts_per_msg = 1;
  std::string from = "loadgen@example.test";
  std::string helo = "columba-load.example.test";
  bool pipelining = false;  // LMTP/SMTP: send MAIL/RCPT/DATA in one write when advertised (smtp: on unless --no-pipelining)
  int messages_per_session = 0;  // LMTP/SMTP: QUIT and reconnect after this many messages; 0 = never (smtp default 10)
  // IMAP scenarios (imap, imap-idle, imap-notify).
  std::vector<std::string> users;   // --user / --user-pattern + --user-count; session i uses users[i % n]
  std::string password = "x";
  std::string mailbox = "INBOX";
  std::vector<MixItem> mix;         // imap: the weighted operations (DefaultImapMix() when not given)
  bool idle_hold = false;           // imap-idle: hold the connections in IDLE instead of just selected
  int connect_concurrency = 32;     // imap-idle: connections being set up at once
  std::string lmtp_host;            // imap-notify: where to deliver (LMTP); empty = not given
  uint16_t lmtp_port = 0;
  std::chrono::milliseconds interval{100};  // imap-notify: pause between deliveries

  bool json = false;
  bool dry_run = false;  // check the flags, print the plan, connect to nothing
  uint64_t seed = 1;
};

// "20s", "500ms", "2m", "1h", "1.5s"; a bare number is seconds.
Parsed<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "10k" (10 * 1024), "1m" (1024 * 1024), "512" (octets). Case-insensitive; "kb"/"mb" too.
Parsed<uint64_t> ParseSize(std::string_view text);
// "2k:50,10k:40,100k:10": sizes with relative weights (weights need not add up to 100).
Parsed<std::vector<SizeBucket>> ParseSizeDist(std::string_view text);
// "load%d@example.test" with count 3 -> load1@, load2@, load3@. Exactly one %d.
Parsed<std::vector<std::string>> ExpandRcptPattern(std::string_view pattern, int count);
// "fetch-flags:30,noop:10": IMAP operations with weights; names from kImapMixOps.
Parsed<std::vector<MixItem>> ParseMix(std::string_view text);
// "127.0.0.1:2424", "[::1]:2424", "localhost:2424" (localhost means 127.0.0.1).
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Parsed<HostPort> ParseTarget(std::string_view text);
// True for 127.0.0.0/8 and ::1 (numeric addresses only).
bool IsLoopback(std::string_view host);

// Parses argv (argv[1] is the scenario). Leaves port 0 when neither --target nor
// --unix is given (the caller applies the scenario's default). Returns an error
// message for the user on bad input.
Parsed<Options> ParseOptions(int argc, const char* const* argv);

// The --help text.
std::string UsageText();

}  // namespace columba::loadtest
