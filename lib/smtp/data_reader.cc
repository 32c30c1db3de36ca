// data_reader.cc - DATA-phase accumulator and its inverse; see data_reader.h.
//
// Never ends a message except at <CRLF>.<CRLF>, never stores past max_size.
#include "lib/smtp/data_reader.h"

#include <cassert>

namespace columba::smtp {

DataReader::DataReader(uint64_t max_size) : max_size_(max_size) {}

DataReader::Status DataReader::Feed(std::string_view line, bool ended_by_bare_lf) {
  assert(!done_);
  if (done_) return Status::kDone;
  if (line == "." && !ended_by_bare_lf && prev_crlf_) {
    done_ = true;
    return Status::kDone;
  }
  prev_crlf_ = !ended_by_bare_lf;
  if (ended_by_bare_lf) ++bare_lf_count_;
  ++lines_;
  if (line.size() > 1 && line[0] == '.') line.remove_prefix(1);
  uint64_t add = line.size() + 2;
  size_ += add;
  if (storing()) {
    if (size_ > max_size_) {
      over_size_ = true;
      std::string().swap(message_);
    } else {
      message_.append(line);
      message_ += "\r\n";
    }
  }
  return Status::kMore;
}

DataReader::Status DataReader::FeedTooLong(bool ended_by_bare_lf) {
  assert(!done_);
  if (done_) return Status::kDone;
  prev_crlf_ = !ended_by_bare_lf;
  if (ended_by_bare_lf) ++bare_lf_count_;
  ++lines_;
  had_overlong_line_ = true;
  std::string().swap(message_);
  return Status::kMore;
}

std::string DataReader::TakeMessage() {
  std::string out;
  out.swap(message_);
  return out;
}

std::string DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  for (char c : message) {
    if (line_start && c == '.') out += '.';
    line_start = false;
    if (c == '\n') {
      if (out.empty() || out.back() != '\r') out += '\r';
      line_start = true;
    }
    out += c;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace columba::smtp
