// connection.cc - TCP/unix client connection with a watchdog deadline (see connection.h).
//
// Never connects anywhere but the endpoint in the Options; never blocks the event loop.
#include "loadtest/connection.h"

#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>

#include <optional>

namespace columba::loadtest {

using net::kNoThrow;
using Clock = std::chrono::steady_clock;
using Socket = asio::generic::stream_protocol::socket;

const char* IoFailureKey(IoFailure f) {
  switch (f) {
    case IoFailure::kNone:
      return "none";
    case IoFailure::kEof:
      return "io";
    case IoFailure::kTimeout:
      return "timeout";
    case IoFailure::kProtocol:
      return "protocol";
  }
  return "io";
}

struct Connection::State {
  explicit State(asio::any_io_executor ex) : sock(ex), timer(ex), reader(sock) {}
  Socket sock;
  asio::steady_timer timer;
  net::LineReader<Socket> reader;
  std::chrono::milliseconds timeout{0};
  Clock::time_point deadline;
  bool armed = false;  // an operation is pending and `deadline` applies
  bool timed_out = false;
  bool closed = false;

  // The watchdog's timer never expires later than `deadline` (it sleeps at most one
  // timeout at a time), so arming needs no timer cancel: it wakes, sees the later
  // deadline, and sleeps again.
  void Arm() {
    deadline = Clock::now() + timeout;
    armed = true;
  }
  void Disarm() { armed = false; }
  void Close() {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    sock.close(ignored);
    timer.cancel();
  }
};

namespace {

// Sleeps until the deadline; when it has really passed (not just moved), closes
// the socket so the pending operation fails.
asio::awaitable<void> Watchdog(std::shared_ptr<Connection::State> s) {
  while (!s->closed) {
    s->timer.expires_at(s->armed ? s->deadline : Clock::now() + s->timeout);
    co_await s->timer.async_wait(kNoThrow);
    if (s->closed) break;
    if (s->armed && Clock::now() >= s->deadline) {
      s->timed_out = true;
      s->Close();
      break;
    }
  }
}

}  // namespace

Connection::Connection(asio::any_io_executor ex, std::chrono::milliseconds timeout)
    : ex_(std::move(ex)), timeout_(timeout) {}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (state_) state_->Close();
  state_.reset();
}

bool Connection::open() const { return state_ && !state_->closed; }

asio::awaitable<std::error_code> Connection::Connect(const Options& o) {
  Close();
  state_ = std::make_shared<State>(ex_);
  state_->timeout = timeout_;
  auto s = state_;
  asio::generic::stream_protocol::endpoint ep;
  if (!o.unix_path.empty()) {
    ep = asio::local::stream_protocol::endpoint(o.unix_path);
  } else {
    std::error_code ec;
    auto addr = asio::ip::make_address(o.host, ec);
    if (ec) co_return ec;
    ep = asio::ip::tcp::endpoint(addr, o.port);
  }
  asio::co_spawn(ex_, Watchdog(s), asio::detached);
  s->Arm();
  auto [ec] = co_await s->sock.async_connect(ep, kNoThrow);
  s->Disarm();
  if (!ec && s->timed_out) ec = asio::error::timed_out;
  if (ec) {
    s->Close();
    co_return ec;
  }
  if (o.unix_path.empty()) {
    std::error_code ignored;
    s->sock.set_option(asio::ip::tcp::no_delay(true), ignored);
  }
  co_return std::error_code();
}

asio::awaitable<Connection::LineResult> Connection::ReadLine(size_t max) {
  LineResult out;
  auto s = state_;
  if (!s || s->closed) {
    out.failure = IoFailure::kEof;
    co_return out;
  }
  s->Arm();
  net::Line line = co_await s->reader.ReadLine(max);
  s->Disarm();
  if (line.eof) {
    out.failure = s->timed_out ? IoFailure::kTimeout : IoFailure::kEof;
  } else if (line.too_long) {
    out.failure = IoFailure::kProtocol;
  } else {
    out.text = std::move(line.text);
  }
  co_return out;
}

asio::awaitable<IoFailure> Connection::Write(std::string_view data) {
  auto s = state_;
  if (!s || s->closed) co_return IoFailure::kEof;
  s->Arm();
  auto [ec, n] = co_await asio::async_write(s->sock, asio::buffer(data.data(), data.size()), kNoThrow);
  s->Disarm();
  if (ec) co_return s->timed_out ? IoFailure::kTimeout : IoFailure::kEof;
  co_return IoFailure::kNone;
}

}  // namespace columba::loadtest
