// fs_blob_store.cc - FsBlobStore: blobs as fsync'ed files, written via root/tmp/.
//
// Must never return an id before the bytes and the directory entry are durable,
// never build a path from an unvalidated id, and never expose a temp file as a blob.
// See fs_blob_store.h for the layout and the error mapping.
#include "storage/blob/fs/fs_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <utility>

namespace columba::storage {
namespace {

namespace fs = std::filesystem;

constexpr size_t kStreamChunk = 64 * 1024;
constexpr mode_t kFileMode = 0640;
constexpr mode_t kDirMode = 0750;
constexpr std::string_view kTempSuffix = ".tmp";

tl::unexpected<Error> ErrnoFail(int err, std::string_view op, const fs::path& path) {
  const ErrorKind kind = err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kUnavailable;
  return Fail(kind, std::string("blob store: ") + std::string(op) + " " + path.string() + ": " +
                        std::generic_category().message(err));
}

tl::unexpected<Error> InvalidId() {
  // The id came from outside; do not echo it (it may hold control characters).
  return Fail(ErrorKind::kInvalidInput, "blob store: invalid blob id (want 64 lowercase hex digits)");
}

// Closes a descriptor on every path out of a scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes and reports the error close() saw (NFS reports write errors here).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

Fd OpenRetry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do fd = ::open(path, flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return Fd(fd);
}

Result<void> FsyncDir(const fs::path& dir) {
  Fd fd = OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd.get() < 0) return ErrnoFail(errno, "open dir", dir);
  if (::fsync(fd.get()) != 0) return ErrnoFail(errno, "fsync dir", dir);
  return {};
}

// mkdir that tolerates an existing directory, then makes its entry durable.
Result<void> MakeDurableDir(const fs::path& dir, const fs::path& parent) {
  if (::mkdir(dir.c_str(), kDirMode) != 0 && errno != EEXIST) return ErrnoFail(errno, "mkdir", dir);
  return FsyncDir(parent);
}

unsigned HexValue(std::string_view hex) {
  unsigned v = 0;
  for (char c : hex) v = v * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
  return v;
}

bool IsFanoutName(const std::string& name) {
  return name.size() == 2 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// pread until `len` octets or EOF; returns how many were read.
Result<size_t> PreadFull(int fd, char* buf, size_t len, uint64_t offset, const fs::path& path) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = ::pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoFail(errno, "read", path);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}


struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

// ---------------------------------------------------------------------------
// Sink: one temp file, hashed as it is written.

class FsBlobStore::Sink final : public BlobSink {
 public:
  Sink(FsBlobStore& store, Fd fd, std::string tmp_path, std::unique_ptr<EVP_MD_CTX, MdCtxFree> md)
      : store_(store), fd_(std::move(fd)), tmp_path_(std::move(tmp_path)), md_(std::move(md)) {}

  ~Sink() override { Discard(); }

  Result<void> Write(std::string_view chunk) override {
    if (state_ != State::kOpen) return Fail(ErrorKind::kInternal, "blob sink: write after commit or failure");
    if (EVP_DigestUpdate(md_.get(), chunk.data(), chunk.size()) != 1) {
      Discard();
      return Fail(ErrorKind::kInternal, "blob sink: SHA-256 update failed");
    }
    size_t done = 0;
    while (done < chunk.size()) {
      ssize_t w = ::write(fd_.get(), chunk.data() + done, chunk.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        Discard();
        return ErrnoFail(err, "write", tmp_path_);
      }
      done += static_cast<size_t>(w);
    }
    size_ += chunk.size();
    return {};
  }

  Result<std::string> Commit() override {
    if (state_ != State::kOpen) return Fail(ErrorKind::kInternal, "blob sink: commit after commit or failure");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_DigestFinal_ex(md_.get(), md, &md_len) != 1) {
      Discard();
      return Fail(ErrorKind::kInternal, "blob sink: SHA-256 final failed");
    }
    std::string id = HexEncode(md, md_len);
    if (::fsync(fd_.get()) != 0) {
      // After a failed fsync the page cache cannot be trusted; never retry it.
      int err = errno;
      Discard();
      return ErrnoFail(err, "fsync", tmp_path_);
    }
    if (int err = fd_.Close(); err != 0) {
      Discard();
      return ErrnoFail(err, "close", tmp_path_);
    }
    if (auto r = store_.Install(tmp_path_, id, size_); !r) {
      Discard();
      return tl::unexpected(r.error());
    }
    state_ = State::kCommitted;
    return id;
  }

 private:
  enum class State { kOpen, kFailed, kCommitted };

  // Drops the temp file; the sink is unusable afterwards.
  void Discard() {
    if (state_ == State::kCommitted) return;
    fd_.Reset();
    if (state_ == State::kOpen) ::unlink(tmp_path_.c_str());
    state_ = State::kFailed;
  }

  FsBlobStore& store_;
  Fd fd_;
  std::string tmp_path_;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md_;
  uint64_t size_ = 0;
  State state_ = State::kOpen;
};

// ---------------------------------------------------------------------------

Result<std::unique_ptr<FsBlobStore>> FsBlobStore::Open(const fs::path& root, bool precreate_fanout) {
  if (root.empty()) return Fail(ErrorKind::kInvalidInput, "blob store: empty root directory");
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return ErrnoFail(ec.value(), "create root", root);
  if (!fs::is_directory(root, ec)) return Fail(ErrorKind::kUnavailable, "blob store: root is not a directory: " + root.string());
  auto store = std::make_unique<FsBlobStore>(Key(), root);
  if (auto r = MakeDurableDir(store->tmp_dir_, root); !r) return tl::unexpected(r.error());
  if (root.has_parent_path()) {
    // Make the root's own entry durable too (it may have just been created).
    if (auto r = FsyncDir(fs::absolute(root).parent_path()); !r) return tl::unexpected(r.error());
  }
  if (precreate_fanout) {
    if (auto r = store->PrecreateFanout(); !r) return tl::unexpected(r.error());
  }
  return store;
}

// Every fan-out directory, made durable with one syncfs, then the marker (so a
// crash before it means "do it again", never "assume they exist").
Result<void> FsBlobStore::PrecreateFanout() {
  const fs::path marker = root_ / ".fanout";
  struct stat st;
  if (::stat(marker.c_str(), &st) != 0) {
    static const char* hex = "0123456789abcdef";
    for (unsigned a = 0; a < 256; ++a) {
      const std::string l1{hex[a >> 4], hex[a & 15]};
      const fs::path d1 = root_ / l1;
      if (::mkdir(d1.c_str(), 0750) != 0 && errno != EEXIST) return ErrnoFail(errno, "mkdir", d1);
      for (unsigned b = 0; b < 256; ++b) {
        const fs::path d2 = d1 / std::string{hex[b >> 4], hex[b & 15]};
        if (::mkdir(d2.c_str(), 0750) != 0 && errno != EEXIST) return ErrnoFail(errno, "mkdir", d2);
      }
    }
    Fd rootfd = OpenRetry(root_.c_str(), O_RDONLY | O_DIRECTORY);
    if (rootfd.get() < 0 || ::syncfs(rootfd.get()) != 0) return ErrnoFail(errno, "syncfs", root_);
    Fd m = OpenRetry(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (m.get() < 0 || ::fsync(m.get()) != 0) return ErrnoFail(errno, "create", marker);
    if (auto r = FsyncDir(root_); !r) return r;
  }
  std::lock_guard lock(fanout_mu_);
  level1_durable_.set();
  level2_durable_.set();
  return {};
}

FsBlobStore::FsBlobStore(Key, fs::path root) : root_(std::move(root)), tmp_dir_(root_ / "tmp") {}

fs::path FsBlobStore::PathFor(std::string_view id) const {
  return root_ / std::string(id.substr(0, 2)) / std::string(id.substr(2, 2)) / std::string(id);
}

Result<void> FsBlobStore::EnsureFanout(std::string_view id) {
  const unsigned l1 = HexValue(id.substr(0, 2));
  const unsigned l2 = HexValue(id.substr(0, 4));
  bool need_l1;
  {
    std::lock_guard lock(fanout_mu_);
    if (level2_durable_[l2]) return {};
    need_l1 = !level1_durable_[l1];
  }
  // Two threads may both get here for the same directory: both mkdir (one sees
  // EEXIST) and both fsync the parent, which is harmless. Neither returns before
  // the entry is durable, even if the other thread created it.
  const fs::path d1 = root_ / std::string(id.substr(0, 2));
  if (need_l1) {
    if (auto r = MakeDurableDir(d1, root_); !r) return r;
    std::lock_guard lock(fanout_mu_);
    level1_durable_[l1] = true;
  }
  if (auto r = MakeDurableDir(d1 / std::string(id.substr(2, 2)), d1); !r) return r;
  std::lock_guard lock(fanout_mu_);
  level2_durable_[l2] = true;
  return {};
}

Result<void> FsBlobStore::Install(const std::string& tmp_path, const std::string& id, uint64_t size) {
  if (auto r = EnsureFanout(id); !r) return r;
  const fs::path target = PathFor(id);
  struct stat st;
  if (::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == size) {
    // Same name means same bytes: keep the existing file. Its entry may come from a
    // concurrent writer that has not fsync'ed the directory yet, so do it here.
    ::unlink(tmp_path.c_str());  // a leftover is harmless: RemoveStaleTemp clears it
    return FsyncDir(target.parent_path());
  }
  // Absent (or, after damage, the wrong size): rename atomically replaces.
  if (::rename(tmp_path.c_str(), target.c_str()) != 0) {
    if (errno != ENOENT) return ErrnoFail(errno, "rename into", target);
    // A fan-out directory believed present is gone (removed by hand): make it again.
    {
      std::lock_guard lock(fanout_mu_);
      level1_durable_.reset(HexValue(id.substr(0, 2)));
      level2_durable_.reset(HexValue(id.substr(0, 4)));
    }
    if (auto r = EnsureFanout(id); !r) return r;
    if (::rename(tmp_path.c_str(), target.c_str()) != 0) return ErrnoFail(errno, "rename into", target);
  }
  return FsyncDir(target.parent_path());
}

Result<std::string> FsBlobStore::Put(std::string_view bytes) {
  // Fast dedupe: the same message delivered to many recipients is stored once and
  // written once.
  std::string id = Sha256Hex(bytes);
  const fs::path target = PathFor(id);
  struct stat st;
  if (::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) == bytes.size()) {
    if (auto r = FsyncDir(target.parent_path()); !r) return tl::unexpected(r.error());
    return id;
  }
  auto sink = Create();
  if (!sink) return tl::unexpected(sink.error());
  if (auto r = (*sink)->Write(bytes); !r) return tl::unexpected(r.error());
  return (*sink)->Commit();
}

Result<std::unique_ptr<BlobSink>> FsBlobStore::Create() {
  static std::atomic<uint64_t> counter{0};
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1)
    return Fail(ErrorKind::kInternal, "blob store: SHA-256 init failed");
  for (int attempt = 0; attempt < 16; ++attempt) {
    // pid + counter are unique on this host; random bytes keep hosts sharing one
    // root (NFS) apart. O_EXCL makes a collision a retry, never a shared file.
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) return Fail(ErrorKind::kUnavailable, "blob store: RAND_bytes failed");
    std::string name = std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)) + "." +
                       HexEncode(rnd, sizeof rnd) + std::string(kTempSuffix);
    std::string path = (tmp_dir_ / name).string();
    Fd fd = OpenRetry(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, kFileMode);
    if (fd.get() < 0) {
      if (errno == EEXIST) continue;
      return ErrnoFail(errno, "create temp", path);
    }
    return std::unique_ptr<BlobSink>(std::make_unique<Sink>(*this, std::move(fd), std::move(path), std::move(md)));
  }
  return Fail(ErrorKind::kUnavailable, "blob store: could not create a unique temp file in " + tmp_dir_.string());
}

Result<uint64_t> FsBlobStore::Size(std::string_view id) {
  if (!IsValidBlobId(id)) return InvalidId();
  const fs::path path = PathFor(id);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoFail(errno, "stat", path);
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> FsBlobStore::Read(std::string_view id, uint64_t offset, uint64_t length) {
  if (!IsValidBlobId(id)) return InvalidId();
  const fs::path path = PathFor(id);
  Fd fd = OpenRetry(path.c_str(), O_RDONLY);
  if (fd.get() < 0) return ErrnoFail(errno, "open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoFail(errno, "fstat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset >= size) return std::string();
  const uint64_t n = std::min(length, size - offset);
  std::string out(n, '\0');
  auto got = PreadFull(fd.get(), out.data(), out.size(), offset, path);
  if (!got) return tl::unexpected(got.error());
  out.resize(*got);
  return out;
}

Result<void> FsBlobStore::Stream(std::string_view id, uint64_t offset, uint64_t length,
                                 const std::function<bool(std::string_view)>& consumer) {
  if (!IsValidBlobId(id)) return InvalidId();
  const fs::path path = PathFor(id);
  Fd fd = OpenRetry(path.c_str(), O_RDONLY);
  if (fd.get() < 0) return ErrnoFail(errno, "open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoFail(errno, "fstat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset >= size) return {};
  uint64_t remaining = std::min(length, size - offset);
  std::string buf(std::min<uint64_t>(kStreamChunk, remaining), '\0');
  while (remaining > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), remaining));
    auto got = PreadFull(fd.get(), buf.data(), want, offset, path);
    if (!got) return tl::unexpected(got.error());
    if (*got == 0) break;
    if (!consumer(std::string_view(buf.data(), *got))) break;
    offset += *got;
    remaining -= *got;
  }
  return {};
}

Result<void> FsBlobStore::Remove(std::string_view id) {
  if (!IsValidBlobId(id)) return InvalidId();
  const fs::path path = PathFor(id);
  // No directory fsync: a removal undone by a crash only means GC finds it again.
  if (::unlink(path.c_str()) != 0) return ErrnoFail(errno, "unlink", path);
  return {};
}

Result<void> FsBlobStore::ForEach(const std::function<void(std::string_view)>& fn) {
  std::error_code ec;
  for (fs::directory_iterator l1(root_, ec), end; !ec && l1 != end; l1.increment(ec)) {
    const fs::path p1 = l1->path();
    const std::string n1 = p1.filename().string();
    if (!IsFanoutName(n1) || !l1->is_directory(ec)) continue;  // skips tmp/ and strays
    for (fs::directory_iterator l2(p1, ec); !ec && l2 != end; l2.increment(ec)) {
      const fs::path p2 = l2->path();
      const std::string n2 = p2.filename().string();
      if (!IsFanoutName(n2) || !l2->is_directory(ec)) continue;
      for (fs::directory_iterator f(p2, ec); !ec && f != end; f.increment(ec)) {
        const std::string name = f->path().filename().string();
        if (!IsValidBlobId(name) || name.compare(0, 2, n1) != 0 || name.compare(2, 2, n2) != 0) continue;
        if (!f->is_regular_file(ec)) continue;
        fn(name);
      }
      if (ec) return ErrnoFail(ec.value(), "list", p2);
    }
    if (ec) return ErrnoFail(ec.value(), "list", p1);
  }
  if (ec) return ErrnoFail(ec.value(), "list", root_);
  return {};
}

Result<size_t> FsBlobStore::RemoveStaleTemp(std::chrono::seconds older_than) {
  const auto cutoff = fs::file_time_type::clock::now() - older_than;
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(tmp_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    const auto mtime = it->last_write_time(fec);
    if (fec || mtime >= cutoff) continue;
    if (::unlink(it->path().c_str()) == 0) {
      ++removed;
    } else if (errno != ENOENT) {
      return ErrnoFail(errno, "unlink", it->path());
    }
  }
  if (ec) return ErrnoFail(ec.value(), "list", tmp_dir_);
  return removed;
}

}  // namespace columba::storage
