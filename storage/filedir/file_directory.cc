// file_directory.cc - FileDirectory: the flat-file Directory (file_directory.h).
#include "storage/filedir/file_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace columba::storage {

namespace {

// Fields are separated by blanks and aliases by commas, and '#' starts a
// comment, so those (and '%', '=' and anything outside printable ASCII) are
// written as %XX: addresses may hold any of them (the conformance suite's
// "com,ma", "#hash", "eq=ual", "quo\"te").
bool Plain(unsigned char c) { return c > 0x20 && c < 0x7f && c != '%' && c != ',' && c != '#' && c != '='; }

std::string Escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (Plain(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Result<std::string> Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size()) return Fail(ErrorKind::kInvalidInput, "truncated %XX");
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return Fail(ErrorKind::kInvalidInput, "bad %XX");
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

Result<uint64_t> Number(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return Fail(ErrorKind::kInvalidInput, "not a number");
  return v;
}

Error LineError(size_t line, const std::string& why) {
  return Error{ErrorKind::kUnavailable, "line " + std::to_string(line) + ": " + why};
}

Result<Account> ParseAccount(const std::vector<std::string_view>& f) {
  if (f.size() < 3) return Fail(ErrorKind::kInvalidInput, "account needs an address and a hash (or -)");
  Account a;
  auto address = Unescape(f[1]);
  if (!address) return tl::unexpected(address.error());
  a.address = *address;
  if (f[2] != "-") {
    auto hash = Unescape(f[2]);
    if (!hash) return tl::unexpected(hash.error());
    a.password_hash = *hash;
  }
  for (size_t i = 3; i < f.size(); ++i) {
    std::string_view opt = f[i];
    if (opt == "disabled") {
      a.enabled = false;
      continue;
    }
    auto eq = opt.find('=');
    if (eq == std::string_view::npos) return Fail(ErrorKind::kInvalidInput, "unknown field " + std::string(opt));
    std::string_view key = opt.substr(0, eq), value = opt.substr(eq + 1);
    if (key == "quota_bytes" || key == "quota_messages") {
      auto n = Number(value);
      if (!n) return Fail(ErrorKind::kInvalidInput, std::string(key) + " is not a number");
      (key == "quota_bytes" ? a.quota_bytes : a.quota_messages) = *n;
    } else if (key == "aliases") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string_view one = value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
        if (!one.empty()) {
          auto alias = Unescape(one);
          if (!alias) return tl::unexpected(alias.error());
          a.aliases.push_back(*alias);
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
    } else {
      return Fail(ErrorKind::kInvalidInput, "unknown field " + std::string(key));
    }
  }
  return a;
}

}  // namespace

Result<std::shared_ptr<MemoryDirectory>> FileDirectory::Parse(std::string_view text) {
  auto d = std::make_shared<MemoryDirectory>();
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> f;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
      if (j > i) f.push_back(line.substr(i, j - i));
      i = j;
    }
    if (f.empty()) continue;
    if (f[0] == "domain" && f.size() == 2) {
      if (auto r = d->AddDomain(f[1]); !r) return tl::unexpected(LineError(line_no, r.error().message));
    } else if (f[0] == "relay_domain" && f.size() == 2) {
      if (auto r = d->AddRelayDomain(f[1]); !r) return tl::unexpected(LineError(line_no, r.error().message));
    } else if (f[0] == "account") {
      auto a = ParseAccount(f);
      if (!a) return tl::unexpected(LineError(line_no, a.error().message));
      if (auto r = d->AddAccount(*a); !r) return tl::unexpected(LineError(line_no, r.error().message));
    } else {
      return tl::unexpected(LineError(line_no, "expected `domain NAME`, `relay_domain NAME` or `account ADDRESS HASH ...`"));
    }
  }
  return d;
}

Result<std::string> FileDirectory::Format(Directory& contents) {
  auto domains = contents.ListDomains();
  if (!domains) return tl::unexpected(domains.error());
  auto relay_domains = contents.ListRelayDomains();
  if (!relay_domains) return tl::unexpected(relay_domains.error());
  auto accounts = contents.ListAccounts("");
  if (!accounts) return tl::unexpected(accounts.error());
  std::string out =
      "# Columba directory (directory.backend: file; format in storage/filedir/file_directory.h).\n"
      "# Written by Columba; edits by hand are read at the next lookup.\n";
  for (const auto& d : *domains) out += "domain " + d + "\n";
  for (const auto& d : *relay_domains) out += "relay_domain " + d + "\n";
  for (const auto& a : *accounts) {
    out += "account " + Escape(a.address) + " " +
           (a.password_hash.empty() ? "-" : a.password_hash == "-" ? "%2D" : Escape(a.password_hash));
    if (a.quota_bytes) out += " quota_bytes=" + std::to_string(a.quota_bytes);
    if (a.quota_messages) out += " quota_messages=" + std::to_string(a.quota_messages);
    if (!a.aliases.empty()) {
      out += " aliases=";
      for (size_t i = 0; i < a.aliases.size(); ++i) out += (i ? "," : "") + Escape(a.aliases[i]);
    }
    if (!a.enabled) out += " disabled";
    out += "\n";
  }
  return out;
}

Result<std::shared_ptr<FileDirectory>> FileDirectory::Open(std::string path) {
  if (path.empty()) return Fail(ErrorKind::kInvalidInput, "directory.file: a path is required");
  std::shared_ptr<FileDirectory> d(new FileDirectory(std::move(path)));
  std::lock_guard lock(d->mu_);
  auto first = d->CurrentLocked(false);
  if (!first) return tl::unexpected(first.error());
  return d;
}

Result<FileDirectory::Stamp> FileDirectory::StatFile() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return Stamp{};
    return Fail(ErrorKind::kUnavailable, "directory file " + path_ + ": " + std::strerror(errno));
  }
  return Stamp{true, st.st_size, static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
               st.st_ino};
}

Result<std::shared_ptr<MemoryDirectory>> FileDirectory::CurrentLocked(bool for_write) {
  auto stamp = StatFile();
  if (!stamp) return tl::unexpected(stamp.error());
  if (loaded_ && *stamp == stamp_) {
    if (broken_ && for_write) return tl::unexpected(broken_why_);
    return contents_;
  }
  std::string text;
  if (stamp->exists) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return Fail(ErrorKind::kUnavailable, "directory file " + path_ + ": cannot read");
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto parsed = Parse(text);
  if (!parsed) parsed = tl::unexpected(Error{ErrorKind::kUnavailable, "directory file " + path_ + ": " + parsed.error().message});
  stamp_ = *stamp;
  if (!parsed) {
    broken_ = true;
    broken_why_ = parsed.error();
    // Keep serving the last good contents; refuse writes until the file is fixed.
    if (!loaded_ || for_write) return tl::unexpected(parsed.error());
    return contents_;
  }
  broken_ = false;
  loaded_ = true;
  contents_ = *parsed;
  return contents_;
}

template <class Fn>
Result<void> FileDirectory::Write(Fn change) {
  std::lock_guard lock(mu_);
  const std::string lock_path = path_ + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Fail(ErrorKind::kUnavailable, lock_path + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // also releases the flock
  } closer{lock_fd};
  if (::flock(lock_fd, LOCK_EX) != 0) return Fail(ErrorKind::kUnavailable, lock_path + ": " + std::strerror(errno));
  auto current = CurrentLocked(true);  // another process may have written meanwhile
  if (!current) return tl::unexpected(current.error());
  // Change a copy, so that a failed write leaves what readers see as it was.
  auto text = Format(**current);
  if (!text) return tl::unexpected(text.error());
  auto next = Parse(*text);
  if (!next) return tl::unexpected(next.error());
  if (auto r = change(**next); !r) return r;
  auto out = Format(**next);
  if (!out) return tl::unexpected(out.error());
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(ErrorKind::kUnavailable, tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = ::write(fd, out->data() + done, out->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Fail(ErrorKind::kUnavailable, tmp + ": write failed");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Fail(ErrorKind::kUnavailable, tmp + ": fsync failed");
  if (::rename(tmp.c_str(), path_.c_str()) != 0)
    return Fail(ErrorKind::kUnavailable, "rename to " + path_ + ": " + std::strerror(errno));
  std::string dir = path_.substr(0, path_.find_last_of('/') == std::string::npos ? 0 : path_.find_last_of('/'));
  if (dir.empty()) dir = ".";
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  auto stamp = StatFile();
  if (stamp) stamp_ = *stamp;
  contents_ = *next;
  loaded_ = true;
  broken_ = false;
  return {};
}

#define COLUMBA_FILEDIR_READ(Call)                   \
  std::shared_ptr<MemoryDirectory> current;          \
  {                                                  \
    std::lock_guard lock(mu_);                       \
    auto c = CurrentLocked(false);                   \
    if (!c) return tl::unexpected(c.error());        \
    current = *c;                                    \
  }                                                  \
  return current->Call;

Result<std::optional<Account>> FileDirectory::Lookup(std::string_view address) { COLUMBA_FILEDIR_READ(Lookup(address)) }
Result<bool> FileDirectory::IsLocalDomain(std::string_view domain) { COLUMBA_FILEDIR_READ(IsLocalDomain(domain)) }
Result<bool> FileDirectory::IsRelayDomain(std::string_view domain) { COLUMBA_FILEDIR_READ(IsRelayDomain(domain)) }
Result<std::vector<std::string>> FileDirectory::ListDomains() { COLUMBA_FILEDIR_READ(ListDomains()) }
Result<std::vector<std::string>> FileDirectory::ListRelayDomains() { COLUMBA_FILEDIR_READ(ListRelayDomains()) }
Result<std::vector<Account>> FileDirectory::ListAccounts(std::string_view domain) {
  COLUMBA_FILEDIR_READ(ListAccounts(domain))
}
#undef COLUMBA_FILEDIR_READ

Result<void> FileDirectory::AddDomain(std::string_view domain) {
  return Write([&](MemoryDirectory& d) { return d.AddDomain(domain); });
}
Result<void> FileDirectory::AddRelayDomain(std::string_view domain) {
  return Write([&](MemoryDirectory& d) { return d.AddRelayDomain(domain); });
}
Result<void> FileDirectory::AddAccount(const Account& account) {
  return Write([&](MemoryDirectory& d) { return d.AddAccount(account); });
}
Result<void> FileDirectory::DeleteAccount(std::string_view address) {
  return Write([&](MemoryDirectory& d) { return d.DeleteAccount(address); });
}
Result<void> FileDirectory::SetPasswordHash(std::string_view address, std::string_view hash) {
  return Write([&](MemoryDirectory& d) { return d.SetPasswordHash(address, hash); });
}
Result<void> FileDirectory::SetQuota(std::string_view address, uint64_t bytes, uint64_t messages) {
  return Write([&](MemoryDirectory& d) { return d.SetQuota(address, bytes, messages); });
}
Result<void> FileDirectory::AddAlias(std::string_view alias, std::string_view target) {
  return Write([&](MemoryDirectory& d) { return d.AddAlias(alias, target); });
}

}  // namespace columba::storage
