// data_reader.h - the DATA phase of SMTP/LMTP: dot-unstuffing and end detection.
//
// Pure: the transport reads lines (without their line end) and feeds them here one
// at a time, saying whether each ended with CRLF or a bare LF. It must never end a
// message on anything but <CRLF>.<CRLF> (SMTP smuggling defence: <LF>.<LF>,
// <LF>.<CRLF> and <CRLF>.<LF> are content), never store more than max_size octets,
// and never store a bare LF: stored lines always end with CRLF.
//
// Rules:
//   - The message ends at a line that is exactly "." ended by CRLF whose previous
//     line also ended by CRLF. The DATA command line itself counts as that previous
//     line (it was accepted as a command, 354 was sent).
//   - Dot-unstuffing (RFC 5321 4.5.2): a line starting with "." and having other
//     characters loses its first "."; "..." becomes "..". A lone "." that does not
//     end the message (bare LF around it) is kept as ".".
//   - A bare-LF line end is stored as CRLF and counted (bare_lf_count()); octets
//     inside a line, bare CR included, are stored as they are.
//   - When the stored content would exceed max_size (CRLFs included), storing stops,
//     what was stored is freed, over_size() is set, and lines are still consumed up
//     to the end so the session stays in step. Same after FeedTooLong(), which sets
//     had_overlong_line(). The caller then rejects the message (552 5.3.4 / 500 5.5.0).
//
// Feeding after kDone is a programmer bug (assert).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace columba::smtp {

class DataReader {
 public:
  enum class Status { kMore, kDone };

  explicit DataReader(uint64_t max_size);

  // One line without its line end; ended_by_bare_lf: it ended with LF, not CRLF.
  Status Feed(std::string_view line, bool ended_by_bare_lf);
  // A line the transport dropped for being too long. ended_by_bare_lf as for Feed;
  // when the transport cannot tell, false keeps a following "." able to end the
  // message (the message is rejected for the long line either way).
  Status FeedTooLong(bool ended_by_bare_lf = false);

  bool done() const { return done_; }
  bool over_size() const { return over_size_; }
  bool had_overlong_line() const { return had_overlong_line_; }
  uint64_t bare_lf_count() const { return bare_lf_count_; }
  // Octets the message has (or would have had, when over_size) with CRLF line ends;
  // an over-long line counts as 0.
  uint64_t size() const { return size_; }
  uint64_t lines() const { return lines_; }

  // The stored message (CRLF line ends, dot-unstuffed, without the final "."), or
  // an empty string when over_size() or had_overlong_line(). Leaves the reader empty.
  std::string TakeMessage();

 private:
  bool storing() const { return !over_size_ && !had_overlong_line_; }

  uint64_t max_size_;
  std::string message_;
  uint64_t size_ = 0;
  uint64_t lines_ = 0;
  uint64_t bare_lf_count_ = 0;
  bool prev_crlf_ = true;  // the DATA command line ended the previous line
  bool done_ = false;
  bool over_size_ = false;
  bool had_overlong_line_ = false;
};

// The inverse, for clients, tests and the load generator: line ends normalised to
// CRLF (a bare LF becomes CRLF; a bare CR is content), a "." added before every line
// that starts with ".", CRLF appended if the message does not end with one (unless
// it is empty), then ".\r\n". Feeding the result's lines to a DataReader gives the
// normalised message back.
std::string DotStuff(std::string_view message);

}  // namespace columba::smtp
