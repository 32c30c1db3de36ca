// imap_date.h - IMAP date-time and date: INTERNALDATE output, APPEND and SEARCH input.
//
// NAME
//   FormatDateTime, ParseDateTime, ParseDate, DaysFromCivil
//
// SYNOPSIS
//   FormatDateTime(1795600800, 0)       -> "\"25-Nov-2026 10:00:00 +0000\""
//   ParseDateTime("25-Nov-2026 11:00:00 +0100") -> {unix 1795600800, zone 60}
//   ParseDate("1-Feb-2026")             -> {2026, 2, 1}
//
// DESCRIPTION
//   RFC 3501 section 9 (date-time, date-text). Parsing is strict: the text
//   must be exactly the grammar (after the command parser has removed the
//   DQUOTEs of a quoted string), with month names in any case, fields in range
//   and the day valid for its month. Two deliberate leniencies, both as
//   Dovecot: a date-time day may be one digit without the leading space, and
//   a SEARCH date may carry its DQUOTEs (they are stripped here too).
//   Years 1900..9999 are accepted; a zone offset may be at most +/-23:59.
//
// NEVER
//   Never consults the local time zone or any global state, never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace columba::imap {

struct ImapDateTime {
  int64_t unix_time = 0;  // seconds since 1970-01-01T00:00:00Z
  int zone_minutes = 0;   // east of UTC: +0130 -> 90
  bool operator==(const ImapDateTime&) const = default;
};

struct ImapDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  bool operator==(const ImapDate&) const = default;
};

// INTERNALDATE: "\"dd-Mon-yyyy hh:mm:ss +zzzz\"" (DQUOTEs included, day
// zero-padded) of `unix_time` shown in the zone `zone_minutes` east of UTC.
// Offsets beyond +/-23:59 are clamped to 0 (UTC).
std::string FormatDateTime(int64_t unix_time, int zone_minutes);

// APPEND date-time without its DQUOTEs: "dd-Mon-yyyy hh:mm:ss +zzzz" (the
// day may be " d", "dd" or "d"). nullopt for anything else.
std::optional<ImapDateTime> ParseDateTime(std::string_view s);

// SEARCH date: "d-Mon-yyyy" or "dd-Mon-yyyy", optionally in DQUOTEs.
std::optional<ImapDate> ParseDate(std::string_view s);

// Days since 1970-01-01 of a civil (proleptic Gregorian) date; SEARCH
// BEFORE/ON/SINCE compare these against the INTERNALDATE's day in its zone.
int64_t DaysFromCivil(const ImapDate& d);

}  // namespace columba::imap
