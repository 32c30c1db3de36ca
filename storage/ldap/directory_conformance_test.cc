// directory_conformance_test.cc - one contract, every Directory backend (STYLE habit 7).
//
// NAME
//   directory_conformance_test - the Directory conformance suite, plus LDAP-only
//   replication/failover cases, escaping checks and the CachingDirectory decorator.
// DESCRIPTION
//   DirectoryConformance runs against MemoryDirectory, CachingDirectory(Memory), FileDirectory,
//   LdapDirectory on a real slapd provider + syncrepl consumer (reads from the consumer
//   first, as services do), SqlDirectory ("sql": through a real columba-metad over gRPC to
//   a private PostgreSQL database) and PgDirectory on that database directly ("pg"). Reads after writes poll for up to 5 s (Eventually) because
//   a replica lags the provider by milliseconds; the in-memory backends pass at once.
//   LDAP connection details come from $COLUMBA_TEST_STATE/env, written by
//   `tests/infra up DIR`. Every test makes its own random domains, so runs and tests
//   do not interfere (the LDAP data outlives a run).
//   SqlDirectory-only cases: rows written with plain SQL are served at once; concurrent
//   clashing AddAccount/AddAlias calls through two metad replicas leave exactly one
//   winner; metad down and PostgreSQL down are kUnavailable, never "no such user".
//   By hand:  tests/infra up /tmp/colstate &&
//             COLUMBA_TEST_STATE=/tmp/colstate COLUMBA_BUILD_DIR=build
//             build/storage/ldap/directory_conformance_test
// NEVER
//   Skips or passes an LDAP case when the infrastructure is missing: TestEnv throws and
//   the case fails with the reason. Never asserts on state another test may create.
#include <ldap.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "storage/api/caching_directory.h"
#include "storage/filedir/file_directory.h"
#include "storage/ldap/ldap_directory.h"
#include "storage/memory/memory_directory.h"
#include "storage/postgres/pg_directory.h"
#include "storage/sqldir/sql_directory.h"
#include "tests/lib/metad_process.h"
#include "tests/lib/test_env.h"

namespace columba::storage {
namespace {

using namespace std::chrono_literals;
using columba::testing::ReadTestFile;
using columba::testing::TestEnv;

constexpr auto kReplicationWait = 5s;

std::string RandomToken() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  std::ostringstream s;
  s << std::hex << rng();
  return s.str();
}

std::string RandomDomain() { return "d" + RandomToken() + ".conformance.example"; }

// Polls f() until pred(result) holds or the replication wait is over; returns the last result.
template <class F, class P>
auto Eventually(F f, P pred) -> decltype(f()) {
  const auto deadline = std::chrono::steady_clock::now() + kReplicationWait;
  for (;;) {
    auto r = f();
    if (pred(r) || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(10ms);
  }
}

template <class T>
::testing::AssertionResult IsKind(const Result<T>& r, ErrorKind kind) {
  if (r) return ::testing::AssertionFailure() << "succeeded; expected " << ErrorKindName(kind);
  if (r.error().kind != kind)
    return ::testing::AssertionFailure() << "failed with " << ErrorKindName(r.error().kind) << " (" << r.error().message
                                         << "); expected " << ErrorKindName(kind);
  return ::testing::AssertionSuccess();
}

template <class T>
std::string Why(const Result<T>& r) {
  return r ? std::string("ok") : ErrorKindName(r.error().kind) + std::string(": ") + r.error().message;
}

bool Found(const Result<std::optional<Account>>& r) { return r && r->has_value(); }
bool Gone(const Result<std::optional<Account>>& r) { return r && !r->has_value(); }

std::vector<std::string> Split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The test infrastructure's LDAP: reads from the consumer first, writes to the provider.
// A fresh directory for the file backend (removed in TearDown).
std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "columba-filedir-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

LdapDirectoryConfig LdapConfigFromTestEnv() {
  LdapDirectoryConfig c;
  c.read_uris = Split(TestEnv("COLUMBA_LDAP_URIS"));
  c.write_uri = TestEnv("COLUMBA_LDAP_WRITE_URI");
  c.base_dn = TestEnv("COLUMBA_LDAP_BASE_DN");
  c.bind_dn = TestEnv("COLUMBA_LDAP_BIND_DN");
  c.bind_password = ReadTestFile(TestEnv("COLUMBA_LDAP_BIND_PASSWORD_FILE"));
  c.network_timeout = 1s;
  c.operation_timeout = 5s;
  return c;
}

std::string ConsumerUri() { return Split(TestEnv("COLUMBA_LDAP_URIS")).front(); }

std::shared_ptr<LdapDirectory> MakeLdap(const LdapDirectoryConfig& c) {
  auto d = LdapDirectory::Create(c);
  if (!d) throw std::runtime_error("LdapDirectory::Create: " + d.error().message);
  return *d;
}

// One private database and two metad replicas on it, shared by every test of the
// binary (started on first use, stopped and dropped at exit).
struct SqlBackend {
  columba::testing::TestDatabase db;
  columba::testing::TempDir dir;
  std::unique_ptr<columba::testing::MetadProcess> metad_a =
      columba::testing::MetadProcess::Start("a", dir.path(), db.uri());
  std::unique_ptr<columba::testing::MetadProcess> metad_b =
      columba::testing::MetadProcess::Start("b", dir.path(), db.uri());
  std::shared_ptr<pg::ConnectionPool> pool = std::make_shared<pg::ConnectionPool>(db.uri(), 8);
};

SqlBackend& Sql() {
  static SqlBackend backend;  // throws (the test fails) without infra or columba-metad
  return backend;
}

std::shared_ptr<SqlDirectory> MakeSql(const std::string& target, std::chrono::milliseconds deadline = 5s) {
  auto d = SqlDirectory::Create({target, deadline});
  if (!d) throw std::runtime_error("SqlDirectory::Create: " + d.error().message);
  return *d;
}

Account MakeAccount(const std::string& address, std::vector<std::string> aliases = {}) {
  Account a;
  a.address = address;
  a.aliases = std::move(aliases);
  return a;
}

// ================================================================ the contract

class DirectoryConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& backend = GetParam();
    if (backend == "memory") {
      dir_ = std::make_shared<MemoryDirectory>();
    } else if (backend == "caching_memory") {
      dir_ = std::make_shared<CachingDirectory>(std::make_shared<MemoryDirectory>(), 30s);
    } else if (backend == "file") {
      file_dir_ = TempDir();
      auto d = FileDirectory::Open(file_dir_ + "/directory");
      ASSERT_TRUE(d) << Why(d);
      dir_ = *d;
    } else if (backend == "ldap") {
      dir_ = MakeLdap(LdapConfigFromTestEnv());  // throws (test fails) without infra
    } else if (backend == "sql") {
      dir_ = MakeSql(Sql().metad_a->target());
    } else if (backend == "pg") {
      dir_ = std::make_shared<pg::PgDirectory>(Sql().pool);
    } else {
      FAIL() << "unknown backend " << backend;
    }
  }

  // A fresh local domain, visible to reads.
  std::string NewDomain() {
    std::string d = RandomDomain();
    auto added = dir_->AddDomain(d);
    EXPECT_TRUE(added) << Why(added);
    auto local = Eventually([&] { return dir_->IsLocalDomain(d); }, [](const Result<bool>& r) { return r && *r; });
    EXPECT_TRUE(local && *local) << "domain " << d << " not visible: " << Why(local);
    return d;
  }

  void AddOrFail(const Account& a) {
    auto r = dir_->AddAccount(a);
    ASSERT_TRUE(r) << a.address << ": " << Why(r);
  }

  Result<std::optional<Account>> LookupEventually(const std::string& address) {
    return Eventually([&] { return dir_->Lookup(address); }, Found);
  }

  void TearDown() override {
    if (!file_dir_.empty()) std::filesystem::remove_all(file_dir_);
  }

  std::shared_ptr<Directory> dir_;
  std::string file_dir_;  // the "file" backend's directory
};

TEST_P(DirectoryConformance, AddAndListDomains) {
  std::string d1 = NewDomain();
  std::string d2 = NewDomain();
  auto listed = Eventually([&] { return dir_->ListDomains(); }, [&](const Result<std::vector<std::string>>& r) {
    return r && std::count(r->begin(), r->end(), d1) == 1 && std::count(r->begin(), r->end(), d2) == 1;
  });
  ASSERT_TRUE(listed) << Why(listed);
  EXPECT_EQ(std::count(listed->begin(), listed->end(), d1), 1);
  EXPECT_EQ(std::count(listed->begin(), listed->end(), d2), 1);
  EXPECT_TRUE(std::is_sorted(listed->begin(), listed->end()));

  std::string upper = d1;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto local = dir_->IsLocalDomain(upper);
  ASSERT_TRUE(local) << Why(local);
  EXPECT_TRUE(*local);
  auto unknown = dir_->IsLocalDomain(RandomDomain());
  ASSERT_TRUE(unknown) << Why(unknown);
  EXPECT_FALSE(*unknown);

  EXPECT_TRUE(IsKind(dir_->AddDomain(d1), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddDomain(upper), ErrorKind::kAlreadyExists));
}

TEST_P(DirectoryConformance, AddDomainStoresLowerCase) {
  std::string d = RandomDomain();
  std::string mixed = "  " + d.substr(0, 3) + "MiXeD" + d.substr(3) + " ";
  ASSERT_TRUE(dir_->AddDomain(mixed));
  std::string lower = d.substr(0, 3) + "mixed" + d.substr(3);
  auto listed = Eventually([&] { return dir_->ListDomains(); }, [&](const Result<std::vector<std::string>>& r) {
    return r && std::count(r->begin(), r->end(), lower) == 1;
  });
  ASSERT_TRUE(listed);
  EXPECT_EQ(std::count(listed->begin(), listed->end(), lower), 1);
}

TEST_P(DirectoryConformance, InvalidInputIsRejected) {
  EXPECT_TRUE(IsKind(dir_->AddDomain(""), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddDomain("two words.example"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddDomain("user@example.com"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddDomain("a..b"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddDomain("x*)(cn=*"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddDomain("m\xc3\xbcller.example"), ErrorKind::kInvalidInput));

  EXPECT_TRUE(IsKind(dir_->Lookup("no-at-sign"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->Lookup("a@b@c"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->Lookup("*"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->Lookup("j\xc3\xbcrgen@example.com"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("bad")), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->ListAccounts("bad domain"), ErrorKind::kInvalidInput));

  auto r = dir_->IsLocalDomain("not a domain");  // not a domain name: not one of ours
  ASSERT_TRUE(r) << Why(r);
  EXPECT_FALSE(*r);
}

TEST_P(DirectoryConformance, AddAccountNeedsLocalDomain) {
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("someone@" + RandomDomain())), ErrorKind::kNotFound));
}

TEST_P(DirectoryConformance, AddAndLookupByAddressAndAlias) {
  std::string d = NewDomain();
  Account a;
  a.address = "Alice@" + d;  // stored lower-case
  a.aliases = {"ALICE.SMITH@" + d, "postmaster@" + d};
  a.password_hash = "{SHA512-CRYPT}$6$salt$hash";
  a.quota_bytes = 1'000'000'000'000ull;  // beyond 32 bits
  a.quota_messages = 50'000;
  AddOrFail(a);

  auto got = LookupEventually("alice@" + d);
  ASSERT_TRUE(Found(got)) << Why(got);
  const Account& acc = **got;
  EXPECT_EQ(acc.address, "alice@" + d);
  EXPECT_EQ(acc.aliases, (std::vector<std::string>{"alice.smith@" + d, "postmaster@" + d}));
  EXPECT_EQ(acc.password_hash, a.password_hash);
  EXPECT_EQ(acc.quota_bytes, a.quota_bytes);
  EXPECT_EQ(acc.quota_messages, a.quota_messages);
  EXPECT_TRUE(acc.enabled);

  for (std::string key : {"ALICE@" + d, "alice.smith@" + d, "PostMaster@" + d, " alice@" + d + " "}) {
    auto by = dir_->Lookup(key);
    ASSERT_TRUE(Found(by)) << key << ": " << Why(by);
    EXPECT_EQ((*by)->address, "alice@" + d) << key;
  }
  auto unknown = dir_->Lookup("bob@" + d);
  ASSERT_TRUE(unknown) << Why(unknown);
  EXPECT_FALSE(unknown->has_value());
  auto other_domain = dir_->Lookup("alice@" + RandomDomain());
  ASSERT_TRUE(other_domain) << Why(other_domain);
  EXPECT_FALSE(other_domain->has_value());
}

TEST_P(DirectoryConformance, DefaultsForOptionalFields) {
  std::string d = NewDomain();
  AddOrFail(MakeAccount("plain@" + d));
  Account off = MakeAccount("off@" + d);
  off.enabled = false;
  AddOrFail(off);

  auto plain = LookupEventually("plain@" + d);
  ASSERT_TRUE(Found(plain)) << Why(plain);
  EXPECT_TRUE((*plain)->aliases.empty());
  EXPECT_EQ((*plain)->password_hash, "");
  EXPECT_EQ((*plain)->quota_bytes, 0u);
  EXPECT_EQ((*plain)->quota_messages, 0u);
  EXPECT_TRUE((*plain)->enabled);

  auto disabled = LookupEventually("off@" + d);
  ASSERT_TRUE(Found(disabled)) << Why(disabled);
  EXPECT_FALSE((*disabled)->enabled);
}

TEST_P(DirectoryConformance, DuplicatesAndAliasClashes) {
  std::string d = NewDomain();
  AddOrFail(MakeAccount("a@" + d, {"a-alias@" + d}));
  AddOrFail(MakeAccount("b@" + d));

  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("a@" + d)), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("A@" + d)), ErrorKind::kAlreadyExists));
  // New address equal to an existing alias, new alias equal to an address or alias.
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("a-alias@" + d)), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("c@" + d, {"b@" + d})), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("c@" + d, {"A-ALIAS@" + d})), ErrorKind::kAlreadyExists));
  // An alias equal to the account's own address is malformed input.
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("c@" + d, {"C@" + d})), ErrorKind::kInvalidInput));
  // Checks run in a fixed order: input, then domain, then clashes.
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("x@" + RandomDomain(), {"b@" + d})), ErrorKind::kNotFound));

  // AddAlias: unknown target, taken alias (as alias, as address, as own address).
  EXPECT_TRUE(IsKind(dir_->AddAlias("new@" + d, "nobody@" + d), ErrorKind::kNotFound));
  EXPECT_TRUE(IsKind(dir_->AddAlias("a-alias@" + d, "b@" + d), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAlias("A@" + d, "b@" + d), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAlias("b@" + d, "b@" + d), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAlias("bad", "b@" + d), ErrorKind::kInvalidInput));

  ASSERT_TRUE(dir_->AddAlias("B.Second@" + d, "b@" + d));
  // The target may be named by one of its aliases.
  ASSERT_TRUE(dir_->AddAlias("b.third@" + d, "b.second@" + d));
  auto got = Eventually([&] { return dir_->Lookup("b.third@" + d); }, Found);
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->address, "b@" + d);
  EXPECT_EQ((*got)->aliases, (std::vector<std::string>{"b.second@" + d, "b.third@" + d}));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("b.second@" + d)), ErrorKind::kAlreadyExists));
}

TEST_P(DirectoryConformance, SetPasswordHashAndQuota) {
  std::string d = NewDomain();
  AddOrFail(MakeAccount("u@" + d, {"u-alias@" + d}));
  ASSERT_TRUE(LookupEventually("u@" + d));

  ASSERT_TRUE(dir_->SetPasswordHash("U@" + d, "{ARGON2}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA"));
  auto got = Eventually([&] { return dir_->Lookup("u-alias@" + d); },
                        [](const auto& r) { return Found(r) && (*r)->password_hash.starts_with("{ARGON2}"); });
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->password_hash, "{ARGON2}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA");

  ASSERT_TRUE(dir_->SetQuota("u@" + d, 5'000'000'000ull, 123));
  got = Eventually([&] { return dir_->Lookup("u@" + d); },
                   [](const auto& r) { return Found(r) && (*r)->quota_messages == 123; });
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->quota_bytes, 5'000'000'000ull);
  EXPECT_EQ((*got)->quota_messages, 123u);
  EXPECT_EQ((*got)->password_hash, "{ARGON2}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA");

  ASSERT_TRUE(dir_->SetQuota("u@" + d, 0, 0));  // back to unlimited
  ASSERT_TRUE(dir_->SetPasswordHash("u@" + d, ""));  // no password: cannot log in
  got = Eventually([&] { return dir_->Lookup("u@" + d); },
                   [](const auto& r) { return Found(r) && (*r)->quota_messages == 0 && (*r)->password_hash.empty(); });
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->quota_bytes, 0u);
  EXPECT_EQ((*got)->quota_messages, 0u);
  EXPECT_EQ((*got)->password_hash, "");

  // Writes name the account by its address, never by an alias.
  EXPECT_TRUE(IsKind(dir_->SetPasswordHash("nobody@" + d, "x"), ErrorKind::kNotFound));
  EXPECT_TRUE(IsKind(dir_->SetQuota("nobody@" + d, 1, 1), ErrorKind::kNotFound));
  EXPECT_TRUE(IsKind(dir_->SetQuota("u-alias@" + d, 1, 1), ErrorKind::kNotFound));
  EXPECT_TRUE(IsKind(dir_->SetPasswordHash("bad", "x"), ErrorKind::kInvalidInput));
}

TEST_P(DirectoryConformance, DeleteAccount) {
  std::string d = NewDomain();
  AddOrFail(MakeAccount("gone@" + d, {"gone-alias@" + d}));
  AddOrFail(MakeAccount("stays@" + d));
  ASSERT_TRUE(Found(LookupEventually("gone-alias@" + d)));

  EXPECT_TRUE(IsKind(dir_->DeleteAccount("gone-alias@" + d), ErrorKind::kNotFound));  // an alias is not an account
  ASSERT_TRUE(dir_->DeleteAccount("GONE@" + d));
  auto by_address = Eventually([&] { return dir_->Lookup("gone@" + d); }, Gone);
  ASSERT_TRUE(by_address) << Why(by_address);
  EXPECT_FALSE(by_address->has_value());
  auto by_alias = Eventually([&] { return dir_->Lookup("gone-alias@" + d); }, Gone);
  ASSERT_TRUE(by_alias) << Why(by_alias);
  EXPECT_FALSE(by_alias->has_value());
  EXPECT_TRUE(Found(dir_->Lookup("stays@" + d)));
  EXPECT_TRUE(IsKind(dir_->DeleteAccount("gone@" + d), ErrorKind::kNotFound));

  // The address and its alias are free again.
  AddOrFail(MakeAccount("gone-alias@" + d, {"gone@" + d}));
}

// ---------------------------------------------------------------- relay domains

TEST_P(DirectoryConformance, RelayDomainsAreApartFromLocalDomains) {
  std::string local = NewDomain();
  std::string relay = RandomDomain();
  std::string upper = relay;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(dir_->AddRelayDomain(" " + upper + " "));  // trimmed and lower-cased like AddDomain
  auto is_relay = Eventually([&] { return dir_->IsRelayDomain(relay); }, [](const Result<bool>& r) { return r && *r; });
  ASSERT_TRUE(is_relay) << Why(is_relay);
  EXPECT_TRUE(*is_relay);
  auto relay_upper = dir_->IsRelayDomain(upper);
  ASSERT_TRUE(relay_upper) << Why(relay_upper);
  EXPECT_TRUE(*relay_upper);

  // A relay domain is not local, a local domain is not relay, an unknown one neither.
  auto relay_is_local = dir_->IsLocalDomain(relay);
  ASSERT_TRUE(relay_is_local) << Why(relay_is_local);
  EXPECT_FALSE(*relay_is_local);
  auto local_is_relay = dir_->IsRelayDomain(local);
  ASSERT_TRUE(local_is_relay) << Why(local_is_relay);
  EXPECT_FALSE(*local_is_relay);
  auto unknown = dir_->IsRelayDomain(RandomDomain());
  ASSERT_TRUE(unknown) << Why(unknown);
  EXPECT_FALSE(*unknown);
  auto not_a_domain = dir_->IsRelayDomain("not a domain");
  ASSERT_TRUE(not_a_domain) << Why(not_a_domain);
  EXPECT_FALSE(*not_a_domain);

  // Listed apart: ListDomains keeps meaning "local domains".
  auto relays = Eventually([&] { return dir_->ListRelayDomains(); }, [&](const Result<std::vector<std::string>>& r) {
    return r && std::count(r->begin(), r->end(), relay) == 1;
  });
  ASSERT_TRUE(relays) << Why(relays);
  EXPECT_EQ(std::count(relays->begin(), relays->end(), relay), 1);
  EXPECT_EQ(std::count(relays->begin(), relays->end(), local), 0);
  EXPECT_TRUE(std::is_sorted(relays->begin(), relays->end()));
  auto locals = dir_->ListDomains();
  ASSERT_TRUE(locals) << Why(locals);
  EXPECT_EQ(std::count(locals->begin(), locals->end(), relay), 0);
  EXPECT_EQ(std::count(locals->begin(), locals->end(), local), 1);

  // Never both kinds, never twice.
  EXPECT_TRUE(IsKind(dir_->AddRelayDomain(relay), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddDomain(relay), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddDomain(upper), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddRelayDomain(local), ErrorKind::kAlreadyExists));
  auto still_local = dir_->IsLocalDomain(local);
  ASSERT_TRUE(still_local && *still_local);
  auto still_not_local = dir_->IsLocalDomain(relay);
  ASSERT_TRUE(still_not_local) << Why(still_not_local);
  EXPECT_FALSE(*still_not_local);

  // No accounts, aliases or catch-alls live in a relay domain.
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("someone@" + relay)), ErrorKind::kNotFound));
  AddOrFail(MakeAccount("owner@" + local));
  ASSERT_TRUE(LookupEventually("owner@" + local));
  EXPECT_TRUE(IsKind(dir_->AddAlias("@" + relay, "owner@" + local), ErrorKind::kNotFound));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("other@" + local, {"@" + relay})), ErrorKind::kNotFound));
  auto nobody = dir_->Lookup("someone@" + relay);
  ASSERT_TRUE(nobody) << Why(nobody);
  EXPECT_FALSE(nobody->has_value());

  EXPECT_TRUE(IsKind(dir_->AddRelayDomain(""), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddRelayDomain("user@example.com"), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddRelayDomain("x*)(cn=*"), ErrorKind::kInvalidInput));
}

// ---------------------------------------------------------------- catch-all

TEST_P(DirectoryConformance, CatchAllAnswersOnlyWhenNothingExactDoes) {
  std::string d = NewDomain();
  std::string without = NewDomain();  // a local domain with no catch-all
  AddOrFail(MakeAccount("postmaster@" + d));
  AddOrFail(MakeAccount("alice@" + d, {"al@" + d}));
  AddOrFail(MakeAccount("bob@" + without));
  ASSERT_TRUE(LookupEventually("bob@" + without));
  // Before the catch-all: an unknown local part is unknown.
  auto before = dir_->Lookup("unknown@" + d);
  ASSERT_TRUE(before) << Why(before);
  EXPECT_FALSE(before->has_value());

  std::string upper = d;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto added = dir_->AddAlias(" @" + upper + " ", "Postmaster@" + d);  // normalised like any alias
  ASSERT_TRUE(added) << Why(added);

  auto caught = Eventually([&] { return dir_->Lookup("unknown@" + d); }, Found);
  ASSERT_TRUE(Found(caught)) << Why(caught);
  EXPECT_EQ((*caught)->address, "postmaster@" + d);
  EXPECT_EQ((*caught)->aliases, std::vector<std::string>{"@" + d});
  auto caught_upper = dir_->Lookup("Some.One+Tag@" + upper);
  ASSERT_TRUE(Found(caught_upper)) << Why(caught_upper);
  EXPECT_EQ((*caught_upper)->address, "postmaster@" + d);

  // The exact address and the exact alias win over the catch-all.
  for (std::string key : {"alice@" + d, "AL@" + d}) {
    auto exact = dir_->Lookup(key);
    ASSERT_TRUE(Found(exact)) << key << ": " << Why(exact);
    EXPECT_EQ((*exact)->address, "alice@" + d) << key;
  }
  auto holder = dir_->Lookup("postmaster@" + d);
  ASSERT_TRUE(Found(holder)) << Why(holder);
  EXPECT_EQ((*holder)->address, "postmaster@" + d);

  // The catch-all of one domain never answers for another: not for a local domain
  // without one, not for a name that merely ends like it, not for an unknown domain.
  std::string lookalike = "x" + d;
  ASSERT_TRUE(dir_->AddDomain(lookalike));
  std::string sub = "sub." + d;
  for (std::string key : {"unknown@" + without, "unknown@" + lookalike, "unknown@" + sub,
                          "unknown@" + RandomDomain()}) {
    auto none = dir_->Lookup(key);
    ASSERT_TRUE(none) << key << ": " << Why(none);
    EXPECT_FALSE(none->has_value()) << key << " matched " << (*none)->address;
  }

  // An account added later in the domain wins over the catch-all at once.
  AddOrFail(MakeAccount("late@" + d));
  auto late = Eventually([&] { return dir_->Lookup("late@" + d); },
                         [&](const auto& r) { return Found(r) && (*r)->address == "late@" + d; });
  ASSERT_TRUE(Found(late)) << Why(late);
  EXPECT_EQ((*late)->address, "late@" + d);

  // A catch-all is not a recipient and not a target; one per domain.
  EXPECT_TRUE(IsKind(dir_->Lookup("@" + d), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddAlias("x@" + d, "@" + d), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(dir_->AddAlias("@" + d, "alice@" + d), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("carol@" + d, {"@" + d})), ErrorKind::kAlreadyExists));
  // Catch-alls only of local domains.
  EXPECT_TRUE(IsKind(dir_->AddAlias("@" + RandomDomain(), "alice@" + d), ErrorKind::kNotFound));
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("carol@" + d, {"@" + RandomDomain()})), ErrorKind::kNotFound));
  // "@domain" only where it means a catch-all.
  for (std::string bad : std::vector<std::string>{"@", "@a@" + d, "@bad domain", "@ " + d, "@" + d + "*", "@x..y"}) {
    EXPECT_TRUE(IsKind(dir_->AddAlias(bad, "alice@" + d), ErrorKind::kInvalidInput)) << bad;
    EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("dave@" + d, {bad})), ErrorKind::kInvalidInput)) << bad;
  }
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("@" + d)), ErrorKind::kInvalidInput));

  // Listed with its account like any alias.
  auto listed = dir_->ListAccounts(d);
  ASSERT_TRUE(listed) << Why(listed);
  auto pm = std::find_if(listed->begin(), listed->end(), [&](const Account& a) { return a.address == "postmaster@" + d; });
  ASSERT_NE(pm, listed->end());
  EXPECT_EQ(pm->aliases, std::vector<std::string>{"@" + d});

  // Gone with its account: unknown local parts are unknown again.
  ASSERT_TRUE(dir_->DeleteAccount("postmaster@" + d));
  auto after = Eventually([&] { return dir_->Lookup("unknown@" + d); }, Gone);
  ASSERT_TRUE(after) << Why(after);
  EXPECT_FALSE(after->has_value());
  EXPECT_TRUE(Found(dir_->Lookup("alice@" + d)));
}

TEST_P(DirectoryConformance, CatchAllGivenWithTheAccountAndSortedWithItsAliases) {
  std::string d = NewDomain();
  std::string other = NewDomain();
  // One account may hold the catch-alls of several domains, its own or not.
  AddOrFail(MakeAccount("hostmaster@" + d, {"zz@" + d, "@" + other, "@" + d, "aa@" + d}));
  auto got = LookupEventually("anything@" + other);
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->address, "hostmaster@" + d);
  std::vector<std::string> want = {"@" + d, "@" + other, "aa@" + d, "zz@" + d};
  std::sort(want.begin(), want.end());
  EXPECT_EQ((*got)->aliases, want);
  auto own = dir_->Lookup("anything@" + d);
  ASSERT_TRUE(Found(own)) << Why(own);
  EXPECT_EQ((*own)->address, "hostmaster@" + d);
}

TEST_P(DirectoryConformance, ListAccountsPerDomainSorted) {
  std::string d1 = NewDomain();
  std::string d2 = NewDomain();
  for (std::string local : {"carol", "alice", "bob", "zed", "alice.b"}) AddOrFail(MakeAccount(local + "@" + d1));
  AddOrFail(MakeAccount("alice@" + d2));
  // A domain name that ends like d1 must not leak into d1's list.
  std::string lookalike = "x" + d1;
  ASSERT_TRUE(dir_->AddDomain(lookalike));
  AddOrFail(MakeAccount("mallory@" + lookalike));

  const std::vector<std::string> want = {"alice.b@" + d1, "alice@" + d1, "bob@" + d1, "carol@" + d1, "zed@" + d1};
  auto addresses = [](const std::vector<Account>& v) {
    std::vector<std::string> out;
    for (const auto& a : v) out.push_back(a.address);
    return out;
  };
  auto listed = Eventually([&] { return dir_->ListAccounts(d1); },
                           [&](const Result<std::vector<Account>>& r) { return r && addresses(*r) == want; });
  ASSERT_TRUE(listed) << Why(listed);
  EXPECT_EQ(addresses(*listed), want);
  auto spaced = dir_->ListAccounts(" " + d1 + " ");  // trimmed like every domain argument
  ASSERT_TRUE(spaced) << Why(spaced);
  EXPECT_EQ(addresses(*spaced), want);

  auto all = Eventually([&] { return dir_->ListAccounts(""); }, [&](const Result<std::vector<Account>>& r) {
    if (!r) return false;
    auto a = addresses(*r);
    return std::count(a.begin(), a.end(), "alice@" + d2) == 1 && std::count(a.begin(), a.end(), "mallory@" + lookalike) == 1;
  });
  ASSERT_TRUE(all) << Why(all);
  auto a = addresses(*all);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  for (const auto& w : want) EXPECT_EQ(std::count(a.begin(), a.end(), w), 1) << w;
  EXPECT_EQ(std::count(a.begin(), a.end(), "alice@" + d2), 1);
  auto empty = dir_->ListAccounts(RandomDomain());
  ASSERT_TRUE(empty) << Why(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_P(DirectoryConformance, SpecialCharactersDoNotBreakOrInject) {
  std::string d = NewDomain();
  const std::vector<std::string> locals = {
      "st*r", "p(a)ren", "x)(mail=*", "back\\slash", "com,ma", "plu+s", "eq=ual", "semi;colon",
      "quo\"te", "#hash", "lt<gt>", "a,ou=domains", "nul\\00l", "star*", "\\2a"};
  std::set<std::string> want;
  int i = 0;
  for (const auto& local : locals) {
    std::string address = local + "@" + d;
    want.insert(address);
    AddOrFail(MakeAccount(address, {"alias" + std::to_string(i++) + "(*)@" + d}));
  }
  for (std::size_t k = 0; k < locals.size(); ++k) {
    std::string address = locals[k] + "@" + d;
    auto got = LookupEventually(address);
    ASSERT_TRUE(Found(got)) << address << ": " << Why(got);
    EXPECT_EQ((*got)->address, address);
    auto by_alias = dir_->Lookup("alias" + std::to_string(k) + "(*)@" + d);
    ASSERT_TRUE(Found(by_alias)) << Why(by_alias);
    EXPECT_EQ((*by_alias)->address, address);
  }
  // Wildcards and filter syntax in a lookup are literal characters, never patterns.
  for (std::string probe : {"*@" + d, "st*@" + d, "*r@" + d, "p(*)ren@" + d, "x)(|(mail=*)@" + d, "alias*@" + d,
                            "\\2a@" + d.substr(0, 1) + "*"}) {
    auto r = dir_->Lookup(probe);
    ASSERT_TRUE(r) << probe << ": " << Why(r);
    EXPECT_FALSE(r->has_value()) << probe << " matched " << (*r)->address;
  }
  // Listing reads the nearest replica, which may still be catching up (lookups
  // above may have been answered by the provider): wait, bounded.
  std::set<std::string> got;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
    auto listed = dir_->ListAccounts(d);
    ASSERT_TRUE(listed) << Why(listed);
    got.clear();
    for (const auto& a : *listed) got.insert(a.address);
    if (got == want || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, want);
  // A DN-looking local part did not create anything outside the users subtree.
  auto domains = dir_->ListDomains();
  ASSERT_TRUE(domains) << Why(domains);
  for (const auto& name : *domains) EXPECT_EQ(name.find('@'), std::string::npos) << name;
  EXPECT_TRUE(IsKind(dir_->AddAccount(MakeAccount("plu+s@" + d)), ErrorKind::kAlreadyExists));
  ASSERT_TRUE(dir_->SetQuota("com,ma@" + d, 7, 7));
  ASSERT_TRUE(dir_->DeleteAccount("plu+s@" + d));
  auto deleted = Eventually([&] { return dir_->Lookup("plu+s@" + d); }, Gone);
  ASSERT_TRUE(deleted) << Why(deleted);
  EXPECT_FALSE(deleted->has_value());
  EXPECT_TRUE(Gone(dir_->Lookup("plus@" + d)));  // no character is dropped or folded
}

TEST_P(DirectoryConformance, ConcurrentCallsAreSafe) {
  std::string d = NewDomain();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 10; ++n) {
        std::string address = "t" + std::to_string(t) + "n" + std::to_string(n) + "@" + d;
        if (!dir_->AddAccount(MakeAccount(address))) ++failures;
        if (!dir_->Lookup(address)) ++failures;  // found or not (replication), but no error
        if (!dir_->IsLocalDomain(d)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto listed = Eventually([&] { return dir_->ListAccounts(d); },
                           [](const Result<std::vector<Account>>& r) { return r && r->size() == 60; });
  ASSERT_TRUE(listed) << Why(listed);
  EXPECT_EQ(listed->size(), 60u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DirectoryConformance, ::testing::Values("memory", "caching_memory", "file", "ldap", "sql", "pg"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ================================================================ SQL only

// Plain SQL as an operator would write it (psql as the `columba` role).
void ExecSql(const std::string& sql) {
  pqxx::connection c(Sql().db.uri());
  pqxx::work w(c);
  w.exec(sql);
  w.commit();
}

TEST(SqlDirectory, RowsWrittenWithPlainSqlAreServedAtOnce) {
  auto dir = MakeSql(Sql().metad_a->target());
  std::string d = RandomDomain();
  ExecSql("INSERT INTO directory_domains (name) VALUES ('" + d + "');"
          "INSERT INTO directory_accounts (address, password_hash, quota_bytes) VALUES ('ops@" + d +
          "', '{PLAIN}secret', 2048);"
          "INSERT INTO directory_aliases (alias, address) VALUES ('postmaster@" + d + "', 'ops@" + d + "');");
  auto local = dir->IsLocalDomain(d);
  ASSERT_TRUE(local) << Why(local);
  EXPECT_TRUE(*local);
  auto got = dir->Lookup("PostMaster@" + d);
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->address, "ops@" + d);
  EXPECT_EQ((*got)->password_hash, "{PLAIN}secret");
  EXPECT_EQ((*got)->quota_bytes, 2048u);
  EXPECT_EQ((*got)->aliases, std::vector<std::string>{"postmaster@" + d});
  EXPECT_TRUE((*got)->enabled);

  // The schema refuses what the API refuses, also to plain SQL.
  EXPECT_THROW(ExecSql("INSERT INTO directory_aliases (alias, address) VALUES ('ops@" + d + "', 'ops@" + d + "')"),
               pqxx::unique_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_accounts (address) VALUES ('postmaster@" + d + "')"),
               pqxx::unique_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_accounts (address) VALUES ('x@" + RandomDomain() + "')"),
               pqxx::foreign_key_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_accounts (address) VALUES ('Upper@" + d + "')"), pqxx::check_violation);

  // Disabled and deleted with plain SQL: seen at the next call (no cache in SqlDirectory).
  ExecSql("UPDATE directory_accounts SET enabled = false WHERE address = 'ops@" + d + "'");
  got = dir->Lookup("ops@" + d);
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_FALSE((*got)->enabled);
  ExecSql("DELETE FROM directory_accounts WHERE address = 'ops@" + d + "'");
  EXPECT_TRUE(Gone(dir->Lookup("postmaster@" + d)));
  ASSERT_TRUE(dir->AddAccount(MakeAccount("postmaster@" + d)));  // the alias was freed with its account
}

TEST(SqlDirectory, PlainSqlKeepsRelayDomainsAndCatchAllsConsistent) {
  auto dir = MakeSql(Sql().metad_a->target());
  std::string d = RandomDomain();
  std::string r = RandomDomain();
  ExecSql("INSERT INTO directory_domains (name) VALUES ('" + d + "');"
          "INSERT INTO directory_domains (name, kind) VALUES ('" + r + "', 'relay');"
          "INSERT INTO directory_accounts (address) VALUES ('pm@" + d + "');"
          "INSERT INTO directory_aliases (alias, address) VALUES ('@" + d + "', 'pm@" + d + "');");
  auto relay = dir->IsRelayDomain(r);
  ASSERT_TRUE(relay && *relay) << Why(relay);
  auto caught = dir->Lookup("anyone@" + d);
  ASSERT_TRUE(Found(caught)) << Why(caught);
  EXPECT_EQ((*caught)->address, "pm@" + d);

  // No account and no catch-all in a relay domain or an unknown one; a domain
  // with accounts does not turn into a relay domain; kinds are spelled out.
  EXPECT_THROW(ExecSql("INSERT INTO directory_accounts (address) VALUES ('x@" + r + "')"),
               pqxx::foreign_key_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_aliases (alias, address) VALUES ('@" + r + "', 'pm@" + d + "')"),
               pqxx::foreign_key_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_aliases (alias, address) VALUES ('@" + RandomDomain() + "', 'pm@" + d +
                       "')"),
               pqxx::foreign_key_violation);
  EXPECT_THROW(ExecSql("UPDATE directory_domains SET kind = 'relay' WHERE name = '" + d + "'"),
               pqxx::foreign_key_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_domains (name, kind) VALUES ('" + d + "', 'relay')"),
               pqxx::unique_violation);
  EXPECT_THROW(ExecSql("INSERT INTO directory_domains (name, kind) VALUES ('" + RandomDomain() + "', 'backup')"),
               pqxx::check_violation);
  // "@" only as a catch-all: "@", "@a@b" and "x@" are refused.
  for (std::string bad : std::vector<std::string>{"@", "@a@" + d, "x@"})
    EXPECT_THROW(ExecSql("INSERT INTO directory_aliases (alias, address) VALUES ('" + bad + "', 'pm@" + d + "')"),
                 pqxx::check_violation)
        << bad;
}

TEST(SqlDirectory, ConcurrentClashingWritesThroughTwoReplicasLeaveOneWinner) {
  auto a = MakeSql(Sql().metad_a->target());
  auto b = MakeSql(Sql().metad_b->target());
  std::string d = RandomDomain();
  ASSERT_TRUE(a->AddDomain(d));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a->AddAccount(MakeAccount("owner" + std::to_string(i) + "@" + d)));
  for (int round = 0; round < 10; ++round) {
    const std::string contested = "contested" + std::to_string(round) + "@" + d;
    std::atomic<int> ok{0}, taken{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        auto& dir = t % 2 == 0 ? a : b;
        // Half claim it as an alias of some account, half as a new account.
        auto r = t < 4 ? dir->AddAlias(contested, "owner" + std::to_string(t) + "@" + d)
                       : dir->AddAccount(MakeAccount(contested));
        if (r) {
          ++ok;
        } else if (r.error().kind == ErrorKind::kAlreadyExists) {
          ++taken;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 1) << contested;
    EXPECT_EQ(taken.load(), 7) << contested;
    EXPECT_EQ(other.load(), 0) << contested;
    auto got = a->Lookup(contested);
    ASSERT_TRUE(Found(got)) << Why(got);
  }
  // Each contested address belongs to exactly one account, as address or alias.
  auto all = a->ListAccounts(d);
  ASSERT_TRUE(all) << Why(all);
  std::multiset<std::string> claimed;
  for (const auto& acc : *all) {
    claimed.insert(acc.address);
    for (const auto& al : acc.aliases) claimed.insert(al);
  }
  for (int round = 0; round < 10; ++round)
    EXPECT_EQ(claimed.count("contested" + std::to_string(round) + "@" + d), 1u);
}

TEST(SqlDirectory, MetadDownIsUnavailableNotUnknownUser) {
  auto [port, unused] = columba::testing::FreePorts();
  (void)unused;
  auto dir = MakeSql("127.0.0.1:" + std::to_string(port), 300ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(IsKind(dir->Lookup("a@b.example"), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->IsLocalDomain("b.example"), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->ListDomains(), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->AddDomain("b.example"), ErrorKind::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "each call is bounded by its deadline";
}

TEST(SqlDirectory, PostgresDownIsUnavailable) {
  // A metad whose PostgreSQL does not answer (nothing listens on the port): its gRPC
  // server is up but every directory call fails with UNAVAILABLE.
  columba::testing::TempDir dir;
  auto [pg_port, unused] = columba::testing::FreePorts();
  (void)unused;
  auto metad = columba::testing::MetadProcess::Launch(
      "nopg", dir.path(), "postgresql://columba:x@127.0.0.1:" + std::to_string(pg_port) + "/columba?connect_timeout=2");
  auto sql = MakeSql(metad->target(), 10s);  // waits for the gRPC port within the deadline
  auto r = sql->Lookup("a@b.example");
  ASSERT_TRUE(IsKind(r, ErrorKind::kUnavailable)) << metad->LogTail(20);
  EXPECT_NE(r.error().message.find("postgres"), std::string::npos) << r.error().message;
  EXPECT_TRUE(IsKind(sql->AddAccount(MakeAccount("a@b.example")), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(sql->ListAccounts(""), ErrorKind::kUnavailable));
}

TEST(SqlDirectory, CreateRejectsBadConfig) {
  EXPECT_TRUE(IsKind(SqlDirectory::Create({"", 5s}), ErrorKind::kInvalidInput));
  EXPECT_TRUE(IsKind(SqlDirectory::Create({"127.0.0.1:1", 0ms}), ErrorKind::kInvalidInput));
  EXPECT_TRUE(SqlDirectory::Create({"127.0.0.1:1", 5s}));  // does not connect
}

TEST(PgDirectory, QuotasBeyondBigintAreInvalidInput) {
  pg::PgDirectory dir(Sql().pool);
  std::string d = RandomDomain();
  ASSERT_TRUE(dir.AddDomain(d));
  Account a = MakeAccount("q@" + d);
  a.quota_bytes = UINT64_MAX;
  EXPECT_TRUE(IsKind(dir.AddAccount(a), ErrorKind::kInvalidInput));
  ASSERT_TRUE(dir.AddAccount(MakeAccount("q@" + d)));
  EXPECT_TRUE(IsKind(dir.SetQuota("q@" + d, 1, UINT64_MAX), ErrorKind::kInvalidInput));
}

// ================================================================ the flat file

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(FileDirectory, AHandWrittenFileIsReadAndEditsAreSeenAtTheNextCall) {
  std::string dir = TempDir();
  std::string path = dir + "/users";
  WriteText(path,
            "# the site's users\n"
            "domain Example.TEST\n"
            "\n"
            "account alice@example.test {PLAIN}secret\tquota_bytes=1024 aliases=al@example.test,a%2Cb@example.test\n"
            "account bob@example.test - quota_messages=5 disabled  # no login\n");
  auto d = FileDirectory::Open(path);
  ASSERT_TRUE(d) << Why(d);
  auto alice = (*d)->Lookup("AL@example.test");
  ASSERT_TRUE(Found(alice)) << Why(alice);
  EXPECT_EQ((*alice)->address, "alice@example.test");
  EXPECT_EQ((*alice)->password_hash, "{PLAIN}secret");
  EXPECT_EQ((*alice)->quota_bytes, 1024u);
  EXPECT_EQ((*alice)->aliases, (std::vector<std::string>{"a,b@example.test", "al@example.test"}));
  auto bob = (*d)->Lookup("bob@example.test");
  ASSERT_TRUE(Found(bob));
  EXPECT_FALSE((*bob)->enabled);
  EXPECT_EQ((*bob)->password_hash, "");
  EXPECT_EQ((*bob)->quota_messages, 5u);

  // Another process (another instance) writes; this one sees it at once.
  auto other = FileDirectory::Open(path);
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->AddAccount(Account{"carol@example.test", {}, "{PLAIN}c", 0, 0, true}));
  EXPECT_TRUE(Found((*d)->Lookup("carol@example.test")));
  ASSERT_TRUE((*d)->DeleteAccount("bob@example.test"));
  EXPECT_TRUE(Gone((*other)->Lookup("bob@example.test")));
  // Both wrote through the lock: nothing was lost.
  auto all = (*other)->ListAccounts("");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u);

  // A hand edit with a typo: the last good contents are served, writes refused.
  WriteText(path, "domain example.test\naccount dave@example.test {PLAIN}d quota=7\n");
  EXPECT_TRUE(Found((*d)->Lookup("carol@example.test"))) << "the last good file is still served";
  auto refused = (*d)->AddDomain("new.test");
  EXPECT_TRUE(IsKind(refused, ErrorKind::kUnavailable));
  EXPECT_NE(Why(refused).find("line 2"), std::string::npos) << Why(refused);
  auto fresh = FileDirectory::Open(path);
  EXPECT_TRUE(IsKind(fresh, ErrorKind::kUnavailable)) << "a new reader refuses a file that does not parse";
  // Fixed: read again.
  WriteText(path, "domain example.test\naccount dave@example.test {PLAIN}d quota_bytes=7\n");
  EXPECT_TRUE(Found((*d)->Lookup("dave@example.test")));
  EXPECT_TRUE(Gone((*d)->Lookup("carol@example.test")));
  EXPECT_TRUE((*d)->AddDomain("new.test"));
  std::filesystem::remove_all(dir);
}

TEST(FileDirectory, AMissingFileIsEmptyUntilTheFirstWrite) {
  std::string dir = TempDir();
  auto d = FileDirectory::Open(dir + "/none");
  ASSERT_TRUE(d) << Why(d);
  auto domains = (*d)->ListDomains();
  ASSERT_TRUE(domains);
  EXPECT_TRUE(domains->empty());
  EXPECT_FALSE(std::filesystem::exists(dir + "/none"));
  ASSERT_TRUE((*d)->AddDomain("example.test"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/none"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/none.tmp"));
  std::filesystem::remove_all(dir);
}

TEST(FileDirectory, RelayDomainsAndCatchAllsSurviveAReload) {
  std::string dir = TempDir();
  std::string path = dir + "/directory";
  {
    auto d = FileDirectory::Open(path);
    ASSERT_TRUE(d) << Why(d);
    ASSERT_TRUE((*d)->AddDomain("example.test"));
    ASSERT_TRUE((*d)->AddRelayDomain("Backup.Example"));
    ASSERT_TRUE((*d)->AddAccount(Account{"postmaster@example.test", {}, "{PLAIN}p", 0, 0, true}));
    ASSERT_TRUE((*d)->AddAccount(Account{"alice@example.test", {"al@example.test"}, "{PLAIN}a", 0, 0, true}));
    ASSERT_TRUE((*d)->AddAlias("@example.test", "postmaster@example.test"));
  }
  // What an operator reads (and may write by hand): the documented syntax.
  std::string text = ReadTestFile(path) + "\n";  // ReadTestFile drops the last newline
  EXPECT_NE(text.find("\nrelay_domain backup.example\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\naccount postmaster@example.test {PLAIN}p aliases=@example.test\n"), std::string::npos)
      << text;

  // A new instance (another process, or a restart) reads the same directory back.
  auto again = FileDirectory::Open(path);
  ASSERT_TRUE(again) << Why(again);
  auto relay = (*again)->IsRelayDomain("backup.example");
  ASSERT_TRUE(relay && *relay) << Why(relay);
  auto local = (*again)->IsLocalDomain("backup.example");
  ASSERT_TRUE(local) << Why(local);
  EXPECT_FALSE(*local);
  auto relays = (*again)->ListRelayDomains();
  ASSERT_TRUE(relays);
  EXPECT_EQ(*relays, std::vector<std::string>{"backup.example"});
  auto domains = (*again)->ListDomains();
  ASSERT_TRUE(domains);
  EXPECT_EQ(*domains, std::vector<std::string>{"example.test"});
  auto caught = (*again)->Lookup("nobody@example.test");
  ASSERT_TRUE(Found(caught)) << Why(caught);
  EXPECT_EQ((*caught)->address, "postmaster@example.test");
  auto exact = (*again)->Lookup("al@example.test");
  ASSERT_TRUE(Found(exact)) << Why(exact);
  EXPECT_EQ((*exact)->address, "alice@example.test");
  EXPECT_TRUE(IsKind((*again)->AddDomain("backup.example"), ErrorKind::kAlreadyExists));
  std::filesystem::remove_all(dir);
}

TEST(FileDirectory, HandWrittenRelayDomainsAndCatchAllsAreChecked) {
  std::string dir = TempDir();
  std::string path = dir + "/users";
  WriteText(path,
            "domain example.test\n"
            "relay_domain Relay.Example\t# backup MX for a partner\n"
            "account pm@example.test - aliases=@EXAMPLE.test,abuse@example.test\n");
  auto d = FileDirectory::Open(path);
  ASSERT_TRUE(d) << Why(d);
  auto relay = (*d)->IsRelayDomain("relay.example");
  ASSERT_TRUE(relay && *relay) << Why(relay);
  auto caught = (*d)->Lookup("x@example.test");
  ASSERT_TRUE(Found(caught)) << Why(caught);
  EXPECT_EQ((*caught)->aliases, (std::vector<std::string>{"@example.test", "abuse@example.test"}));

  // Each of these makes the whole file unreadable, naming the line.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"domain example.test\nrelay_domain example.test\n", "line 2"},          // both kinds
      {"relay_domain r.example\ndomain r.example\n", "line 2"},                // both kinds
      {"account pm@example.test - aliases=@example.test\ndomain example.test\n", "line 1"},  // domain first
      {"domain example.test\nrelay_domain r.example\naccount pm@example.test - aliases=@r.example\n", "line 3"},
      {"domain example.test\naccount a@example.test - aliases=@example.test\n"
       "account b@example.test - aliases=@example.test\n", "line 3"},          // one catch-all per domain
      {"domain example.test\naccount a@example.test - aliases=@\n", "line 2"},
      {"relay_domain\n", "line 1"},
      {"relay_domain a b\n", "line 1"},
  };
  for (const auto& [text, line] : bad) {
    WriteText(path, text);
    auto fresh = FileDirectory::Open(path);
    ASSERT_TRUE(IsKind(fresh, ErrorKind::kUnavailable)) << text;
    EXPECT_NE(fresh.error().message.find(line), std::string::npos) << text << ": " << fresh.error().message;
  }
  std::filesystem::remove_all(dir);
}

// ================================================================ LDAP only

// A raw provider connection, for writing entries the way other tools might.
class RawLdap {
 public:
  explicit RawLdap(const LdapDirectoryConfig& c) {
    if (ldap_initialize(&ld_, c.write_uri.c_str()) != LDAP_SUCCESS) throw std::runtime_error("ldap_initialize");
    int v3 = LDAP_VERSION3;
    ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &v3);
    berval cred{static_cast<ber_len_t>(c.bind_password.size()), const_cast<char*>(c.bind_password.data())};
    int rc = ldap_sasl_bind_s(ld_, c.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) throw std::runtime_error(std::string("bind: ") + ldap_err2string(rc));
  }
  ~RawLdap() { ldap_unbind_ext_s(ld_, nullptr, nullptr); }

  // Adds dn with single-valued string attributes.
  int Add(const std::string& dn, const std::vector<std::pair<std::string, std::string>>& attrs) {
    std::vector<LDAPMod> mods(attrs.size());
    std::vector<std::array<char*, 2>> values(attrs.size());
    std::vector<LDAPMod*> list;
    for (std::size_t i = 0; i < attrs.size(); ++i) {
      values[i] = {const_cast<char*>(attrs[i].second.c_str()), nullptr};
      mods[i].mod_op = LDAP_MOD_ADD;
      mods[i].mod_type = const_cast<char*>(attrs[i].first.c_str());
      mods[i].mod_values = values[i].data();
      list.push_back(&mods[i]);
    }
    list.push_back(nullptr);
    return ldap_add_ext_s(ld_, dn.c_str(), list.data(), nullptr, nullptr);
  }

 private:
  LDAP* ld_ = nullptr;
};

TEST(LdapDirectory, ProviderWritesReachTheConsumer) {
  LdapDirectoryConfig writer_config = LdapConfigFromTestEnv();
  writer_config.read_uris = {writer_config.write_uri};
  LdapDirectoryConfig reader_config = LdapConfigFromTestEnv();
  reader_config.read_uris = {ConsumerUri()};  // the consumer only: no fallback
  auto writer = MakeLdap(writer_config);
  auto reader = MakeLdap(reader_config);

  std::string d = RandomDomain();
  ASSERT_TRUE(writer->AddDomain(d));
  Account a = MakeAccount("rep@" + d, {"rep-alias@" + d});
  a.quota_bytes = 42;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(writer->AddAccount(a));
  auto seen = Eventually([&] { return reader->Lookup("rep-alias@" + d); }, Found);
  const auto lag = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(Found(seen)) << "not replicated within " << kReplicationWait.count() << " s: " << Why(seen);
  EXPECT_EQ((*seen)->quota_bytes, 42u);
  RecordProperty("replication_lag_ms", static_cast<int>(lag.count()));
  auto local = reader->IsLocalDomain(d);
  ASSERT_TRUE(local) << Why(local);
  EXPECT_TRUE(*local);

  ASSERT_TRUE(writer->DeleteAccount("rep@" + d));
  auto gone = Eventually([&] { return reader->Lookup("rep@" + d); }, Gone);
  ASSERT_TRUE(Gone(gone)) << Why(gone);
}

TEST(LdapDirectory, ReadsFallBackWhenTheNearestReplicaIsDown) {
  LdapDirectoryConfig c = LdapConfigFromTestEnv();
  c.read_uris = {"ldap://127.0.0.1:1", ConsumerUri()};
  auto dir = MakeLdap(c);
  std::string d = RandomDomain();
  ASSERT_TRUE(dir->AddDomain(d));
  ASSERT_TRUE(dir->AddAccount(MakeAccount("fb@" + d)));
  for (int i = 0; i < 3; ++i) {  // the dead server is skipped once marked down
    const auto start = std::chrono::steady_clock::now();
    auto got = Eventually([&] { return dir->Lookup("fb@" + d); }, Found);
    ASSERT_TRUE(Found(got)) << Why(got);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
  auto unknown = dir->Lookup("nobody@" + d);
  ASSERT_TRUE(unknown) << Why(unknown);
  EXPECT_FALSE(unknown->has_value());
}

TEST(LdapDirectory, NoReachableServerIsUnavailable) {
  LdapDirectoryConfig c = LdapConfigFromTestEnv();
  c.read_uris = {"ldap://127.0.0.1:1", "ldap://127.0.0.1:2"};
  c.write_uri = "ldap://127.0.0.1:1";
  auto dir = MakeLdap(c);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(IsKind(dir->Lookup("a@b.example"), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->IsLocalDomain("b.example"), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->ListDomains(), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->ListAccounts(""), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->AddDomain("b.example"), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->AddAccount(MakeAccount("a@b.example")), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(dir->SetQuota("a@b.example", 1, 1), ErrorKind::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(LdapDirectory, WrongCredentialsAreUnavailableNotUnknownUser) {
  LdapDirectoryConfig c = LdapConfigFromTestEnv();
  c.bind_password = "wrong";
  auto dir = MakeLdap(c);
  auto r = dir->Lookup("a@b.example");
  ASSERT_TRUE(IsKind(r, ErrorKind::kUnavailable));
  EXPECT_EQ(r.error().message.find("wrong"), std::string::npos) << "the password must never appear in errors";
}

TEST(LdapDirectory, WritesToAConsumerAreRefused) {
  LdapDirectoryConfig c = LdapConfigFromTestEnv();
  c.write_uri = ConsumerUri();
  auto dir = MakeLdap(c);
  auto r = dir->AddDomain(RandomDomain());
  EXPECT_TRUE(IsKind(r, ErrorKind::kUnavailable));
}

TEST(LdapDirectory, EntriesWithoutOptionalAttributesGetDefaults) {
  LdapDirectoryConfig c = LdapConfigFromTestEnv();
  auto dir = MakeLdap(c);
  std::string d = RandomDomain();
  ASSERT_TRUE(dir->AddDomain(d));
  RawLdap raw(c);
  // Written by another tool: upper-case mail, no quota, no enabled flag.
  ASSERT_EQ(raw.Add("mail=Legacy@" + d + ",ou=users," + c.base_dn,
                    {{"objectClass", "columbaAccount"}, {"mail", "Legacy@" + d}, {"columbaAlias", "OLD@" + d}}),
            LDAP_SUCCESS);
  auto got = Eventually([&] { return dir->Lookup("old@" + d); }, Found);
  ASSERT_TRUE(Found(got)) << Why(got);
  EXPECT_EQ((*got)->address, "legacy@" + d);
  EXPECT_EQ((*got)->aliases, std::vector<std::string>{"old@" + d});
  EXPECT_EQ((*got)->quota_bytes, 0u);
  EXPECT_EQ((*got)->quota_messages, 0u);
  EXPECT_TRUE((*got)->enabled);
  EXPECT_EQ((*got)->password_hash, "");
}

TEST(LdapDirectory, CreateRejectsBadConfig) {
  LdapDirectoryConfig c;
  EXPECT_TRUE(IsKind(LdapDirectory::Create(c), ErrorKind::kInvalidInput));  // no write URI
  c.write_uri = "http://example.com";
  EXPECT_TRUE(IsKind(LdapDirectory::Create(c), ErrorKind::kInvalidInput));
  c.write_uri = "ldap://127.0.0.1:1";
  c.base_dn = "not a dn";
  EXPECT_TRUE(IsKind(LdapDirectory::Create(c), ErrorKind::kInvalidInput));
  c.base_dn = "dc=columba";
  EXPECT_TRUE(LdapDirectory::Create(c));  // does not connect
}

// ================================================================ escaping

TEST(LdapEscape, FilterValue) {
  EXPECT_EQ(EscapeFilterValue("plain@example.com"), "plain@example.com");
  EXPECT_EQ(EscapeFilterValue("a*b(c)d\\e"), "a\\2ab\\28c\\29d\\5ce");
  EXPECT_EQ(EscapeFilterValue(std::string_view("n\0l", 3)), "n\\00l");
  EXPECT_EQ(EscapeFilterValue("\xc3\xbc"), "\\c3\\bc");
}

TEST(LdapEscape, DnValueRoundTripsThroughTheParser) {
  std::vector<std::string> values = {"plain@example.com", ",+\"\\<>;=", "#lead", " lead", "trail ", "a b",
                                     "mail=x,ou=domains", std::string("n\0l", 3), "\x01\x7f\xff"};
  std::mt19937 rng(1);
  for (int i = 0; i < 500; ++i) {
    std::string v(1 + rng() % 12, '\0');
    for (char& ch : v) ch = static_cast<char>(rng() % 256);
    values.push_back(v);
  }
  for (const auto& v : values) {
    std::string dn = "mail=" + EscapeDnValue(v) + ",ou=users,dc=columba";
    LDAPDN parsed = nullptr;
    ASSERT_EQ(ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS) << dn;
    int rdns = 0;
    while (parsed[rdns] != nullptr) ++rdns;
    EXPECT_EQ(rdns, 3) << dn;
    ASSERT_NE(parsed[0][0], nullptr);
    EXPECT_EQ(parsed[0][1], nullptr) << "value split into a multi-valued RDN: " << dn;
    EXPECT_EQ(std::string(parsed[0][0]->la_value.bv_val, parsed[0][0]->la_value.bv_len), v) << dn;
    ldap_dnfree(parsed);
  }
}

// ================================================================ CachingDirectory

// Counts the reads that reach the real directory; can be told to fail.
class CountingDirectory final : public Directory {
 public:
  Result<std::optional<Account>> Lookup(std::string_view a) override {
    ++lookups;
    if (fail) return Fail(ErrorKind::kUnavailable, "down");
    return inner.Lookup(a);
  }
  Result<bool> IsLocalDomain(std::string_view d) override {
    ++domain_checks;
    if (fail) return Fail(ErrorKind::kUnavailable, "down");
    return inner.IsLocalDomain(d);
  }
  Result<bool> IsRelayDomain(std::string_view d) override {
    ++relay_checks;
    if (fail) return Fail(ErrorKind::kUnavailable, "down");
    return inner.IsRelayDomain(d);
  }
  Result<std::vector<std::string>> ListDomains() override { return inner.ListDomains(); }
  Result<std::vector<std::string>> ListRelayDomains() override { return inner.ListRelayDomains(); }
  Result<std::vector<Account>> ListAccounts(std::string_view d) override { return inner.ListAccounts(d); }
  Result<void> AddDomain(std::string_view d) override { return inner.AddDomain(d); }
  Result<void> AddRelayDomain(std::string_view d) override { return inner.AddRelayDomain(d); }
  Result<void> AddAccount(const Account& a) override { return inner.AddAccount(a); }
  Result<void> DeleteAccount(std::string_view a) override { return inner.DeleteAccount(a); }
  Result<void> SetPasswordHash(std::string_view a, std::string_view h) override { return inner.SetPasswordHash(a, h); }
  Result<void> SetQuota(std::string_view a, uint64_t b, uint64_t m) override { return inner.SetQuota(a, b, m); }
  Result<void> AddAlias(std::string_view a, std::string_view t) override { return inner.AddAlias(a, t); }

  MemoryDirectory inner;
  std::atomic<int> lookups{0};
  std::atomic<int> domain_checks{0};
  std::atomic<int> relay_checks{0};
  std::atomic<bool> fail{false};
};

TEST(CachingDirectory, CachesFoundAndNotFound) {
  auto counting = std::make_shared<CountingDirectory>();
  ASSERT_TRUE(counting->inner.AddDomain("c.example"));
  ASSERT_TRUE(counting->inner.AddAccount(MakeAccount("a@c.example", {"alias@c.example"})));
  CachingDirectory cache(counting, 30s);

  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Found(cache.Lookup("a@c.example")));
    EXPECT_TRUE(Found(cache.Lookup("A@C.example")));  // same normalized key
    EXPECT_TRUE(Gone(cache.Lookup("nobody@c.example")));
    EXPECT_TRUE(*cache.IsLocalDomain("c.example"));
    EXPECT_TRUE(*cache.IsLocalDomain("C.EXAMPLE"));
    EXPECT_FALSE(*cache.IsLocalDomain("other.example"));
  }
  EXPECT_EQ(counting->lookups.load(), 2);
  EXPECT_EQ(counting->domain_checks.load(), 2);
  auto stats = cache.GetStats();
  EXPECT_EQ(stats.misses, 4u);
  EXPECT_EQ(stats.hits, 14u);
  EXPECT_EQ(stats.entries, 4u);
}

TEST(CachingDirectory, EntriesExpireAfterTtl) {
  auto counting = std::make_shared<CountingDirectory>();
  CachingDirectory cache(counting, 50ms);
  EXPECT_TRUE(Gone(cache.Lookup("x@c.example")));
  EXPECT_TRUE(Gone(cache.Lookup("x@c.example")));
  EXPECT_EQ(counting->lookups.load(), 1);
  // A write elsewhere (not through the cache) is seen once the TTL has passed.
  ASSERT_TRUE(counting->inner.AddDomain("c.example"));
  ASSERT_TRUE(counting->inner.AddAccount(MakeAccount("x@c.example")));
  std::this_thread::sleep_for(80ms);
  EXPECT_TRUE(Found(cache.Lookup("x@c.example")));
  EXPECT_EQ(counting->lookups.load(), 2);
}

TEST(CachingDirectory, ErrorsAreNotCached) {
  auto counting = std::make_shared<CountingDirectory>();
  CachingDirectory cache(counting, 30s);
  counting->fail = true;
  EXPECT_TRUE(IsKind(cache.Lookup("a@c.example"), ErrorKind::kUnavailable));
  EXPECT_TRUE(IsKind(cache.IsLocalDomain("c.example"), ErrorKind::kUnavailable));
  counting->fail = false;
  ASSERT_TRUE(counting->inner.AddDomain("c.example"));
  EXPECT_TRUE(*cache.IsLocalDomain("c.example"));
  EXPECT_TRUE(Gone(cache.Lookup("a@c.example")));
  EXPECT_EQ(counting->lookups.load(), 2);
}

TEST(CachingDirectory, WritesThroughTheCacheInvalidate) {
  auto counting = std::make_shared<CountingDirectory>();
  CachingDirectory cache(counting, 30s);
  EXPECT_FALSE(*cache.IsLocalDomain("c.example"));  // negative, cached
  ASSERT_TRUE(cache.AddDomain("C.example"));
  EXPECT_TRUE(*cache.IsLocalDomain("c.example"));

  EXPECT_TRUE(Gone(cache.Lookup("a@c.example")));
  EXPECT_TRUE(Gone(cache.Lookup("alias@c.example")));
  ASSERT_TRUE(cache.AddAccount(MakeAccount("a@c.example", {"Alias@c.example"})));
  EXPECT_TRUE(Found(cache.Lookup("a@c.example")));
  EXPECT_TRUE(Found(cache.Lookup("alias@c.example")));

  // A write naming the address refreshes lookups cached under an alias.
  ASSERT_TRUE(cache.SetQuota("a@c.example", 10, 20));
  EXPECT_EQ((*cache.Lookup("alias@c.example"))->quota_bytes, 10u);
  ASSERT_TRUE(cache.SetPasswordHash("a@c.example", "{PLAIN}x"));
  EXPECT_EQ((*cache.Lookup("alias@c.example"))->password_hash, "{PLAIN}x");

  EXPECT_TRUE(Gone(cache.Lookup("second@c.example")));
  ASSERT_TRUE(cache.AddAlias("second@c.example", "alias@c.example"));  // target named by alias
  EXPECT_TRUE(Found(cache.Lookup("second@c.example")));
  EXPECT_EQ((*cache.Lookup("a@c.example"))->aliases.size(), 2u);

  ASSERT_TRUE(cache.DeleteAccount("a@c.example"));
  EXPECT_TRUE(Gone(cache.Lookup("a@c.example")));
  EXPECT_TRUE(Gone(cache.Lookup("alias@c.example")));
  EXPECT_TRUE(Gone(cache.Lookup("second@c.example")));
}

TEST(CachingDirectory, RelayDomainChecksAreCachedAndInvalidatedByDomainWrites) {
  auto counting = std::make_shared<CountingDirectory>();
  CachingDirectory cache(counting, 30s);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(*cache.IsRelayDomain("r.example"));
    EXPECT_FALSE(*cache.IsRelayDomain("R.Example"));  // same key
  }
  EXPECT_EQ(counting->relay_checks.load(), 1);
  EXPECT_FALSE(*cache.IsLocalDomain("r.example"));
  ASSERT_TRUE(cache.AddRelayDomain("r.example"));
  EXPECT_TRUE(*cache.IsRelayDomain("r.example"));
  EXPECT_FALSE(*cache.IsLocalDomain("r.example"));
  EXPECT_EQ(counting->relay_checks.load(), 2);
  // A refused AddDomain of the same name still drops both entries (harmless re-read).
  EXPECT_TRUE(IsKind(cache.AddDomain("r.example"), ErrorKind::kAlreadyExists));
  EXPECT_TRUE(*cache.IsRelayDomain("r.example"));
  EXPECT_EQ(counting->relay_checks.load(), 3);
  counting->fail = true;  // errors are not cached
  EXPECT_TRUE(IsKind(cache.IsRelayDomain("other.example"), ErrorKind::kUnavailable));
  counting->fail = false;
  EXPECT_FALSE(*cache.IsRelayDomain("other.example"));
  EXPECT_EQ(counting->relay_checks.load(), 5);
}

TEST(CachingDirectory, AddingACatchAllDropsTheDomainsCachedLookups) {
  auto counting = std::make_shared<CountingDirectory>();
  ASSERT_TRUE(counting->inner.AddDomain("c.example"));
  ASSERT_TRUE(counting->inner.AddDomain("other.example"));
  ASSERT_TRUE(counting->inner.AddAccount(MakeAccount("pm@c.example")));
  CachingDirectory cache(counting, 30s);
  EXPECT_TRUE(Gone(cache.Lookup("nobody@c.example")));       // negative, cached
  EXPECT_TRUE(Gone(cache.Lookup("nobody@other.example")));   // negative, cached
  ASSERT_TRUE(cache.AddAlias("@C.example", "pm@c.example"));
  auto caught = cache.Lookup("nobody@c.example");
  ASSERT_TRUE(Found(caught)) << Why(caught);
  EXPECT_EQ((*caught)->address, "pm@c.example");
  EXPECT_TRUE(Gone(cache.Lookup("nobody@other.example")));   // another domain: still cached
  EXPECT_EQ(counting->lookups.load(), 3);
  // An account added later replaces the cached catch-all answer for its address.
  EXPECT_TRUE(Found(cache.Lookup("late@c.example")));
  ASSERT_TRUE(cache.AddAccount(MakeAccount("late@c.example")));
  auto late = cache.Lookup("late@c.example");
  ASSERT_TRUE(Found(late));
  EXPECT_EQ((*late)->address, "late@c.example");
  // Deleting the catch-all's account drops lookups it answered.
  ASSERT_TRUE(cache.DeleteAccount("pm@c.example"));
  EXPECT_TRUE(Gone(cache.Lookup("nobody@c.example")));
}

TEST(CachingDirectory, SizeIsBounded) {
  auto counting = std::make_shared<CountingDirectory>();
  CachingDirectory cache(counting, 30s, 3);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Gone(cache.Lookup("u" + std::to_string(i) + "@c.example")));
  auto stats = cache.GetStats();
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.evictions, 7u);
  // The newest stay; the oldest went first.
  int before = counting->lookups.load();
  EXPECT_TRUE(Gone(cache.Lookup("u9@c.example")));
  EXPECT_EQ(counting->lookups.load(), before);
  EXPECT_TRUE(Gone(cache.Lookup("u0@c.example")));
  EXPECT_EQ(counting->lookups.load(), before + 1);
}

TEST(CachingDirectory, ZeroTtlDisablesCaching) {
  auto counting = std::make_shared<CountingDirectory>();
  CachingDirectory cache(counting, 0ms);
  EXPECT_TRUE(Gone(cache.Lookup("a@c.example")));
  EXPECT_TRUE(Gone(cache.Lookup("a@c.example")));
  EXPECT_EQ(counting->lookups.load(), 2);
  EXPECT_EQ(cache.GetStats().entries, 0u);
}

}  // namespace
}  // namespace columba::storage
