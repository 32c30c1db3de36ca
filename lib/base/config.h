// config.h - YAML configuration with environment overrides and validation.
//
// A service's config is a YAML map of sections (`lmtp:`, `metad:`, `log:` ...) of
// scalar or list keys. Any key can be overridden by COLUMBA_<SECTION>_<KEY> in the
// environment (section is one word; key is the rest, lower-cased), so containers
// need no file at all. Each service reads its keys through ConfigReader, giving the
// default and the allowed range beside each; a value out of range, of the wrong
// type, or a file key nobody read (a typo) makes Finish() fail with a message
// naming the key, and the service refuses to start. Unknown COLUMBA_* variables
// are warnings only (an environment is shared by many programs). Secrets are read from files named in the
// config (`*_file` keys), never logged, never put in the environment of children.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace columba {

// The merged, untyped key/value view: "section.key" -> scalar or list.
class ConfigSource {
 public:
  // Loads `path` (empty: no file) and applies COLUMBA_* variables from `envp`.
  static Result<ConfigSource> Load(const std::string& path, char** envp);
  // Parses YAML text directly (tests).
  static Result<ConfigSource> FromYaml(std::string_view yaml, char** envp = nullptr);

  struct Value {
    bool is_list = false;
    std::string scalar;
    std::vector<std::string> list;
    std::string origin;  // "file" or the env var name, for error messages
  };
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  Result<void> ApplyEnv(char** envp);
  std::map<std::string, Value> values_;
};

// Typed reads with defaults and validation; collects every error.
class ConfigReader {
 public:
  explicit ConfigReader(const ConfigSource& src) : src_(src) {}

  std::string String(std::string_view section, std::string_view key, std::string_view def);
  int64_t Int(std::string_view section, std::string_view key, int64_t def, int64_t min, int64_t max);
  bool Bool(std::string_view section, std::string_view key, bool def);
  // Accepts 30s, 500ms, 20m, 2h, 1d or a bare number of seconds.
  std::chrono::milliseconds Duration(std::string_view section, std::string_view key,
                                     std::chrono::milliseconds def, std::chrono::milliseconds min,
                                     std::chrono::milliseconds max);
  // Accepts 1024, 64K, 10M, 2G (binary multiples).
  uint64_t Size(std::string_view section, std::string_view key, uint64_t def, uint64_t min, uint64_t max);
  // A YAML list, or in the environment a comma/space separated string.
  std::vector<std::string> List(std::string_view section, std::string_view key,
                                std::vector<std::string> def);
  // One of the allowed words.
  std::string Enum(std::string_view section, std::string_view key, std::string_view def,
                   std::initializer_list<std::string_view> allowed);

  // Records an error for a cross-field check done by the caller.
  void Invalid(std::string_view section, std::string_view key, std::string_view why);
  // Fails, naming every bad value or unknown file key, when anything was wrong.
  // allow_unknown: tools that share a service's file (columbactl) skip the
  // unknown-key check but still refuse bad values.
  Result<void> Finish(bool allow_unknown = false);
  // Unknown COLUMBA_* environment variables: logged by the caller, never fatal.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  const ConfigSource::Value* Find(std::string_view section, std::string_view key);
  const ConfigSource& src_;
  std::set<std::string> read_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

Result<std::chrono::milliseconds> ParseDuration(std::string_view s);
Result<uint64_t> ParseSize(std::string_view s);

}  // namespace columba
