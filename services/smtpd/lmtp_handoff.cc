// lmtp_handoff.cc - HandOffToLmtp (lmtp_handoff.h).
#include "services/smtpd/lmtp_handoff.h"

#include <charconv>
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

}  // namespace

asio::awaitable<std::vector<smtp::Reply>> HandOffToLmtp(const std::string& host, uint16_t port,
                                                        const std::string& lhlo_name, const std::string& sender,
                                                        const std::vector<std::string>& recipients,
                                                        const std::string& message, std::chrono::milliseconds timeout,
                                                        bool smtputf8) {
  std::vector<smtp::Reply> out(recipients.size(), Unavailable());
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket sock(ex);
  asio::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  deadline.async_wait([&sock](asio::error_code ec) {
    if (ec) return;
    asio::error_code ignored;
    sock.close(ignored);  // every pending operation fails: all recipients stay 451
  });
  struct Cancel {
    asio::steady_timer& t;
    ~Cancel() { t.cancel(); }
  } cancel{deadline};

  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) co_return out;
  std::tie(ec) = co_await sock.async_connect(asio::ip::tcp::endpoint(addr, port), kNoThrow);
  if (ec) co_return out;
  net::LineReader reader(sock);
  auto send = [&](std::string text) -> asio::awaitable<bool> {
    auto [wec, n] = co_await asio::async_write(sock, asio::buffer(text), kNoThrow);
    co_return !wec;
  };
  auto expect = [&](int code) -> asio::awaitable<bool> {
    auto r = co_await ReadReply(reader);
    co_return r && r->code == code;
  };
  // (One co_await per statement: GCC 12 miscompiles co_await inside && and ||,
  // and string temporaries in co_await arguments.)
  bool ok = co_await expect(220);
  if (!ok) co_return out;
  std::string line = "LHLO " + lhlo_name + "\r\n";
  ok = co_await send(line);
  if (ok) ok = co_await expect(250);
  if (!ok) co_return out;
  line = "MAIL FROM:<" + sender + ">" + (smtputf8 ? " SMTPUTF8" : "") + "\r\n";
  ok = co_await send(line);
  if (ok) ok = co_await expect(250);
  if (!ok) co_return out;
  std::vector<size_t> accepted;
  for (size_t i = 0; i < recipients.size(); ++i) {
    line = "RCPT TO:<" + recipients[i] + ">\r\n";
    ok = co_await send(line);
    if (!ok) co_return out;
    auto r = co_await ReadReply(reader);
    if (!r) co_return out;
    if (r->code == 250) {
      accepted.push_back(i);
    } else {
      out[i] = *r;
    }
  }
  const std::string quit = "QUIT\r\n";
  if (accepted.empty()) {
    co_await send(quit);
    co_return out;
  }
  line = "DATA\r\n";
  ok = co_await send(line);
  if (ok) ok = co_await expect(354);
  if (!ok) co_return out;
  const std::string stuffed = smtp::DotStuff(message);
  ok = co_await send(stuffed);
  if (!ok) co_return out;
  for (size_t i : accepted) {
    auto r = co_await ReadReply(reader);
    if (!r) co_return out;  // the rest stay 451: lmtpd's answer for them is unknown
    out[i] = *r;
  }
  co_await send(quit);
  co_return out;
}

}  // namespace columba::smtpd
