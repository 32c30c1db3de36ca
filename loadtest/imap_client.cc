// imap_client.cc - IMAP response assembly and the tagged-command client (see imap_client.h).
//
// Never sends literal octets before "+", never keeps literal contents, never
// buffers past the limits in ResponseAssembler::Limits and ImapClient's
// max_untagged.
#include "loadtest/imap_client.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <iterator>

namespace columba::loadtest {

namespace {

// Longest line accepted from the server (a literal's lines are read with it too).
constexpr size_t kMaxLine = 1 << 20;

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<uint64_t> ToNumber(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Splits off the next space-separated word.
std::string_view NextWord(std::string_view& s) {
  size_t sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  return w;
}

}  // namespace

std::optional<uint64_t> TrailingLiteral(std::string_view line) {
  if (line.size() < 3 || line.back() != '}') return std::nullopt;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view num = line.substr(open + 1, line.size() - open - 2);
  if (!num.empty() && num.back() == '+') num.remove_suffix(1);
  if (num.empty() || num.size() > 19) return std::nullopt;
  return ToNumber(num);
}

void Classify(ImapResponse& r) {
  std::string_view t = r.text;
  r.tag.clear();
  r.status.clear();
  if (t.starts_with("+")) {
    r.kind = ImapResponse::Kind::kContinuation;
    return;
  }
  if (t.starts_with("* ")) {
    r.kind = ImapResponse::Kind::kUntagged;
    std::string_view rest = t.substr(2);
    std::string word = Upper(NextWord(rest));
    if (word == "OK" || word == "NO" || word == "BAD" || word == "BYE" || word == "PREAUTH") r.status = word;
    return;
  }
  r.kind = ImapResponse::Kind::kTagged;
  std::string_view rest = t;
  r.tag = std::string(NextWord(rest));
  r.status = Upper(NextWord(rest));
}

ResponseAssembler::Status ResponseAssembler::Finish(ImapResponse* out) {
  Classify(current_);
  *out = std::move(current_);
  current_ = ImapResponse();
  in_literal_ = false;
  remaining_ = 0;
  return Status::kDone;
}

ResponseAssembler::Status ResponseAssembler::Feed(std::string_view line, int line_end_octets, ImapResponse* out) {
  if (in_literal_) {
    if (line.size() < remaining_) {
      // The whole line (and its line end) is literal data.
      uint64_t used = line.size() + static_cast<uint64_t>(line_end_octets);
      remaining_ = used >= remaining_ ? 0 : remaining_ - used;
      return Status::kNeedMore;
    }
    // The literal ends inside this line: the rest continues the response.
    line = line.substr(static_cast<size_t>(remaining_));
    remaining_ = 0;
    in_literal_ = false;
  }
  if (current_.text.size() + line.size() > limits_.max_text) return Status::kError;
  current_.text.append(line);
  if (auto n = TrailingLiteral(line)) {
    if (*n > limits_.max_literal) return Status::kError;
    current_.literal_sizes.push_back(*n);
    in_literal_ = true;
    remaining_ = *n;
    return Status::kNeedMore;
  }
  return Finish(out);
}

std::optional<uint64_t> UntaggedNumber(std::string_view text, std::string_view keyword) {
  if (!text.starts_with("* ")) return std::nullopt;
  std::string_view rest = text.substr(2);
  auto n = ToNumber(NextWord(rest));
  if (!n) return std::nullopt;
  std::string_view word = NextWord(rest);
  if (!IEquals(word, keyword)) return std::nullopt;
  return n;
}

std::optional<uint64_t> ResponseCodeNumber(std::string_view text, std::string_view code) {
  std::string upper = Upper(text);
  std::string needle = "[" + Upper(code) + " ";
  size_t at = upper.find(needle);
  if (at == std::string::npos) return std::nullopt;
  size_t close = upper.find(']', at);
  if (close == std::string::npos) return std::nullopt;
  std::string_view inner = std::string_view(upper).substr(at + needle.size(), close - at - needle.size());
  size_t sp = inner.rfind(' ');
  std::string_view last = sp == std::string_view::npos ? inner : inner.substr(sp + 1);
  return ToNumber(last);
}

std::optional<std::vector<uint64_t>> SearchNumbers(std::string_view text) {
  if (!text.starts_with("* ")) return std::nullopt;
  std::string_view rest = text.substr(2);
  if (!IEquals(NextWord(rest), "SEARCH")) return std::nullopt;
  std::vector<uint64_t> out;
  while (!rest.empty()) {
    std::string_view w = NextWord(rest);
    if (w.empty()) continue;
    auto n = ToNumber(w);
    if (!n) break;  // e.g. "(MODSEQ 12)" at the end (CONDSTORE)
    out.push_back(*n);
  }
  return out;
}

std::optional<uint64_t> FetchUid(std::string_view text) {
  std::string upper = Upper(text);
  if (upper.find(" FETCH (") == std::string::npos) return std::nullopt;
  size_t at = 0;
  while ((at = upper.find("UID ", at)) != std::string::npos) {
    char before = at > 0 ? upper[at - 1] : ' ';
    if (before == '(' || before == ' ') {
      size_t start = at + 4;
      size_t end = start;
      while (end < upper.size() && std::isdigit(static_cast<unsigned char>(upper[end]))) ++end;
      if (end > start) return ToNumber(std::string_view(upper).substr(start, end - start));
    }
    at += 4;
  }
  return std::nullopt;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ImapResult::ErrorKey() const {
  if (failure != IoFailure::kNone) return IoFailureKey(failure);
  return status.empty() ? std::string("protocol") : status;
}

std::string ImapClient::NextTag() { return fmt::format("c{}", ++tag_counter_); }

asio::awaitable<ImapClient::Read> ImapClient::ReadResponse() {
  Read out;
  for (;;) {
    auto line = co_await c_.ReadLine(kMaxLine);
    if (line.failure != IoFailure::kNone) {
      out.failure = line.failure;
      co_return out;
    }
    // LineReader drops the CR of CRLF; IMAP servers end lines (and literal lines
    // of the messages used here) with CRLF, so 2 octets are counted per line end.
    auto st = assembler_.Feed(line.text, 2, &out.response);
    if (st == ResponseAssembler::Status::kError) {
      out.failure = IoFailure::kProtocol;
      co_return out;
    }
    if (st == ResponseAssembler::Status::kDone) co_return out;
  }
}

asio::awaitable<ImapResult> ImapClient::ReadUntilTagged(const std::string& tag) {
  ImapResult out;
  for (;;) {
    auto r = co_await ReadResponse();
    if (r.failure != IoFailure::kNone) {
      out.failure = r.failure;
      co_return out;
    }
    ImapResponse& resp = r.response;
    if (resp.kind == ImapResponse::Kind::kTagged) {
      if (resp.tag != tag) {
        out.failure = IoFailure::kProtocol;
        co_return out;
      }
      out.status = resp.status;
      out.text = std::move(resp.text);
      co_return out;
    }
    if (resp.kind == ImapResponse::Kind::kContinuation) {
      out.failure = IoFailure::kProtocol;  // nothing of ours waits for one here
      co_return out;
    }
    if (resp.status == "BYE") {
      // The server is closing: the tagged response may never come.
      out.status = "BYE";
      out.text = std::move(resp.text);
      co_return out;
    }
    for (uint64_t n : resp.literal_sizes) out.literal_octets += n;
    if (out.untagged.size() >= max_untagged_) {
      out.failure = IoFailure::kProtocol;
      co_return out;
    }
    out.untagged.push_back(std::move(resp));
  }
}

asio::awaitable<ImapResult> ImapClient::Greeting() {
  ImapResult out;
  auto r = co_await ReadResponse();
  if (r.failure != IoFailure::kNone) {
    out.failure = r.failure;
    co_return out;
  }
  out.status = r.response.status == "PREAUTH" ? "OK" : r.response.status;
  out.text = std::move(r.response.text);
  if (r.response.kind != ImapResponse::Kind::kUntagged) out.failure = IoFailure::kProtocol;
  co_return out;
}

asio::awaitable<ImapResult> ImapClient::Command(std::string_view command) {
  std::string tag = NextTag();
  std::string line = fmt::format("{} {}\r\n", tag, command);
  if (auto f = co_await c_.Write(line); f != IoFailure::kNone) {
    ImapResult out;
    out.failure = f;
    co_return out;
  }
  co_return co_await ReadUntilTagged(tag);
}

asio::awaitable<ImapResult> ImapClient::Login(std::string_view user, std::string_view password) {
  std::string cmd = fmt::format("LOGIN {} {}", Quote(user), Quote(password));
  co_return co_await Command(cmd);
}

asio::awaitable<ImapResult> ImapClient::Append(std::string_view mailbox, std::string_view flags,
                                               std::string_view message) {
  ImapResult out;
  std::string tag = NextTag();
  std::string head = fmt::format("{} APPEND {} {}{}{{{}}}\r\n", tag, Quote(mailbox), flags, flags.empty() ? "" : " ",
                                 message.size());
  if (auto f = co_await c_.Write(head); f != IoFailure::kNone) {
    out.failure = f;
    co_return out;
  }
  // Untagged responses may come before the continuation; a tagged NO/BAD instead
  // of it refuses the literal.
  for (;;) {
    auto r = co_await ReadResponse();
    if (r.failure != IoFailure::kNone) {
      out.failure = r.failure;
      co_return out;
    }
    if (r.response.kind == ImapResponse::Kind::kContinuation) break;
    if (r.response.kind == ImapResponse::Kind::kTagged) {
      if (r.response.tag != tag) out.failure = IoFailure::kProtocol;
      out.status = r.response.status;
      out.text = std::move(r.response.text);
      co_return out;
    }
    out.untagged.push_back(std::move(r.response));
  }
  std::string body(message);
  body += "\r\n";
  if (auto f = co_await c_.Write(body); f != IoFailure::kNone) {
    out.failure = f;
    co_return out;
  }
  auto rest = co_await ReadUntilTagged(tag);
  rest.untagged.insert(rest.untagged.begin(), std::make_move_iterator(out.untagged.begin()),
                       std::make_move_iterator(out.untagged.end()));
  co_return rest;
}

asio::awaitable<ImapResult> ImapClient::Idle() {
  ImapResult out;
  idle_tag_ = NextTag();
  std::string line = idle_tag_ + " IDLE\r\n";
  if (auto f = co_await c_.Write(line); f != IoFailure::kNone) {
    out.failure = f;
    co_return out;
  }
  for (;;) {
    auto r = co_await ReadResponse();
    if (r.failure != IoFailure::kNone) {
      out.failure = r.failure;
      co_return out;
    }
    if (r.response.kind == ImapResponse::Kind::kContinuation) {
      out.status = "OK";
      co_return out;
    }
    if (r.response.kind == ImapResponse::Kind::kTagged) {
      // IDLE refused (or not supported).
      if (r.response.tag != idle_tag_) out.failure = IoFailure::kProtocol;
      out.status = r.response.status == "OK" ? "NO" : r.response.status;
      out.text = std::move(r.response.text);
      idle_tag_.clear();
      co_return out;
    }
    out.untagged.push_back(std::move(r.response));
  }
}

asio::awaitable<ImapResult> ImapClient::Done() {
  std::string tag = idle_tag_;
  idle_tag_.clear();
  if (auto f = co_await c_.Write("DONE\r\n"); f != IoFailure::kNone) {
    ImapResult out;
    out.failure = f;
    co_return out;
  }
  co_return co_await ReadUntilTagged(tag);
}

asio::awaitable<ImapResult> ImapClient::Logout() {
  auto r = co_await Command("LOGOUT");
  // "* BYE" then the tagged OK; ReadUntilTagged stops at the BYE, which is success here.
  if (r.failure == IoFailure::kNone && r.status == "BYE") r.status = "OK";
  c_.Close();
  co_return r;
}

}  // namespace columba::loadtest
