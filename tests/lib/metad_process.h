// metad_process.h - a private PostgreSQL database and real columba-metad processes, for tests.
//
// NAME
//   columba::testing::TestDatabase, TempDir, MetadProcess (+ FreePorts, HttpStatus) -
//   what metad_test and the Directory conformance suite (backend "sql") need to talk
//   to a real metad over gRPC.
// SYNOPSIS
//   TestDatabase db;                                   // CREATE DATABASE t_<random>, migrations
//   TempDir dir;
//   auto metad = MetadProcess::Start("a", dir.path(), db.uri());
//   grpc::CreateChannel(metad->target(), ...);
// DESCRIPTION
//   TestDatabase creates its own database (via COLUMBA_PG_ADMIN from the test
//   infrastructure's env file, owned by `columba`), applies every migration and drops
//   it WITH (FORCE) on destruction. MetadProcess starts the binary
//   $COLUMBA_BUILD_DIR/services/metad/columba-metad on free loopback ports with a
//   generated YAML config (drain_timeout kMetadDrainTimeout) and waits, bounded, for
//   /readyz 200.
// DIAGNOSTICS
//   Throws std::runtime_error naming what is missing (COLUMBA_BUILD_DIR, the binary,
//   the infrastructure) or the log tail of a metad that did not start.
// NEVER
//   Leaves a process behind: every child is killed and reaped by its owner's
//   destructor, and gets PR_SET_PDEATHSIG so even a crash of the test kills it.
//   Touches a database it did not create.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/postgres/migrations.h"
#include "tests/lib/test_env.h"

extern char** environ;

namespace columba::testing {

// service.drain_timeout of every metad started here.
inline constexpr std::chrono::seconds kMetadDrainTimeout{2};

namespace metad_process_detail {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
}  // namespace metad_process_detail
using namespace metad_process_detail;

// ------------------------------------------------------------ environment

inline std::string BuildDir() {
  const char* b = std::getenv("COLUMBA_BUILD_DIR");
  if (b == nullptr || *b == '\0')
    throw std::runtime_error(
        "COLUMBA_BUILD_DIR is not set: run with COLUMBA_BUILD_DIR=<build dir root> (ctest sets it through "
        "the `infra` fixture)");
  return b;
}

inline std::string MetadBinary() {
  std::string path = BuildDir() + "/services/metad/columba-metad";
  if (::access(path.c_str(), X_OK) != 0)
    throw std::runtime_error("no executable columba-metad at " + path + " (build the columba-metad target)");
  return path;
}

inline uint64_t RandomU64() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}() ^ static_cast<uint64_t>(Clock::now().time_since_epoch().count())};
  std::lock_guard lk(mu);
  return rng();
}

inline std::string Hex(uint64_t v, int width) {
  std::ostringstream s;
  s << std::hex << std::setw(width) << std::setfill('0') << v;
  return s.str();
}

// `uri` with its database (the URI path) replaced by `db` (as in pg_store_test).
inline std::string WithDatabase(const std::string& uri, const std::string& db) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("COLUMBA_PG_URI is not a libpq URI");
  size_t start = scheme + 3;
  size_t query = uri.find('?', start);
  size_t end = query == std::string::npos ? uri.size() : query;
  size_t slash = uri.find('/', start);
  if (slash == std::string::npos || slash > end) return uri.substr(0, end) + "/" + db + uri.substr(end);
  return uri.substr(0, slash) + "/" + db + uri.substr(end);
}

// A private database owned by `columba` with the schema applied, dropped on destruction.
class TestDatabase {
 public:
  TestDatabase() {
    admin_ = TestEnv("COLUMBA_PG_ADMIN");
    std::string base = TestEnv("COLUMBA_PG_URI");
    name_ = "t_" + Hex(RandomU64(), 16);
    {
      pqxx::connection c(admin_);
      pqxx::nontransaction n(c);
      n.exec("CREATE DATABASE " + name_ + " OWNER columba");
      // Only what a crash of the test cluster could lose; nothing a client observes.
      n.exec("ALTER DATABASE " + name_ + " SET synchronous_commit = off");
    }
    created_ = true;
    uri_ = WithDatabase(base, name_);
    auto m = pg::ApplyMigrations(uri_);
    if (!m) throw std::runtime_error("migrations failed: " + m.error().message);
  }
  ~TestDatabase() {
    if (!created_) return;
    try {
      pqxx::connection c(admin_);
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::cerr << "dropping test database " << name_ << ": " << e.what() << "\n";
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& uri() const { return uri_; }
  const std::string& name() const { return name_; }
  const std::string& admin() const { return admin_; }

 private:
  std::string admin_, name_, uri_;
  bool created_ = false;
};

// A private temp directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "columba-test.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ------------------------------------------------------------ sockets

// Two distinct free loopback ports (both held while the second is chosen).
inline std::pair<int, int> FreePorts() {
  int fds[2];
  int ports[2];
  for (int i = 0; i < 2; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[i] < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fds[i], reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot pick a free port");
    ports[i] = ntohs(a.sin_port);
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return {ports[0], ports[1]};
}

// HTTP status of GET `path` on 127.0.0.1:port, or -1 when nothing answers (refused,
// reset, timeout). Every step is bounded by `timeout`.
inline int HttpStatus(int port, const std::string& path, milliseconds timeout = milliseconds(1000)) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      std::string resp;
      char buf[512];
      auto deadline = Clock::now() + timeout;
      while (resp.find("\r\n") == std::string::npos && resp.size() < 4096 && Clock::now() < deadline) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        resp.append(buf, static_cast<size_t>(n));
      }
      // "HTTP/1.0 200 OK"
      if (resp.rfind("HTTP/1.", 0) == 0 && resp.size() >= 12) status = std::atoi(resp.c_str() + 9);
    }
  }
  ::close(fd);
  return status;
}

// ------------------------------------------------------------ a metad process

class MetadProcess {
 public:
  // Starts columba-metad on free ports and waits (bounded) for /readyz 200. Retries
  // with other ports when the process dies before it is ready (a port taken between
  // choosing and binding it); throws with the log tail when it cannot start.
  static std::unique_ptr<MetadProcess> Start(const std::string& name, const std::string& dir,
                                             const std::string& pg_uri) {
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto p = Launch(name, dir, pg_uri);
      if (p->WaitReady(seconds(20))) return p;
      last_error = p->Running() ? "not ready within 20 s" : "exited before it was ready";
      last_error += "; log tail:\n" + p->LogTail(40);
      p->Kill();
    }
    throw std::runtime_error("columba-metad " + name + " did not start: " + last_error);
  }

  // Starts columba-metad without waiting for it; `http_port` 0 = a free port.
  static std::unique_ptr<MetadProcess> Launch(const std::string& name, const std::string& dir,
                                              const std::string& pg_uri, int http_port = 0) {
    auto p = std::unique_ptr<MetadProcess>(new MetadProcess(name, dir));
    p->Spawn(pg_uri, http_port);
    return p;
  }

  ~MetadProcess() { Kill(); }
  MetadProcess(const MetadProcess&) = delete;
  MetadProcess& operator=(const MetadProcess&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  int Readyz(milliseconds timeout = milliseconds(1000)) const { return HttpStatus(http_port_, "/readyz", timeout); }

  bool Running() {
    Reap(false);
    return pid_ > 0 && !exited_;
  }
  void Signal(int sig) {
    if (Running()) ::kill(pid_, sig);
  }
  // Waits up to `timeout` for the process to exit; its wait status, or nullopt.
  std::optional<int> WaitExit(Clock::duration timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      Reap(false);
      if (exited_) return wait_status_;
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  // kill -9 and reap (idempotent).
  void Kill() {
    if (pid_ <= 0 || exited_) return;
    ::kill(pid_, SIGKILL);
    Reap(true);
  }

  bool WaitReady(Clock::duration timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!Running()) return false;
      if (Readyz(milliseconds(500)) == 200) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  std::string LogTail(size_t lines) const {
    std::ifstream in(log_path_);
    std::deque<std::string> tail;
    std::string line;
    while (std::getline(in, line)) {
      tail.push_back(line);
      if (tail.size() > lines) tail.pop_front();
    }
    std::string out;
    for (auto& l : tail) out += "    " + l + "\n";
    return out;
  }

 private:
  MetadProcess(std::string name, const std::string& dir) : name_(std::move(name)), dir_(dir) {}

  void Spawn(const std::string& pg_uri, int http_port) {
    std::tie(grpc_port_, http_port_) = FreePorts();
    if (http_port != 0) http_port_ = http_port;
    std::string config = dir_ + "/" + name_ + ".yaml";
    log_path_ = dir_ + "/" + name_ + ".log";
    {
      std::string quoted;  // YAML single-quoted scalar
      for (char c : pg_uri) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      std::ofstream f(config, std::ios::trunc);
      f << "service:\n"
        << "  metrics_listen: '127.0.0.1:" << http_port_ << "'\n"
        << "  drain_timeout: " << std::chrono::duration_cast<milliseconds>(kMetadDrainTimeout).count() << "ms\n"
        << "  threads: 2\n"
        << "metad:\n"
        << "  listen: '127.0.0.1:" << grpc_port_ << "'\n"
        << "  postgres_uri: '" << quoted << "'\n"
        << "  db_connections: 8\n";
      if (!f) throw std::runtime_error("cannot write " + config);
    }
    // Everything the child needs is prepared before fork(): after it, only
    // async-signal-safe calls (this process has gRPC threads).
    std::string binary = MetadBinary();
    std::vector<std::string> args = {binary, "--config", config};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The child's environment without COLUMBA_* (those override config keys).
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "COLUMBA_", 8) != 0) envp.push_back(*e);
    envp.push_back(nullptr);
    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) throw std::runtime_error("cannot open " + log_path_ + " or /dev/null");
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      // Die with the test, even if it crashes (the parent is the main thread).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::syscall(SYS_close_range, 3U, ~0U, 0U);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(log_fd);
    ::close(null_fd);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    pid_ = pid;
  }

  void Reap(bool block) {
    if (pid_ <= 0 || exited_) return;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
    if (r == pid_) {
      exited_ = true;
      wait_status_ = st;
    }
  }

  std::string name_, dir_, log_path_;
  pid_t pid_ = -1;
  int grpc_port_ = 0, http_port_ = 0;
  bool exited_ = false;
  int wait_status_ = 0;
};

}  // namespace columba::testing
