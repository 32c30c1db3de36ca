// imap_date.cc - IMAP date-time and date (see imap_date.h).
//
// Calendar arithmetic uses Howard Hinnant's days_from_civil/civil_from_days,
// which are exact for the proleptic Gregorian calendar and need no tables.
#include "lib/imap/imap_date.h"

#include <array>
#include <cstdio>

namespace columba::imap {
namespace {

constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr int kMaxZoneMinutes = 23 * 60 + 59;

ImapDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return ImapDate{static_cast<int>(y), m, d};
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[static_cast<size_t>(m - 1)];
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly n digits at s[pos]; advances pos.
std::optional<int> Digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!Digit(s[pos + i])) return std::nullopt;
    v = v * 10 + (s[pos + i] - '0');
  }
  pos += n;
  return v;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::optional<int> Month(std::string_view s, size_t& pos) {
  if (pos + 3 > s.size()) return std::nullopt;
  for (size_t m = 0; m < kMonths.size(); ++m) {
    const char* name = kMonths[m];
    if (Lower(s[pos]) == Lower(name[0]) && Lower(s[pos + 1]) == Lower(name[1]) &&
        Lower(s[pos + 2]) == Lower(name[2])) {
      pos += 3;
      return static_cast<int>(m) + 1;
    }
  }
  return std::nullopt;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// "d-Mon-yyyy" with the day already read; checks ranges.
std::optional<ImapDate> MonthYear(std::string_view s, size_t& pos, int day) {
  if (!Expect(s, pos, '-')) return std::nullopt;
  auto month = Month(s, pos);
  if (!month || !Expect(s, pos, '-')) return std::nullopt;
  auto year = Digits(s, pos, 4);
  if (!year || *year < 1900) return std::nullopt;
  if (day < 1 || day > DaysInMonth(*year, *month)) return std::nullopt;
  return ImapDate{*year, *month, day};
}

}  // namespace

int64_t DaysFromCivil(const ImapDate& d) {
  const int64_t y = static_cast<int64_t>(d.year) - (d.month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t mp = d.month > 2 ? d.month - 3 : d.month + 9;
  const int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string FormatDateTime(int64_t unix_time, int zone_minutes) {
  if (zone_minutes > kMaxZoneMinutes || zone_minutes < -kMaxZoneMinutes) zone_minutes = 0;
  const int64_t local = unix_time + static_cast<int64_t>(zone_minutes) * 60;
  int64_t days = local / 86400;
  int64_t secs = local % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  const ImapDate d = CivilFromDays(days);
  const int zone_abs = zone_minutes < 0 ? -zone_minutes : zone_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", d.day,
                kMonths[static_cast<size_t>(d.month - 1)], d.year, static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60), zone_minutes < 0 ? '-' : '+',
                zone_abs / 60, zone_abs % 60);
  return buf;
}

std::optional<ImapDateTime> ParseDateTime(std::string_view s) {
  size_t pos = 0;
  std::optional<int> day;
  if (!s.empty() && s[0] == ' ') {
    ++pos;
    day = Digits(s, pos, 1);
  } else if (s.size() > 1 && Digit(s[0]) && Digit(s[1])) {
    day = Digits(s, pos, 2);
  } else {
    day = Digits(s, pos, 1);
  }
  if (!day) return std::nullopt;
  auto date = MonthYear(s, pos, *day);
  if (!date || !Expect(s, pos, ' ')) return std::nullopt;
  auto hh = Digits(s, pos, 2);
  if (!hh || !Expect(s, pos, ':')) return std::nullopt;
  auto mm = Digits(s, pos, 2);
  if (!mm || !Expect(s, pos, ':')) return std::nullopt;
  auto ss = Digits(s, pos, 2);
  if (!ss || !Expect(s, pos, ' ')) return std::nullopt;
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return std::nullopt;
  const bool negative = s[pos++] == '-';
  auto zh = Digits(s, pos, 2);
  auto zm = zh ? Digits(s, pos, 2) : std::nullopt;
  if (!zm || pos != s.size()) return std::nullopt;
  // A leap second (60) is accepted and lands on the next second, as mktime does.
  if (*hh > 23 || *mm > 59 || *ss > 60 || *zh > 23 || *zm > 59) return std::nullopt;
  const int zone = (negative ? -1 : 1) * (*zh * 60 + *zm);
  const int64_t local = DaysFromCivil(*date) * 86400 + *hh * 3600 + *mm * 60 + *ss;
  return ImapDateTime{local - static_cast<int64_t>(zone) * 60, zone};
}

std::optional<ImapDate> ParseDate(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  size_t pos = 0;
  std::optional<int> day =
      s.size() > 1 && Digit(s[0]) && Digit(s[1]) ? Digits(s, pos, 2) : Digits(s, pos, 1);
  if (!day) return std::nullopt;
  auto date = MonthYear(s, pos, *day);
  if (!date || pos != s.size()) return std::nullopt;
  return date;
}

}  // namespace columba::imap
