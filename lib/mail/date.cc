// date.cc - RFC 5322 date-time parser (current and obsolete syntax).
//
// A tiny tokenizer (numbers, words, ':', signs; whitespace, commas and comments
// skipped) followed by a fixed grammar. Must never read past the view, never
// recurse (comments are skipped with a depth counter) and never use the local
// time zone.
#include "lib/mail/date.h"

#include <array>
#include <string_view>

namespace columba::mail {
namespace {

struct Token {
  enum Kind { kNum, kWord, kColon, kPlus, kMinus } kind;
  std::string_view text;
  int64_t num = 0;
};

constexpr size_t kMaxTokens = 24;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool Tokenize(std::string_view s, std::array<Token, kMaxTokens>& toks, size_t& count) {
  count = 0;
  size_t i = 0;
  while (i < s.size() && count < kMaxTokens) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '.') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
    } else if (IsDigit(c)) {
      size_t start = i;
      int64_t v = 0;
      while (i < s.size() && IsDigit(s[i])) {
        if (i - start < 9) v = v * 10 + (s[i] - '0');
        ++i;
      }
      if (i - start > 9) return false;
      toks[count++] = {Token::kNum, s.substr(start, i - start), v};
    } else if (IsAlpha(c)) {
      size_t start = i;
      while (i < s.size() && IsAlpha(s[i])) ++i;
      toks[count++] = {Token::kWord, s.substr(start, i - start), 0};
    } else if (c == ':') {
      toks[count++] = {Token::kColon, s.substr(i, 1), 0};
      ++i;
    } else if (c == '+' || c == '-') {
      toks[count++] = {c == '+' ? Token::kPlus : Token::kMinus, s.substr(i, 1), 0};
      ++i;
    } else {
      break;  // anything else ends the date; the grammar decides if enough was seen
    }
  }
  return true;
}

bool WordIs(std::string_view w, std::string_view lower) {
  if (w.size() != lower.size()) return false;
  for (size_t i = 0; i < w.size(); ++i)
    if (Lower(w[i]) != lower[i]) return false;
  return true;
}

// 1..12 for a month name (three letters or full), 0 otherwise.
int MonthIndex(std::string_view w) {
  static constexpr std::string_view kMonths[] = {"january", "february", "march",     "april",
                                                 "may",     "june",     "july",      "august",
                                                 "september", "october", "november", "december"};
  if (w.size() < 3) return 0;
  for (int m = 0; m < 12; ++m) {
    std::string_view full = kMonths[m];
    if (w.size() > full.size()) continue;
    bool match = true;
    for (size_t i = 0; i < w.size() && match; ++i) match = Lower(w[i]) == full[i];
    if (match && (w.size() == 3 || w.size() == full.size())) return m + 1;
  }
  return 0;
}

// Minutes east of UTC for an alphabetic zone (RFC 5322 section 4.3).
int NamedZone(std::string_view w) {
  struct Zone {
    std::string_view name;
    int minutes;
  };
  static constexpr Zone kZones[] = {{"ut", 0},         {"utc", 0},        {"gmt", 0},        {"z", 0},
                                    {"est", -5 * 60},  {"edt", -4 * 60},  {"cst", -6 * 60},  {"cdt", -5 * 60},
                                    {"mst", -7 * 60},  {"mdt", -6 * 60},  {"pst", -8 * 60},  {"pdt", -7 * 60}};
  for (const auto& z : kZones)
    if (WordIs(w, z.name)) return z.minutes;
  return 0;  // military and unknown zones: RFC 5322 says to treat them as -0000
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

class DateGrammar {
 public:
  DateGrammar(const std::array<Token, kMaxTokens>& t, size_t n) : t_(t), n_(n) {}

  std::optional<MessageDate> Parse() {
    int64_t day = 0, year = 0;
    int month = 0;
    if (Is(Token::kWord) && MonthIndex(t_[k_].text) == 0) ++k_;  // day name
    if (Is(Token::kNum)) {
      // day month year time [zone]   (also "2-Jan-2006")
      if (!Number(day, 2)) return std::nullopt;
      Skip(Token::kMinus);
      if (!Month(month)) return std::nullopt;
      Skip(Token::kMinus);
      if (!Year(year)) return std::nullopt;
      if (!Time()) return std::nullopt;
      if (!Zone()) return std::nullopt;
    } else if (Is(Token::kWord)) {
      // asctime: month day time [zone] year
      if (!Month(month) || !Number(day, 2) || !Time()) return std::nullopt;
      if (!Is(Token::kNum) || t_[k_].text.size() != 4 || (k_ + 1 < n_ && t_[k_ + 1].kind == Token::kColon)) {
        if (!Zone()) return std::nullopt;
      }
      if (!Year(year)) return std::nullopt;
    } else {
      return std::nullopt;
    }
    if (year < 1000 || year > 9999 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
    if (hour_ > 23 || minute_ > 59 || second_ > 60) return std::nullopt;
    MessageDate out;
    out.zone_minutes = zone_;
    out.unix_time = DaysFromCivil(year, month, static_cast<int>(day)) * 86400 + hour_ * 3600 + minute_ * 60 +
                    second_ - static_cast<int64_t>(zone_) * 60;
    return out;
  }

 private:
  bool Is(Token::Kind kind) const { return k_ < n_ && t_[k_].kind == kind; }
  void Skip(Token::Kind kind) {
    if (Is(kind)) ++k_;
  }
  bool Number(int64_t& v, size_t max_digits) {
    if (!Is(Token::kNum) || t_[k_].text.size() > max_digits) return false;
    v = t_[k_++].num;
    return true;
  }
  bool Month(int& m) {
    if (!Is(Token::kWord)) return false;
    m = MonthIndex(t_[k_++].text);
    return m != 0;
  }
  bool Year(int64_t& y) {
    if (!Is(Token::kNum)) return false;
    size_t digits = t_[k_].text.size();
    y = t_[k_++].num;
    if (digits <= 2) {
      y += y < 50 ? 2000 : 1900;
    } else if (digits == 3) {
      y += 1900;
    }
    return true;
  }
  bool Time() {
    int64_t h, m, s = 0;
    if (!Number(h, 2) || !Is(Token::kColon)) return false;
    ++k_;
    if (!Number(m, 2)) return false;
    if (Is(Token::kColon)) {
      ++k_;
      if (!Number(s, 2)) return false;
    }
    hour_ = h, minute_ = m, second_ = s;
    return true;
  }
  // [+-]hhmm, or a zone name optionally followed by [+-]hhmm; absent means +0000.
  bool Zone() {
    zone_ = 0;
    if (Is(Token::kWord)) {
      zone_ = NamedZone(t_[k_++].text);
      if (!Is(Token::kPlus) && !Is(Token::kMinus)) return true;
    }
    if (Is(Token::kPlus) || Is(Token::kMinus)) {
      int sign = t_[k_++].kind == Token::kMinus ? -1 : 1;
      if (!Is(Token::kNum)) return false;
      std::string_view digits = t_[k_].text;
      int64_t v = t_[k_++].num;
      int64_t hours = digits.size() <= 2 ? v : v / 100;
      int64_t minutes = digits.size() <= 2 ? 0 : v % 100;
      if (digits.size() > 4 || hours > 23 || minutes > 59) return false;
      zone_ = sign * static_cast<int>(hours * 60 + minutes);
    }
    return true;
  }

  const std::array<Token, kMaxTokens>& t_;
  size_t n_;
  size_t k_ = 0;
  int64_t hour_ = 0, minute_ = 0, second_ = 0;
  int zone_ = 0;
};

}  // namespace

std::optional<MessageDate> ParseMessageDate(std::string_view value) {
  std::array<Token, kMaxTokens> toks;
  size_t n = 0;
  if (!Tokenize(value, toks, n)) return std::nullopt;
  return DateGrammar(toks, n).Parse();
}

}  // namespace columba::mail
