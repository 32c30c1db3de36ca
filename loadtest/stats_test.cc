// stats_test.cc - unit tests for columba-load's pure parts: percentiles and the
// report, flag parsing (durations, sizes, distributions, recipients, targets) and
// the generated messages (exact size, line limits, dot-stuffing round trip).
//
// Hermetic: no sockets, no clocks that matter, no files.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lib/smtp/data_reader.h"
#include "loadtest/message.h"
#include "loadtest/options.h"
#include "loadtest/stats.h"

namespace columba::loadtest {
namespace {

TEST(Percentile, NearestRank) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 50), 50u);
  EXPECT_EQ(Percentile(v, 95), 95u);
  EXPECT_EQ(Percentile(v, 99), 99u);
  EXPECT_EQ(Percentile(v, 100), 100u);
  EXPECT_EQ(Percentile(v, 0), 1u);
  EXPECT_EQ(Percentile(v, 99.5), 100u);
}

TEST(Percentile, SmallAndEmpty) {
  EXPECT_EQ(Percentile({}, 99), 0u);
  std::vector<uint64_t> one{7};
  EXPECT_EQ(Percentile(one, 50), 7u);
  EXPECT_EQ(Percentile(one, 99), 7u);
  std::vector<uint64_t> ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 1000};
  EXPECT_EQ(Percentile(ten, 50), 5u);
  EXPECT_EQ(Percentile(ten, 90), 9u);
  EXPECT_EQ(Percentile(ten, 95), 1000u);  // a real sample, never interpolated
}

TEST(LatencySamples, Summary) {
  LatencySamples s;
  for (int i = 100; i >= 1; --i) s.Add(std::chrono::milliseconds(i));  // unsorted input
  auto sum = s.Summarize();
  EXPECT_EQ(sum.count, 100u);
  EXPECT_DOUBLE_EQ(sum.p50_ms, 50.0);
  EXPECT_DOUBLE_EQ(sum.p95_ms, 95.0);
  EXPECT_DOUBLE_EQ(sum.p99_ms, 99.0);
  EXPECT_DOUBLE_EQ(sum.max_ms, 100.0);
  EXPECT_DOUBLE_EQ(sum.mean_ms, 50.5);
  EXPECT_EQ(LatencySamples().Summarize().count, 0u);
}

TEST(Report, JsonFieldsAndRates) {
  RunResult r;
  r.scenario = "lmtp";
  r.target = "127.0.0.1:2424";
  r.sessions = 8;
  r.sizes = "10k";
  r.elapsed_s = 2;
  r.delivered = 100;
  r.bytes_delivered = 1000;
  r.errors["451"] = 3;
  r.errors["timeout"] = 1;
  EXPECT_DOUBLE_EQ(r.msgs_per_s(), 50);
  EXPECT_DOUBLE_EQ(r.bytes_per_s(), 500);
  std::string j = FormatJson(r);
  EXPECT_NE(j.find("\"msgs_per_s\":50.00"), std::string::npos) << j;
  EXPECT_NE(j.find("\"errors\":{\"451\":3,\"timeout\":1}"), std::string::npos) << j;
  EXPECT_NE(j.find("\"latency_ms\":{\"count\":0,\"p50\":"), std::string::npos) << j;
  EXPECT_EQ(j.back(), '\n');
  std::string t = FormatText(r);
  EXPECT_NE(t.find("451: 3"), std::string::npos) << t;
}

TEST(Options, Durations) {
  EXPECT_EQ(ParseDuration("20s").value(), std::chrono::seconds(20));
  EXPECT_EQ(ParseDuration("500ms").value(), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("2m").value(), std::chrono::minutes(2));
  EXPECT_EQ(ParseDuration("1.5s").value(), std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseDuration("3").value(), std::chrono::seconds(3));
  EXPECT_FALSE(ParseDuration("").has_value());
  EXPECT_FALSE(ParseDuration("-1s").has_value());
  EXPECT_FALSE(ParseDuration("5x").has_value());
  EXPECT_FALSE(ParseDuration("9999h").has_value());
}

TEST(Options, Sizes) {
  EXPECT_EQ(ParseSize("10k").value(), 10240u);
  EXPECT_EQ(ParseSize("10KB").value(), 10240u);
  EXPECT_EQ(ParseSize("1m").value(), 1048576u);
  EXPECT_EQ(ParseSize("512").value(), 512u);
  EXPECT_FALSE(ParseSize("0").has_value());
  EXPECT_FALSE(ParseSize("10q").has_value());
  EXPECT_FALSE(ParseSize("2g").has_value());
  auto d = ParseSizeDist("2k:50,10k:40,100k:10").value();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].size, 2048u);
  EXPECT_EQ(d[2].weight, 10u);
  EXPECT_FALSE(ParseSizeDist("2k").has_value());
  EXPECT_FALSE(ParseSizeDist("2k:0").has_value());
  EXPECT_FALSE(ParseSizeDist("2k:x").has_value());
}

TEST(Options, RecipientsAndTargets) {
  auto r = ExpandRcptPattern("load%d@example.test", 3).value();
  EXPECT_EQ(r, (std::vector<std::string>{"load1@example.test", "load2@example.test", "load3@example.test"}));
  EXPECT_FALSE(ExpandRcptPattern("load@example.test", 3).has_value());
  EXPECT_FALSE(ExpandRcptPattern("load%d%s@example.test", 3).has_value());
  EXPECT_FALSE(ExpandRcptPattern("load%d@example.test", 0).has_value());

  EXPECT_EQ(ParseTarget("127.0.0.1:2424").value().port, 2424);
  EXPECT_EQ(ParseTarget("localhost:24").value().host, "127.0.0.1");
  EXPECT_EQ(ParseTarget("[::1]:2424").value().host, "::1");
  EXPECT_FALSE(ParseTarget("mail.example.com:25").has_value());  // no DNS
  EXPECT_FALSE(ParseTarget("127.0.0.1").has_value());
  EXPECT_FALSE(ParseTarget("127.0.0.1:0").has_value());
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("127.3.2.1"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_FALSE(IsLoopback("10.0.0.1"));
}

TEST(Options, CommandLine) {
  const char* ok[] = {"columba-load", "lmtp", "--target", "127.0.0.1:24240", "--sessions=8", "--duration", "20s",
                      "--rcpt-pattern", "load%d@example.test", "--rcpt-count", "10", "--json"};
  auto o = ParseOptions(static_cast<int>(std::size(ok)), ok).value();
  EXPECT_EQ(o.scenario, "lmtp");
  EXPECT_EQ(o.port, 24240);
  EXPECT_EQ(o.sessions, 8);
  EXPECT_EQ(o.rcpts.size(), 10u);
  EXPECT_TRUE(o.json);

  const char* remote[] = {"columba-load", "lmtp", "--target", "192.0.2.1:24", "--rcpt", "a@example.test"};
  EXPECT_FALSE(ParseOptions(6, remote).has_value());
  const char* allowed[] = {"columba-load", "lmtp", "--target", "192.0.2.1:24", "--rcpt", "a@example.test",
                           "--allow-remote"};
  EXPECT_TRUE(ParseOptions(7, allowed).has_value());
  const char* no_rcpt[] = {"columba-load", "lmtp"};
  EXPECT_FALSE(ParseOptions(2, no_rcpt).has_value());
  const char* too_many[] = {"columba-load", "lmtp", "--rcpt", "a@example.test", "--rcpts-per-msg", "2"};
  EXPECT_FALSE(ParseOptions(6, too_many).has_value());
  const char* both[] = {"columba-load", "lmtp", "--rcpt", "a@example.test", "--size", "1k", "--size-dist", "1k:1"};
  EXPECT_FALSE(ParseOptions(8, both).has_value());
  const char* defaults[] = {"columba-load", "lmtp", "--rcpt", "a@example.test"};
  EXPECT_EQ(ParseOptions(4, defaults).value().duration, std::chrono::seconds(10));
}

TEST(Message, ExactSizeLinesAndDotStuffing) {
  std::mt19937_64 rng(42);
  for (uint64_t size : {600u, 700u, 1000u, 2048u, 10240u, 10241u, 102400u}) {
    MessageSpec spec;
    spec.seq = size;
    spec.run_id = "1.2";
    spec.from = "loadgen@example.test";
    spec.to = {"load1@example.test", "load2@example.test"};
    spec.date = "Tue, 02 Jan 2024 10:00:00 +0000";
    spec.size = size;
    std::string m = BuildMessage(spec, rng);
    EXPECT_EQ(m.size(), size);
    // CRLF everywhere, no line over 78 characters, ASCII only.
    size_t start = 0;
    while (start < m.size()) {
      size_t crlf = m.find("\r\n", start);
      ASSERT_NE(crlf, std::string::npos);
      EXPECT_LE(crlf - start, 78u);
      for (size_t i = start; i < crlf; ++i) {
        EXPECT_NE(m[i], '\r');
        EXPECT_NE(m[i], '\n');
        EXPECT_LT(static_cast<unsigned char>(m[i]), 0x80);
      }
      start = crlf + 2;
    }
    EXPECT_NE(m.find("Message-ID: <1.2." + std::to_string(size) + "@"), std::string::npos);
    // DotStuff then DataReader gives the message back.
    std::string stuffed = smtp::DotStuff(m);
    smtp::DataReader reader(1 << 20);
    size_t pos = 0;
    smtp::DataReader::Status st = smtp::DataReader::Status::kMore;
    while (st == smtp::DataReader::Status::kMore && pos < stuffed.size()) {
      size_t crlf = stuffed.find("\r\n", pos);
      st = reader.Feed(std::string_view(stuffed).substr(pos, crlf - pos), false);
      pos = crlf + 2;
    }
    EXPECT_EQ(st, smtp::DataReader::Status::kDone);
    EXPECT_EQ(pos, stuffed.size());
    EXPECT_EQ(reader.TakeMessage(), m);
  }
}

TEST(Message, TooSmallStillWellFormed) {
  std::mt19937_64 rng(1);
  MessageSpec spec;
  spec.from = "a@example.test";
  spec.to = {"b@example.test"};
  spec.date = "x";
  spec.size = 10;
  std::string m = BuildMessage(spec, rng);
  EXPECT_NE(m.find("\r\n\r\nx\r\n"), std::string::npos);
}

TEST(SizeChooser, FollowsWeights) {
  std::mt19937_64 rng(7);
  SizeChooser c({{1, 90}, {2, 10}});
  int twos = 0;
  for (int i = 0; i < 10000; ++i) twos += c.Pick(rng) == 2;
  EXPECT_GT(twos, 800);
  EXPECT_LT(twos, 1200);
}

}  // namespace
}  // namespace columba::loadtest
