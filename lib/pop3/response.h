// response.h - POP3 responses: status lines (RFC 1939 3, RFC 2449 8 response
// codes) and the multi-line writer that dot-stuffs message bytes for RETR/TOP.
//
// NAME
//   FormatOk, FormatErr, MultilineWriter
//
// SYNOPSIS
//   out += pop3::FormatOk("2 320");                          // "+OK 2 320\r\n"
//   out += pop3::FormatErr("IN-USE", "Maildrop is locked.");  // "-ERR [IN-USE] ..."
//   pop3::MultilineWriter w(top_lines);   // nullopt: RETR (whole message)
//   while (more && w.Write(chunk, out)) ...   // stuffed bytes appended to out
//   w.Finish(out);                             // CRLF if needed, then ".\r\n"
//
// DESCRIPTION
//   MultilineWriter is a streaming state machine, so a message of any size goes
//   out in bounded pieces and a chunk boundary may fall anywhere (inside a CRLF,
//   right before a leading dot). Every line that starts with "." gets one more
//   "." (RFC 1939 3, byte-stuffing); a bare LF is sent as CRLF (the wire form is
//   CRLF-only); the response always ends with CRLF "." CRLF, also when the
//   message's last line has no line end. For TOP n it passes the header block
//   through the blank line that ends it, then n body lines, and Write returns
//   false once nothing more is wanted (the caller stops reading the blob).
//   A message without a blank line is all header (TOP returns all of it).
//
// NEVER
//   Never emits a line starting with "." that was not stuffed, never emits a
//   bare LF, never puts CR or LF inside a status line (client text is
//   sanitised), never does I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace columba::pop3 {

// RFC 2449 4: a response line is at most 512 octets including CRLF.
inline constexpr size_t kMaxResponseLine = 512;

// "+OK text\r\n" ("+OK\r\n" for empty text). Text is sanitised and cut to fit.
std::string FormatOk(std::string_view text);
// "-ERR [CODE] text\r\n" (no brackets when code is empty).
std::string FormatErr(std::string_view code, std::string_view text);

class MultilineWriter {
 public:
  // max_body_lines: nullopt for the whole message, n for TOP n.
  explicit MultilineWriter(std::optional<uint32_t> max_body_lines = std::nullopt)
      : max_body_lines_(max_body_lines) {}

  // Appends the stuffed form of `chunk` to `out`. false once TOP has all it
  // wants (the rest of the input would be dropped anyway).
  bool Write(std::string_view chunk, std::string& out);
  // Ends the response: a CRLF when the last line was unterminated, then ".\r\n".
  void Finish(std::string& out);
  bool done() const { return done_; }

 private:
  void EndLine(std::string& out);
  std::optional<uint32_t> max_body_lines_;
  bool at_line_start_ = true;
  bool last_cr_ = false;    // the last octet of the current line so far is CR
  size_t line_len_ = 0;     // octets of the current line so far (CR included)
  bool in_header_ = true;
  uint32_t body_lines_ = 0;
  bool done_ = false;
};

}  // namespace columba::pop3
