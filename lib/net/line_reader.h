// line_reader.h - bounded line and byte reading for text protocols on asio streams.
//
// ReadLine returns one line without its CRLF (a bare LF also ends a line; callers
// that must distinguish, e.g. the DATA reader, get `bare_lf`, also for too-long lines). A line longer than
// `max` is consumed up to its end and reported with `too_long = true` and an empty
// text, so the protocol can answer 500 and go on without ever buffering more than
// `max` octets. EOF or a socket error ends the stream (`eof = true`).
#pragma once

#include <chrono>
#include <string>

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

 private:
  Stream& stream_;
  std::string buf_;
  size_t scan_from_ = 0;
};

}  // namespace columba::net
