// file_directory.h - the Directory in one flat file (directory.backend: file),
// for small sites that run no LDAP server: passwd-like, editable by hand,
// reloaded when it changes.
//
// NAME
//   FileDirectory - domains and accounts in a text file.
// SYNOPSIS
//   # comment
//   domain example.test
//   relay_domain backup.example
//   account alice@example.test {SHA512-CRYPT}$6$... quota_bytes=1073741824 quota_messages=0 aliases=al@example.test,a@example.test
//   account bob@example.test - disabled
//   account postmaster@example.test - aliases=@example.test
// DESCRIPTION
//   One entry per line, fields separated by spaces or tabs: `domain NAME` (a
//   local domain), `relay_domain NAME` (a relay domain: accepted for anyone and
//   queued, no accounts; a name is one kind or the other), or
//   `account ADDRESS HASH [quota_bytes=N] [quota_messages=N] [aliases=A,B,...]
//   [disabled]` where HASH is a "{SCHEME}..." string as lib/auth writes it, or
//   `-` for none (no login). An alias `@DOMAIN` is the catch-all of that local
//   domain (at most one per domain). A domain line must come before its accounts
//   and before a catch-all naming it.
//   The contract (normalisation, ASCII addresses, unique aliases, the order of
//   checks) is MemoryDirectory's, which holds the parsed file: the same
//   conformance suite runs against both and LDAP
//   (storage/ldap/directory_conformance_test.cc).
//
//   Reads stat the file and reload it when its size, mtime or inode changed,
//   so edits by hand or by another process are seen at the next call. Writes
//   take an exclusive flock on `PATH.lock`, reload, apply the change, write
//   `PATH.tmp`, fsync it, rename it over PATH and fsync the directory: a
//   reader sees the old file or the new one, and writers in several processes
//   never lose each other's changes.
// DIAGNOSTICS
//   A malformed line makes the file unreadable as a whole (kUnavailable, with
//   its line number): a typo must not silently drop accounts. After a good
//   load, a bad edit keeps the last good contents served (and the error
//   logged) until the file is fixed. Writes refuse (kUnavailable) while the
//   file is malformed, so they cannot overwrite the operator's edit.
// NEVER
//   Never writes a partial file, never logs a password hash.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>

#include "storage/api/directory.h"
#include "storage/memory/memory_directory.h"

namespace columba::storage {

class FileDirectory final : public Directory {
 public:
  // Reads `path` (a missing file is an empty directory, created at the first write).
  static Result<std::shared_ptr<FileDirectory>> Open(std::string path);

  Result<std::optional<Account>> Lookup(std::string_view address) override;
  Result<bool> IsLocalDomain(std::string_view domain) override;
  Result<bool> IsRelayDomain(std::string_view domain) override;
  Result<std::vector<std::string>> ListDomains() override;
  Result<std::vector<std::string>> ListRelayDomains() override;
  Result<std::vector<Account>> ListAccounts(std::string_view domain) override;

  Result<void> AddDomain(std::string_view domain) override;
  Result<void> AddRelayDomain(std::string_view domain) override;
  Result<void> AddAccount(const Account& account) override;
  Result<void> DeleteAccount(std::string_view address) override;
  Result<void> SetPasswordHash(std::string_view address, std::string_view hash) override;
  Result<void> SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) override;
  Result<void> AddAlias(std::string_view alias, std::string_view target) override;

  // The file's text for a directory's contents (also what writes produce).
  static Result<std::string> Format(Directory& contents);
  // A directory from the file's text; kUnavailable naming the first bad line.
  static Result<std::shared_ptr<MemoryDirectory>> Parse(std::string_view text);

 private:
  explicit FileDirectory(std::string path) : path_(std::move(path)) {}
  struct Stamp {
    bool exists = false;
    off_t size = 0;
    int64_t mtime_ns = 0;
    ino_t inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  Result<Stamp> StatFile() const;
  // The current contents, reloaded first if the file changed (under mu_).
  Result<std::shared_ptr<MemoryDirectory>> CurrentLocked(bool for_write);
  template <class Fn>
  Result<void> Write(Fn change);

  const std::string path_;
  std::mutex mu_;
  std::shared_ptr<MemoryDirectory> contents_;
  Stamp stamp_;
  bool loaded_ = false;
  bool broken_ = false;  // the file on disk did not parse at the last look
  Error broken_why_;
};

}  // namespace columba::storage
