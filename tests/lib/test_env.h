// test_env.h - connection details of the test infrastructure, for integration tests.
//
// NAME
//   columba::testing::TestEnv - one value from $COLUMBA_TEST_STATE/env.
// SYNOPSIS
//   #include "tests/lib/test_env.h"
//   std::string uri = columba::testing::TestEnv("COLUMBA_LDAP_WRITE_URI");
//   std::string pw  = columba::testing::ReadTestFile(TestEnv("COLUMBA_LDAP_BIND_PASSWORD_FILE"));
// DESCRIPTION
//   `tests/infra up DIR` (deploy/lib/infra) writes DIR/env: KEY='VALUE' lines, '#'
//   comments. The ctest fixture `infra` sets COLUMBA_TEST_STATE=DIR for every test.
//   The file is read on every call (tests call this a handful of times).
// DIAGNOSTICS
//   TestEnv throws std::runtime_error naming what is missing (COLUMBA_TEST_STATE unset,
//   the file unreadable, the key absent). GoogleTest reports an exception thrown in a
//   test body or SetUp as a failure with that message.
// NEVER
//   Returns an empty string or a default for a missing value: an integration test
//   that cannot reach its infrastructure must fail, not silently pass or skip.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace columba::testing {

// The state directory named by COLUMBA_TEST_STATE; throws when it is unset.
inline std::string TestStateDir() {
  const char* dir = std::getenv("COLUMBA_TEST_STATE");
  if (dir == nullptr || *dir == '\0')
    throw std::runtime_error(
        "COLUMBA_TEST_STATE is not set: start the test infrastructure with "
        "`tests/infra up DIR` and run with COLUMBA_TEST_STATE=DIR (ctest does this "
        "through the `infra` fixture)");
  return dir;
}

// The whole content of `path`, with trailing newlines removed (secret files).
inline std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  std::string out = s.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The value of `key` in $COLUMBA_TEST_STATE/env; throws when it cannot be found.
inline std::string TestEnv(const char* key) {
  const std::string path = TestStateDir() + "/env";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path + " (did `tests/infra up` finish?)");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || line.compare(0, eq, key) != 0 || eq != std::char_traits<char>::length(key))
      continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    return value;
  }
  throw std::runtime_error(std::string("key ") + key + " not found in " + path);
}

}  // namespace columba::testing
