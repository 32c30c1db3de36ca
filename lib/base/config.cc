// config.cc - YAML + environment configuration; see config.h for the rules.
#include "lib/base/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace columba {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Key(std::string_view section, std::string_view key) {
  return std::string(section) + "." + std::string(key);
}

Result<void> Flatten(const YAML::Node& root, std::map<std::string, ConfigSource::Value>& out) {
  if (!root || root.IsNull()) return {};
  if (!root.IsMap()) return Fail(ErrorKind::kInvalidInput, "config: top level must be a map of sections");
  for (const auto& sec : root) {
    std::string section = sec.first.as<std::string>();
    if (sec.second.IsNull()) continue;
    if (!sec.second.IsMap())
      return Fail(ErrorKind::kInvalidInput, fmt::format("config: section '{}' must be a map", section));
    for (const auto& kv : sec.second) {
      ConfigSource::Value v;
      v.origin = "file";
      if (kv.second.IsSequence()) {
        v.is_list = true;
        for (const auto& item : kv.second) {
          if (!item.IsScalar())
            return Fail(ErrorKind::kInvalidInput,
                        fmt::format("config: {}.{} must be a list of scalars", section, kv.first.as<std::string>()));
          v.list.push_back(item.as<std::string>());
        }
      } else if (kv.second.IsScalar()) {
        v.scalar = kv.second.as<std::string>();
      } else if (kv.second.IsNull()) {
        v.scalar = "";
      } else {
        return Fail(ErrorKind::kInvalidInput,
                    fmt::format("config: {}.{} must be a scalar or a list", section, kv.first.as<std::string>()));
      }
      out[Key(section, kv.first.as<std::string>())] = std::move(v);
    }
  }
  return {};
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

Result<void> ConfigSource::ApplyEnv(char** envp) {
  if (!envp) return {};
  for (char** e = envp; *e; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, 8) != "COLUMBA_") continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = kv.substr(0, eq);
    std::string_view rest = name.substr(8);
    auto us = rest.find('_');
    if (us == std::string_view::npos || us == 0 || us + 1 == rest.size()) continue;
    // COLUMBA_STATE, COLUMBA_TEST_* etc. are for scripts; only SECTION_KEY forms count.
    Value v;
    v.scalar = std::string(kv.substr(eq + 1));
    v.origin = std::string(name);
    std::string key = Key(Lower(rest.substr(0, us)), Lower(rest.substr(us + 1)));
    auto it = values_.find(key);
    if (it != values_.end() && it->second.is_list) {
      v.is_list = true;
      v.list = SplitList(v.scalar);
    }
    values_[key] = std::move(v);
  }
  return {};
}

Result<ConfigSource> ConfigSource::FromYaml(std::string_view yaml, char** envp) {
  ConfigSource src;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (auto r = Flatten(root, src.values_); !r) return tl::unexpected(r.error());
  } catch (const YAML::Exception& e) {
    return Fail(ErrorKind::kInvalidInput, fmt::format("config: {}", e.what()));
  }
  if (auto r = src.ApplyEnv(envp); !r) return tl::unexpected(r.error());
  return src;
}

Result<ConfigSource> ConfigSource::Load(const std::string& path, char** envp) {
  ConfigSource src;
  if (!path.empty()) {
    try {
      YAML::Node root = YAML::LoadFile(path);
      if (auto r = Flatten(root, src.values_); !r) return tl::unexpected(r.error());
    } catch (const YAML::Exception& e) {
      return Fail(ErrorKind::kInvalidInput, fmt::format("config {}: {}", path, e.what()));
    }
  }
  if (auto r = src.ApplyEnv(envp); !r) return tl::unexpected(r.error());
  return src;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  if (s.empty()) return Fail(ErrorKind::kInvalidInput, "empty duration");
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return Fail(ErrorKind::kInvalidInput, "duration must start with a number");
  uint64_t n = 0;
  if (std::from_chars(s.data(), s.data() + i, n).ec != std::errc())
    return Fail(ErrorKind::kInvalidInput, "duration number out of range");
  std::string_view unit = s.substr(i);
  uint64_t mult;
  if (unit == "ms") mult = 1;
  else if (unit.empty() || unit == "s") mult = 1000;
  else if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else if (unit == "d") mult = 86'400'000;
  else return Fail(ErrorKind::kInvalidInput, "duration unit must be ms, s, m, h or d");
  if (n > UINT64_MAX / mult / 2) return Fail(ErrorKind::kInvalidInput, "duration too large");
  return std::chrono::milliseconds(static_cast<int64_t>(n * mult));
}

Result<uint64_t> ParseSize(std::string_view s) {
  if (s.empty()) return Fail(ErrorKind::kInvalidInput, "empty size");
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return Fail(ErrorKind::kInvalidInput, "size must start with a number");
  uint64_t n = 0;
  if (std::from_chars(s.data(), s.data() + i, n).ec != std::errc())
    return Fail(ErrorKind::kInvalidInput, "size out of range");
  std::string unit = Lower(s.substr(i));
  uint64_t mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1ull << 30;
  else return Fail(ErrorKind::kInvalidInput, "size unit must be K, M or G");
  if (n > UINT64_MAX / mult) return Fail(ErrorKind::kInvalidInput, "size too large");
  return n * mult;
}

const ConfigSource::Value* ConfigReader::Find(std::string_view section, std::string_view key) {
  std::string k = Key(section, key);
  read_.insert(k);
  auto it = src_.values().find(k);
  return it == src_.values().end() ? nullptr : &it->second;
}

void ConfigReader::Invalid(std::string_view section, std::string_view key, std::string_view why) {
  errors_.push_back(fmt::format("{}.{}: {}", section, key, why));
}

std::string ConfigReader::String(std::string_view section, std::string_view key, std::string_view def) {
  const auto* v = Find(section, key);
  if (!v) return std::string(def);
  if (v->is_list) {
    Invalid(section, key, "must be a single value, not a list");
    return std::string(def);
  }
  return v->scalar;
}

int64_t ConfigReader::Int(std::string_view section, std::string_view key, int64_t def, int64_t min,
                          int64_t max) {
  const auto* v = Find(section, key);
  if (!v) return def;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v->scalar.data(), v->scalar.data() + v->scalar.size(), n);
  if (v->is_list || ec != std::errc() || p != v->scalar.data() + v->scalar.size()) {
    Invalid(section, key, fmt::format("'{}' is not an integer (from {})", v->scalar, v->origin));
    return def;
  }
  if (n < min || n > max) {
    Invalid(section, key, fmt::format("{} is outside {}..{} (from {})", n, min, max, v->origin));
    return def;
  }
  return n;
}

bool ConfigReader::Bool(std::string_view section, std::string_view key, bool def) {
  const auto* v = Find(section, key);
  if (!v) return def;
  std::string s = Lower(v->scalar);
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  Invalid(section, key, fmt::format("'{}' is not a boolean (from {})", v->scalar, v->origin));
  return def;
}

std::chrono::milliseconds ConfigReader::Duration(std::string_view section, std::string_view key,
                                                 std::chrono::milliseconds def,
                                                 std::chrono::milliseconds min,
                                                 std::chrono::milliseconds max) {
  const auto* v = Find(section, key);
  if (!v) return def;
  auto d = ParseDuration(v->scalar);
  if (!d) {
    Invalid(section, key, fmt::format("'{}': {} (from {})", v->scalar, d.error().message, v->origin));
    return def;
  }
  if (*d < min || *d > max) {
    Invalid(section, key, fmt::format("{}ms is outside {}ms..{}ms (from {})", d->count(), min.count(),
                                      max.count(), v->origin));
    return def;
  }
  return *d;
}

uint64_t ConfigReader::Size(std::string_view section, std::string_view key, uint64_t def, uint64_t min,
                            uint64_t max) {
  const auto* v = Find(section, key);
  if (!v) return def;
  auto n = ParseSize(v->scalar);
  if (!n) {
    Invalid(section, key, fmt::format("'{}': {} (from {})", v->scalar, n.error().message, v->origin));
    return def;
  }
  if (*n < min || *n > max) {
    Invalid(section, key, fmt::format("{} is outside {}..{} (from {})", *n, min, max, v->origin));
    return def;
  }
  return *n;
}

std::vector<std::string> ConfigReader::List(std::string_view section, std::string_view key,
                                             std::vector<std::string> def) {
  const auto* v = Find(section, key);
  if (!v) return def;
  if (v->is_list) return v->list;
  return SplitList(v->scalar);
}

std::string ConfigReader::Enum(std::string_view section, std::string_view key, std::string_view def,
                               std::initializer_list<std::string_view> allowed) {
  std::string s = String(section, key, def);
  if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return s;
  std::string names;
  for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
  Invalid(section, key, fmt::format("'{}' is not one of: {}", s, names));
  return std::string(def);
}

Result<void> ConfigReader::Finish(bool allow_unknown) {
  // A file key nobody read is a typo and an error. An unknown COLUMBA_* environment
  // variable is only a warning: one environment often serves several services and
  // scripts (COLUMBA_BUILD_DIR, COLUMBA_LDAP_PROVIDER_PORT, another service's keys).
  for (const auto& [k, v] : src_.values()) {
    if (read_.count(k)) continue;
    if (v.origin != "file") {
      warnings_.push_back(fmt::format("{}: not a config key of this program, ignored (from {})", k, v.origin));
      continue;
    }
    if (!allow_unknown) errors_.push_back(fmt::format("{}: unknown config key (from {})", k, v.origin));
  }
  if (errors_.empty()) return {};
  std::string msg = "invalid configuration:";
  for (const auto& e : errors_) msg += "\n  " + e;
  return Fail(ErrorKind::kInvalidInput, msg);
}

}  // namespace columba
