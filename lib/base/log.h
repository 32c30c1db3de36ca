// log.h - structured JSON logs, one object per line on stderr.
//
// Every line carries ts, level, service and msg, plus the caller's fields. Values
// are JSON-escaped here, so a hostile client string cannot forge log fields.
// Never pass a password, a password hash or a message body as a field.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "lib/base/result.h"

namespace columba::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <class N>
    requires std::is_arithmetic_v<N>
  Field(std::string_view k, N v) : key(k), value(std::to_string(v)) {}
};

// Sets the service name and minimum level for the whole process.
void Init(std::string_view service, Level min_level);
Result<Level> ParseLevel(std::string_view name);

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

// Appends s to out as the inside of a JSON string (no quotes added).
void JsonEscape(std::string& out, std::string_view s);
// Formats one log line (exposed for tests).
std::string FormatLine(Level level, std::string_view service, std::string_view msg,
                       std::initializer_list<Field> fields);

}  // namespace columba::log
