// message.h - the test messages columba-load sends: RFC 5322 text of a chosen size.
//
// Pure: given a seed and a sequence number the output is fixed (no clock reads
// except the Date header value the caller passes in). Every message is unique
// (Message-ID, Subject counter, body words) so no server can shortcut identical
// content. It must never emit a bare CR or LF or a line over 78 characters plus
// CRLF (RFC 5322 2.1.1), and never an 8-bit octet: the output is plain US-ASCII.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "loadtest/options.h"

namespace columba::loadtest {

struct MessageSpec {
  uint64_t seq = 0;      // global counter, used in Subject and Message-ID
  int session = 0;
  std::string run_id;    // unique per run (time and pid), keeps Message-IDs unique across runs
  std::string from;
  std::vector<std::string> to;
  std::string date;      // RFC 5322 date-time, e.g. "Tue, 02 Jan 2024 10:00:00 +0000"
  uint64_t size = 0;     // wanted total octets, CRLF line ends, before dot-stuffing
};

// The message text with CRLF line ends. Its size is exactly spec.size when that is
// at least the header size plus 3; otherwise it is the headers plus a one-line body
// (the smallest well-formed message). Body lines are at most 76 characters; about
// one in 50 starts with "." so dot-stuffing is exercised.
std::string BuildMessage(const MessageSpec& spec, std::mt19937_64& rng);

// The current time as an RFC 5322 date-time in UTC.
std::string Rfc5322Now();

// Picks a size from weighted buckets.
class SizeChooser {
 public:
  explicit SizeChooser(std::vector<SizeBucket> buckets);
  uint64_t Pick(std::mt19937_64& rng);

 private:
  std::vector<SizeBucket> buckets_;
  std::discrete_distribution<size_t> dist_;
};

}  // namespace columba::loadtest
