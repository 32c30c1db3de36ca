// line_reader_test.cc - line limits, CRLF split across reads, bare LF reporting.
#include "lib/net/line_reader.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

// A stream that yields scripted chunks, one per read.
struct ScriptedStream {
  std::vector<std::string> chunks;
  size_t next = 0;
  using executor_type = asio::any_io_executor;
  asio::any_io_executor ex;
  executor_type get_executor() { return ex; }
  template <class Buf, class Token>
  auto async_read_some(const Buf& b, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, size_t)>(
        [this, b](auto handler) {
          asio::error_code ec;
          size_t n = 0;
          if (next >= chunks.size()) {
            ec = asio::error::eof;
          } else {
            n = asio::buffer_copy(b, asio::buffer(chunks[next++]));
          }
          auto h = std::move(handler);
          asio::post(ex, [h = std::move(h), ec, n]() mutable { h(ec, n); });
        },
        token);
  }
};

std::vector<columba::net::Line> ReadAll(std::vector<std::string> chunks, size_t max) {
  asio::io_context io;
  ScriptedStream s{std::move(chunks), 0, io.get_executor()};
  std::vector<columba::net::Line> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    columba::net::LineReader<ScriptedStream> r(s);
    for (;;) {
      auto l = co_await r.ReadLine(max);
      out.push_back(l);
      if (l.eof) break;
    }
  }, asio::detached);
  io.run();
  return out;
}

}  // namespace

TEST(LineReader, SplitsCrlfAcrossReads) {
  auto lines = ReadAll({"LHLO x\r", "\nMAIL FROM:<a@b>\r\n"}, 100);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "LHLO x");
  EXPECT_FALSE(lines[0].bare_lf);
  EXPECT_EQ(lines[1].text, "MAIL FROM:<a@b>");
  EXPECT_TRUE(lines[2].eof);
}

TEST(LineReader, OverlongLineIsConsumedAndReportedThenReadingGoesOn) {
  std::string big(5000, 'x');
  auto lines = ReadAll({big.substr(0, 3000), big.substr(3000) + "\r\nNOOP\r\n"}, 1000);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].too_long);
  EXPECT_TRUE(lines[0].text.empty());
  EXPECT_EQ(lines[1].text, "NOOP");
}

TEST(LineReader, ExactlyMaxIsAllowed) {
  std::string s(1000, 'y');
  auto lines = ReadAll({s + "\r\n"}, 1000);
  EXPECT_FALSE(lines[0].too_long);
  EXPECT_EQ(lines[0].text.size(), 1000u);
  auto over = ReadAll({s + "z\r\n"}, 1000);
  EXPECT_TRUE(over[0].too_long);
}

TEST(LineReader, ReportsBareLf) {
  auto lines = ReadAll({"a\nb\r\n"}, 100);
  EXPECT_TRUE(lines[0].bare_lf);
  EXPECT_EQ(lines[0].text, "a");
  EXPECT_FALSE(lines[1].bare_lf);
}
