// date.h - RFC 5322 date-time parsing for the Date: header.
//
// NAME
//   ParseMessageDate
//
// DESCRIPTION
//   Parses RFC 5322 section 3.3 date-time, including the obsolete forms of
//   section 4.3 (two- and three-digit years, alphabetic zones, comments and
//   folding anywhere, missing seconds) and a few common mistakes (no day name
//   comma, missing zone, asctime order "Mon Jan  2 15:04:05 2006"). Used by
//   search extraction (SENTBEFORE / SENTON / SENTSINCE) and sorting.
//
// NEVER
//   Never consults the local time zone or any global state, never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace columba::mail {

struct MessageDate {
  int64_t unix_time = 0;  // seconds since 1970-01-01T00:00:00Z
  int zone_minutes = 0;   // offset of the sender's zone east of UTC, e.g. +0130 -> 90
};

// Returns nullopt when no date can be recognised.
std::optional<MessageDate> ParseMessageDate(std::string_view value);

}  // namespace columba::mail
