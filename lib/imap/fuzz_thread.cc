// fuzz_thread.cc - libFuzzer target for THREAD=REFERENCES and ORDEREDSUBJECT.
//
// The input is split into lines, one message each: "subject|message-id|
// references|in-reply-to", the sent date taken from the line's first byte so
// that dates tie often. Both algorithms run and the response is checked: the
// parentheses balance and never close an empty list, and every message
// appears exactly once. Never does I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lib/imap/thread.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

using namespace columba::imap;

std::string_view Field(std::string_view line, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const size_t bar = line.find('|');
    if (bar == std::string_view::npos) return {};
    line.remove_prefix(bar + 1);
  }
  return line.substr(0, line.find('|'));
}

void CheckResponse(const std::string& out, size_t messages) {
  std::vector<int> seen(messages + 1, 0);
  long depth = 0;
  char prev = 0;
  for (size_t i = 0; i < out.size();) {
    const char c = out[i];
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      Check(prev != '(' && depth > 0);
      --depth;
    } else if (c >= '1' && c <= '9') {
      size_t n = 0;
      while (i < out.size() && out[i] >= '0' && out[i] <= '9') n = n * 10 + static_cast<size_t>(out[i++] - '0');
      Check(n >= 1 && n <= messages);
      ++seen[n];
      prev = '1';
      continue;
    } else {
      Check(c == ' ' && prev != '(');
    }
    prev = c;
    ++i;
  }
  Check(depth == 0);
  for (size_t n = 1; n <= messages; ++n) Check(seen[n] == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<ThreadRecord> recs;
  size_t start = 0;
  uint32_t seq = 0;
  while (start < all.size() && recs.size() < 2000) {
    size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    const std::string_view line = all.substr(start, end - start);
    start = end + 1;
    ++seq;
    ThreadInput in;
    in.seq = seq;
    in.number = seq;
    in.sent_date = line.empty() ? 0 : static_cast<unsigned char>(line[0]) % 8;
    in.subject = Field(line, 0);
    in.message_id = Field(line, 1);
    in.references = Field(line, 2);
    in.in_reply_to = Field(line, 3);
    recs.push_back(MakeThreadRecord(in));
  }
  CheckResponse(FormatThreads(ThreadReferences(recs)), recs.size());
  CheckResponse(FormatThreads(ThreadOrderedSubject(recs)), recs.size());
  return 0;
}
