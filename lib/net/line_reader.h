// line_reader.h - bounded line and byte reading for text protocols on asio streams.
//
// ReadLine returns one line without its CRLF (a bare LF also ends a line; callers
// that must distinguish, e.g. the DATA reader, get `bare_lf`, also for too-long lines). A line longer than
// `max` is consumed up to its end and reported with `too_long = true` and an empty
// text, so the protocol can answer 500 and go on without ever buffering more than
// `max` octets. EOF or a socket error ends the stream (`eof = true`).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/net/asio_compat.h"

namespace columba::net {

struct Line {
  std::string text;
  bool too_long = false;
  bool eof = false;
  bool timed_out = false;
  bool bare_lf = false;  // ended by LF without CR
};

template <class Stream>
class LineReader {
 public:
  explicit LineReader(Stream& s) : stream_(s) {}

  // Reads one line of at most `max` octets (without the line end).
  asio::awaitable<Line> ReadLine(size_t max) {
    Line out;
    bool discarding = false;
    for (;;) {
      auto nl = buf_.find('\n', scan_from_);
      if (nl != std::string::npos) {
        size_t end = nl;
        bool cr = end > 0 && buf_[end - 1] == '\r';
        if (cr) --end;
        out.bare_lf = !cr;  // reported for too-long lines too (DATA end detection needs it)
        if (!discarding && end <= max) {
          out.text.assign(buf_, 0, end);
        } else {
          out.too_long = true;
        }
        buf_.erase(0, nl + 1);
        scan_from_ = 0;
        co_return out;
      }
      if (buf_.size() > max + 1) {
        // Keep the last octet: it may be the CR of a CRLF split across reads.
        discarding = true;
        buf_.erase(0, buf_.size() - 1);
      }
      scan_from_ = buf_.size();
      char tmp[16384];
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(tmp), kNoThrow);
      if (ec || n == 0) {
        out.eof = true;
        co_return out;
      }
      buf_.append(tmp, n);
    }
  }

  // Octets already read from the socket but not yet consumed (PIPELINING).
  bool HasBuffered() const { return !buf_.empty(); }
  // A whole line is buffered: the next ReadLine will not wait for the peer.
  bool HasBufferedLine() const { return buf_.find('\n') != std::string::npos; }

  // Forgets what was read but not consumed: at STARTTLS, everything the client
  // sent in plaintext after the command (RFC 3207 5, command injection defence).
  void DiscardBuffered() {
    buf_.clear();
    scan_from_ = 0;
  }

  // Reads exactly `n` octets (buffered ones first) and hands them to `sink` in
  // pieces (SMTP BDAT chunks). false on EOF or a socket error.
  template <class Sink>
  asio::awaitable<bool> ReadExact(uint64_t n, Sink&& sink) {
    if (!buf_.empty()) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
      sink(std::string_view(buf_).substr(0, take));
      buf_.erase(0, take);
      scan_from_ = 0;
      n -= take;
    }
    char tmp[16384];
    while (n > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(n, sizeof tmp));
      auto [ec, got] = co_await stream_.async_read_some(asio::buffer(tmp, want), kNoThrow);
      if (ec || got == 0) co_return false;
      sink(std::string_view(tmp, got));
      n -= got;
    }
    co_return true;
  }

 private:
  Stream& stream_;
  std::string buf_;
  size_t scan_from_ = 0;
};

}  // namespace columba::net
