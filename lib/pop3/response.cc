// response.cc - status lines and the dot-stuffing multi-line writer (response.h).
#include "lib/pop3/response.h"

#include <cstring>

namespace columba::pop3 {

namespace {

// Control octets (CR, LF, NUL, ...) become spaces; the line is cut so that it
// fits kMaxResponseLine with its CRLF.
void AppendText(std::string& line, std::string_view text) {
  for (char c : text) {
    if (line.size() + 2 >= kMaxResponseLine) break;
    auto u = static_cast<unsigned char>(c);
    line += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  line += "\r\n";
}

}  // namespace

std::string FormatOk(std::string_view text) {
  std::string line = "+OK";
  if (!text.empty()) line += ' ';
  AppendText(line, text);
  return line;
}

std::string FormatErr(std::string_view code, std::string_view text) {
  std::string line = "-ERR";
  if (!code.empty()) {
    line += " [";
    line += code;
    line += ']';
  }
  if (!text.empty()) line += ' ';
  AppendText(line, text);
  return line;
}

void MultilineWriter::EndLine(std::string& out) {
  // A line ends here (an LF was seen); the CR, if any, is already out.
  out += last_cr_ ? "\n" : "\r\n";
  const bool empty = line_len_ == 0 || (line_len_ == 1 && last_cr_);
  if (in_header_) {
    if (empty) in_header_ = false;  // the blank line belongs to the header block
  } else {
    ++body_lines_;
  }
  at_line_start_ = true;
  last_cr_ = false;
  line_len_ = 0;
}

bool MultilineWriter::Write(std::string_view chunk, std::string& out) {
  size_t pos = 0;
  while (pos < chunk.size() && !done_) {
    if (at_line_start_) {
      if (max_body_lines_ && !in_header_ && body_lines_ >= *max_body_lines_) {
        done_ = true;
        break;
      }
      if (chunk[pos] == '.') out += '.';
      at_line_start_ = false;
    }
    const char* base = chunk.data() + pos;
    const void* nl = std::memchr(base, '\n', chunk.size() - pos);
    size_t seg = nl ? static_cast<size_t>(static_cast<const char*>(nl) - base) : chunk.size() - pos;
    if (seg > 0) {
      out.append(base, seg);
      line_len_ += seg;
      last_cr_ = base[seg - 1] == '\r';
    }
    pos += seg;
    if (nl) {
      ++pos;
      EndLine(out);
    }
  }
  if (!done_ && at_line_start_ && max_body_lines_ && !in_header_ && body_lines_ >= *max_body_lines_) done_ = true;
  return !done_;
}

void MultilineWriter::Finish(std::string& out) {
  if (!at_line_start_) out += last_cr_ ? "\n" : "\r\n";
  out += ".\r\n";
  at_line_start_ = true;
  done_ = true;
}

}  // namespace columba::pop3
