// message.cc - builds the RFC 5322 test messages (see message.h).
//
// Never emits non-ASCII, bare CR/LF, or lines over 78 characters.
#include "loadtest/message.h"

#include <fmt/format.h>

#include <array>
#include <ctime>
#include <string_view>

namespace columba::loadtest {

namespace {

constexpr std::array<std::string_view, 64> kWords = {
    "mail",    "server",  "cluster",  "message", "delivery", "mailbox", "storage", "replica", "quota",
    "folder",  "header",  "body",     "the",     "a",        "of",      "and",     "to",      "in",
    "is",      "for",     "with",     "on",      "that",     "this",    "load",    "test",    "report",
    "meeting", "agenda",  "budget",   "review",  "project",  "status",  "update",  "weekly",  "summary",
    "please",  "find",    "attached", "thanks",  "regards",  "team",    "next",    "steps",   "draft",
    "final",   "version", "schedule", "monday",  "friday",   "notes",   "action",  "items",   "question",
    "answer",  "result",  "numbers",  "latency", "columba",  "dove",    "flight",  "north",   "south",
    "east"};

// Exactly n characters of words (n <= 76), optionally starting with a dot.
void AppendLine(std::string& out, size_t n, std::mt19937_64& rng) {
  size_t start = out.size();
  if (n > 1 && rng() % 50 == 0) out += ". ";
  while (out.size() - start < n) {
    if (out.size() > start && out.back() != ' ') out += ' ';
    out += kWords[rng() % kWords.size()];
  }
  out.resize(start + n);
  if (n > 0 && out.back() == ' ') out.back() = '.';
  out += "\r\n";
}

}  // namespace

std::string BuildMessage(const MessageSpec& spec, std::mt19937_64& rng) {
  std::string m;
  m.reserve(spec.size + 512);
  m += fmt::format("From: Load Generator <{}>\r\n", spec.from);
  m += "To: ";
  for (size_t i = 0; i < spec.to.size(); ++i) {
    m += fmt::format("<{}>{}", spec.to[i], i + 1 < spec.to.size() ? ",\r\n " : "\r\n");
  }
  m += fmt::format("Subject: columba-load message {} (session {})\r\n", spec.seq, spec.session);
  m += fmt::format("Date: {}\r\n", spec.date);
  m += fmt::format("Message-ID: <{}.{}@columba-load.example.test>\r\n", spec.run_id, spec.seq);
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=us-ascii\r\n";
  m += "Content-Transfer-Encoding: 7bit\r\n";
  m += "\r\n";

  uint64_t remaining = spec.size > m.size() ? spec.size - m.size() : 0;
  if (remaining < 3) {
    m += "x\r\n";
    return m;
  }
  // Lines of 60..76 characters while more than two full lines remain.
  while (remaining > 2 * 78) {
    size_t n = 60 + rng() % 17;
    AppendLine(m, n, rng);
    remaining -= n + 2;
  }
  // The rest in one or two lines of at most 76 characters (+ CRLF).
  if (remaining > 78) {
    uint64_t first = remaining / 2;
    AppendLine(m, first - 2, rng);
    remaining -= first;
  }
  AppendLine(m, remaining - 2, rng);
  return m;
}

std::string Rfc5322Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} +0000", kDays[static_cast<size_t>(tm.tm_wday)], tm.tm_mday,
                     kMonths[static_cast<size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

SizeChooser::SizeChooser(std::vector<SizeBucket> buckets) : buckets_(std::move(buckets)) {
  std::vector<double> weights;
  for (const auto& b : buckets_) weights.push_back(b.weight);
  dist_ = std::discrete_distribution<size_t>(weights.begin(), weights.end());
}

uint64_t SizeChooser::Pick(std::mt19937_64& rng) {
  if (buckets_.size() == 1) return buckets_[0].size;
  return buckets_[dist_(rng)].size;
}

}  // namespace columba::loadtest
