// lmtp_handoff.cc - HandOffToLmtp (lmtp_handoff.h).
#include "services/smtpd/lmtp_handoff.h"

#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "lib/net/line_reader.h"
#include "lib/smtp/data_reader.h"

namespace columba::smtpd {

namespace {

using net::kNoThrow;

smtp::Reply Unavailable() { return smtp::Reply{451, "4.4.1", "Local delivery temporarily unavailable"}; }

// One (possibly multi-line) reply; nullopt on a broken connection or garbage.
template <class Reader>
asio::awaitable<std::optional<smtp::Reply>> ReadReply(Reader& reader) {
  smtp::Reply reply;
  for (int lines = 0; lines < 100; ++lines) {
    net::Line line = co_await reader.ReadLine(4096);
    if (line.eof || line.too_long || line.text.size() < 3) co_return std::nullopt;
    int code = 0;
    auto [p, ec] = std::from_chars(line.text.data(), line.text.data() + 3, code);
    if (ec != std::errc() || p != line.text.data() + 3 || code < 200 || code > 599) co_return std::nullopt;
    reply.code = code;
    std::string_view rest = std::string_view(line.text).substr(3);
    const bool more = !rest.empty() && rest[0] == '-';
    if (!rest.empty()) rest.remove_prefix(1);
    if (auto sp = rest.find(' '); sp != std::string_view::npos && smtp::IsEnhancedCode(rest.substr(0, sp))) {
      reply.enhanced = std::string(rest.substr(0, sp));
      rest.remove_prefix(sp + 1);
    }
    reply.text = std::string(rest);
    if (!more) co_return reply;
  }
  co_return std::nullopt;
}

// An LMTP connection that has greeted (LHLO done) and is between transactions.
struct LmtpConnection {
  explicit LmtpConnection(asio::ip::tcp::socket s) : sock(std::move(s)), reader(sock) {}
  asio::ip::tcp::socket sock;
  net::LineReader<asio::ip::tcp::socket> reader;
  std::chrono::steady_clock::time_point idle_since;
};

// Idle connections to lmtpd, shared by every session and the queue runner of
// this process (LHLO and the TCP handshake once, not per message). Bounded;
// connections idle longer than kMaxIdle are dropped rather than reused (lmtpd
// may have closed them).
class LmtpConnectionPool {
 public:
  static constexpr size_t kMaxIdle = 64;
  static constexpr std::chrono::seconds kMaxIdleAge{30};

  std::unique_ptr<LmtpConnection> Take(const std::string& key) {
    std::lock_guard lk(mu_);
    auto& v = idle_[key];
    const auto now = std::chrono::steady_clock::now();
    while (!v.empty()) {
      auto c = std::move(v.back());
      v.pop_back();
      if (now - c->idle_since < kMaxIdleAge) return c;
    }
    return nullptr;
  }
  void Give(const std::string& key, std::unique_ptr<LmtpConnection> c) {
    c->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lk(mu_);
    auto& v = idle_[key];
    if (v.size() < kMaxIdle) v.push_back(std::move(c));
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<LmtpConnection>>> idle_;
};

LmtpConnectionPool& Pool() {
  static LmtpConnectionPool pool;
  return pool;
}

enum class Attempt { kDone, kRetryFresh };

// One transaction on `c`, pipelined (lmtpd offers PIPELINING): MAIL, every
// RCPT and DATA in one write, then their replies; the message; one reply per
// accepted recipient. kRetryFresh when a reused connection turned out dead
// before lmtpd could have accepted anything (nothing of the message was sent).
asio::awaitable<Attempt> Transact(LmtpConnection& c, bool reused, const std::string& sender,
                                  const std::vector<std::string>& recipients, const std::string& message,
                                  bool smtputf8, std::vector<smtp::Reply>& out, bool& reusable) {
  reusable = false;
  std::string head = "MAIL FROM:<" + sender + ">" + (smtputf8 ? " SMTPUTF8" : "") + "\r\n";
  for (const auto& r : recipients) head += "RCPT TO:<" + r + ">\r\n";
  head += "DATA\r\n";
  auto [wec, wn] = co_await asio::async_write(c.sock, asio::buffer(head), kNoThrow);
  if (wec) co_return reused ? Attempt::kRetryFresh : Attempt::kDone;
  auto mail = co_await ReadReply(c.reader);
  if (!mail) co_return reused ? Attempt::kRetryFresh : Attempt::kDone;
  std::vector<size_t> accepted;
  for (size_t i = 0; i < recipients.size(); ++i) {
    auto r = co_await ReadReply(c.reader);
    if (!r) co_return Attempt::kDone;
    if (mail->code != 250) {
      out[i] = *mail;  // the sender was refused: so is every recipient
    } else if (r->code == 250) {
      accepted.push_back(i);
    } else {
      out[i] = *r;
    }
  }
  auto data = co_await ReadReply(c.reader);
  if (!data) co_return Attempt::kDone;
  if (data->code != 354) {
    // No valid recipient (503/554): the transaction is over, the connection fine.
    reusable = accepted.empty() && data->code >= 500;
    co_return Attempt::kDone;
  }
  if (accepted.empty()) co_return Attempt::kDone;  // 354 without recipients: lmtpd confused; drop it
  const std::string stuffed = smtp::DotStuff(message);
  auto [dec, dn] = co_await asio::async_write(c.sock, asio::buffer(stuffed), kNoThrow);
  if (dec) co_return Attempt::kDone;
  for (size_t i : accepted) {
    auto r = co_await ReadReply(c.reader);
    if (!r) co_return Attempt::kDone;  // the rest stay 451: lmtpd's answer for them is unknown
    out[i] = *r;
  }
  reusable = true;
  co_return Attempt::kDone;
}

// A fresh connection with its greeting and LHLO done, or null.
asio::awaitable<std::unique_ptr<LmtpConnection>> Connect(const asio::ip::tcp::endpoint& ep,
                                                         const std::string& lhlo_name) {
  auto ex = co_await asio::this_coro::executor;
  auto c = std::make_unique<LmtpConnection>(asio::ip::tcp::socket(ex));
  auto [ec] = co_await c->sock.async_connect(ep, kNoThrow);
  if (ec) co_return nullptr;
  asio::error_code ignored;
  c->sock.set_option(asio::ip::tcp::no_delay(true), ignored);
  auto greeting = co_await ReadReply(c->reader);
  if (!greeting || greeting->code != 220) co_return nullptr;
  std::string lhlo = "LHLO " + lhlo_name + "\r\n";
  auto [wec, n] = co_await asio::async_write(c->sock, asio::buffer(lhlo), kNoThrow);
  if (wec) co_return nullptr;
  auto hello = co_await ReadReply(c->reader);
  if (!hello || hello->code != 250) co_return nullptr;
  co_return c;
}

}  // namespace

asio::awaitable<std::vector<smtp::Reply>> HandOffToLmtp(const std::string& host, uint16_t port,
                                                        const std::string& lhlo_name, const std::string& sender,
                                                        const std::vector<std::string>& recipients,
                                                        const std::string& message, std::chrono::milliseconds timeout,
                                                        bool smtputf8) {
  std::vector<smtp::Reply> out(recipients.size(), Unavailable());
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) co_return out;
  const asio::ip::tcp::endpoint ep(addr, port);
  const std::string key = host + ":" + std::to_string(port);
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  LmtpConnection* current = nullptr;  // the connection the deadline closes
  deadline.async_wait([&current](asio::error_code dec) {
    if (dec || current == nullptr) return;
    asio::error_code ignored;
    current->sock.close(ignored);  // every pending operation fails: the rest stay 451
  });
  struct Cancel {
    asio::steady_timer& t;
    ~Cancel() { t.cancel(); }
  } cancel{deadline};

  std::unique_ptr<LmtpConnection> conn = Pool().Take(key);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = conn != nullptr;
    if (!conn) conn = co_await Connect(ep, lhlo_name);
    if (!conn) co_return out;
    current = conn.get();
    bool reusable = false;
    Attempt a = co_await Transact(*conn, reused, sender, recipients, message, smtputf8, out, reusable);
    current = nullptr;
    if (a == Attempt::kRetryFresh) {
      conn.reset();
      continue;
    }
    if (reusable && conn->sock.is_open()) Pool().Give(key, std::move(conn));
    co_return out;
  }
  co_return out;
}

}  // namespace columba::smtpd
