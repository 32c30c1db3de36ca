// connection.h - one client connection of the load generator (TCP or unix socket)
// with a per-operation timeout.
//
// It connects only to the endpoint it is given (the options were checked to be
// loopback or explicitly allowed); it never resolves names. Every read and write
// has a deadline: a watchdog closes the socket when one passes, so a stuck server
// costs a session one timeout, never the whole run. Lines are bounded (LineReader)
// so a misbehaving server cannot make the client buffer without limit.
#pragma once

#include <asio/generic/stream_protocol.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "lib/net/asio_compat.h"
#include "lib/net/line_reader.h"
#include "loadtest/options.h"

namespace columba::loadtest {

// How an I/O step ended, when it did not succeed.
enum class IoFailure { kNone, kEof, kTimeout, kProtocol };  // kProtocol: over-long line or malformed reply
// Error-count key for a failure: "io", "timeout", "protocol".
const char* IoFailureKey(IoFailure f);

class Connection {
 public:
  Connection(asio::any_io_executor ex, std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to o.unix_path, or o.host:o.port. Starts the watchdog.
  asio::awaitable<std::error_code> Connect(const Options& o);
  // One line without its line end, at most `max` octets.
  struct LineResult {
    std::string text;
    IoFailure failure = IoFailure::kNone;
  };
  asio::awaitable<LineResult> ReadLine(size_t max);
  asio::awaitable<IoFailure> Write(std::string_view data);
  void Close();
  bool open() const;

  // Socket, line buffer and deadline; shared with the watchdog coroutine so it
  // outlives a Close() that happens while the watchdog sleeps.
  struct State;

 private:
  std::shared_ptr<State> state_;
  asio::any_io_executor ex_;
  std::chrono::milliseconds timeout_;
};

}  // namespace columba::loadtest
