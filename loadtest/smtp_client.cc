// smtp_client.cc - SMTP/LMTP client dialogue for the load generator (see smtp_client.h).
//
// Never sends content before 354, never counts a message delivered on doubt.
#include "loadtest/smtp_client.h"

#include <fmt/format.h>

#include <cctype>

namespace columba::loadtest {

namespace {

constexpr size_t kMaxReplyLine = 512;
constexpr int kMaxReplyLines = 100;

bool Is2xx(int code) { return code >= 200 && code < 300; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<ReplyLine> ParseReplyLine(std::string_view line) {
  if (line.size() < 3) return std::nullopt;
  for (int i = 0; i < 3; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[static_cast<size_t>(i)]))) return std::nullopt;
  }
  if (line[0] < '2' || line[0] > '5') return std::nullopt;
  ReplyLine out;
  out.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() == 3) return out;
  if (line[3] != ' ' && line[3] != '-') return std::nullopt;
  out.more = line[3] == '-';
  out.text = std::string(line.substr(4));
  return out;
}

Capabilities ParseEhloCapabilities(const SmtpReply& reply) {
  Capabilities caps;
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    std::string cap = Upper(reply.lines[i]);
    std::string_view word = std::string_view(cap).substr(0, cap.find(' '));
    if (word == "PIPELINING") caps.pipelining = true;
    if (word == "SIZE") caps.size = true;
  }
  return caps;
}

asio::awaitable<ReplyResult> ReadReply(Connection& c) {
  ReplyResult out;
  for (int n = 0; n < kMaxReplyLines; ++n) {
    auto line = co_await c.ReadLine(kMaxReplyLine);
    if (line.failure != IoFailure::kNone) {
      out.failure = line.failure;
      co_return out;
    }
    auto parsed = ParseReplyLine(line.text);
    if (!parsed || (n > 0 && parsed->code != out.reply.code)) {
      out.failure = IoFailure::kProtocol;
      co_return out;
    }
    out.reply.code = parsed->code;
    out.reply.lines.push_back(std::move(parsed->text));
    if (!parsed->more) co_return out;
  }
  out.failure = IoFailure::kProtocol;
  co_return out;
}

asio::awaitable<OpenResult> OpenSession(Connection& c, std::string_view helo, bool lmtp) {
  OpenResult out;
  auto greeting = co_await ReadReply(c);
  if (greeting.failure != IoFailure::kNone) {
    out.error = IoFailureKey(greeting.failure);
    co_return out;
  }
  if (greeting.reply.code != 220) {
    out.error = std::to_string(greeting.reply.code);
    co_return out;
  }
  if (auto f = co_await c.Write(fmt::format("{} {}\r\n", lmtp ? "LHLO" : "EHLO", helo)); f != IoFailure::kNone) {
    out.error = IoFailureKey(f);
    co_return out;
  }
  auto hello = co_await ReadReply(c);
  if (hello.failure != IoFailure::kNone) {
    out.error = IoFailureKey(hello.failure);
    co_return out;
  }
  if (hello.reply.code != 250) {
    out.error = std::to_string(hello.reply.code);
    co_return out;
  }
  out.caps = ParseEhloCapabilities(hello.reply);
  co_return out;
}

asio::awaitable<TransactionOutcome> SendTransaction(Connection& c, const Envelope& env, std::string_view dot_stuffed,
                                                    uint64_t size, bool lmtp, bool pipelining, bool size_param) {
  TransactionOutcome out;
  auto fail_io = [&](IoFailure f) {
    out.errors.push_back(IoFailureKey(f));
    out.must_reconnect = true;
  };
  // A non-2xx reply: counted; 421 means the server is closing the connection.
  auto count_reply = [&](int code) {
    out.errors.push_back(std::to_string(code));
    if (code == 421) out.must_reconnect = true;
  };

  std::string mail = size_param ? fmt::format("MAIL FROM:<{}> SIZE={}\r\n", env.from, size)
                                : fmt::format("MAIL FROM:<{}>\r\n", env.from);
  std::vector<std::string> rcpt_cmds;
  for (const auto& r : env.rcpts) rcpt_cmds.push_back(fmt::format("RCPT TO:<{}>\r\n", r));

  int accepted = 0;
  bool mail_ok = false;
  int data_code = 0;
  if (pipelining) {
    std::string batch = mail;
    for (const auto& r : rcpt_cmds) batch += r;
    batch += "DATA\r\n";
    if (auto f = co_await c.Write(batch); f != IoFailure::kNone) {
      fail_io(f);
      co_return out;
    }
    auto mr = co_await ReadReply(c);
    if (mr.failure != IoFailure::kNone) {
      fail_io(mr.failure);
      co_return out;
    }
    mail_ok = Is2xx(mr.reply.code);
    if (!mail_ok) count_reply(mr.reply.code);
    if (out.must_reconnect) co_return out;  // 421: the server is gone; nothing more to read
    for (size_t i = 0; i < rcpt_cmds.size(); ++i) {
      auto rr = co_await ReadReply(c);
      if (rr.failure != IoFailure::kNone) {
        fail_io(rr.failure);
        co_return out;
      }
      if (Is2xx(rr.reply.code)) {
        ++accepted;
      } else if (mail_ok || rr.reply.code == 421) {
        count_reply(rr.reply.code);  // after a failed MAIL the RCPT errors are consequences
        if (out.must_reconnect) co_return out;
      }
    }
    auto dr = co_await ReadReply(c);
    if (dr.failure != IoFailure::kNone) {
      fail_io(dr.failure);
      co_return out;
    }
    data_code = dr.reply.code;
    if (data_code == 354 && (!mail_ok || accepted == 0)) {
      // The server opened DATA with nobody to deliver to: end it empty and drop
      // the connection rather than guess what state it is in.
      (void)co_await c.Write(".\r\n");
      out.errors.push_back("protocol");
      out.must_reconnect = true;
      co_return out;
    }
    // DATA was refused (503/554) as it should be. Without MAIL there is no
    // transaction; with MAIL but no recipient the RSET below closes it.
    if (!mail_ok) co_return out;
  } else {
    if (auto f = co_await c.Write(mail); f != IoFailure::kNone) {
      fail_io(f);
      co_return out;
    }
    auto mr = co_await ReadReply(c);
    if (mr.failure != IoFailure::kNone) {
      fail_io(mr.failure);
      co_return out;
    }
    if (!Is2xx(mr.reply.code)) {
      count_reply(mr.reply.code);
      co_return out;
    }
    mail_ok = true;
    for (const auto& cmd : rcpt_cmds) {
      if (auto f = co_await c.Write(cmd); f != IoFailure::kNone) {
        fail_io(f);
        co_return out;
      }
      auto rr = co_await ReadReply(c);
      if (rr.failure != IoFailure::kNone) {
        fail_io(rr.failure);
        co_return out;
      }
      if (Is2xx(rr.reply.code)) {
        ++accepted;
      } else {
        count_reply(rr.reply.code);
        if (out.must_reconnect) co_return out;
      }
    }
    if (accepted > 0) {
      if (auto f = co_await c.Write("DATA\r\n"); f != IoFailure::kNone) {
        fail_io(f);
        co_return out;
      }
      auto dr = co_await ReadReply(c);
      if (dr.failure != IoFailure::kNone) {
        fail_io(dr.failure);
        co_return out;
      }
      data_code = dr.reply.code;
    }
  }

  if (out.must_reconnect) co_return out;
  if (accepted == 0 || data_code != 354) {
    if (accepted > 0) count_reply(data_code);
    // MAIL succeeded, so a transaction is open: reset it before the next one.
    if (auto f = co_await c.Write("RSET\r\n"); f != IoFailure::kNone) {
      fail_io(f);
      co_return out;
    }
    auto rs = co_await ReadReply(c);
    if (rs.failure != IoFailure::kNone) {
      fail_io(rs.failure);
    } else if (!Is2xx(rs.reply.code)) {
      count_reply(rs.reply.code);
      out.must_reconnect = true;
    }
    co_return out;
  }

  if (auto f = co_await c.Write(dot_stuffed); f != IoFailure::kNone) {
    fail_io(f);
    co_return out;
  }
  auto end_of_data = std::chrono::steady_clock::now();
  int finals = lmtp ? accepted : 1;
  int ok = 0;
  for (int i = 0; i < finals; ++i) {
    auto fr = co_await ReadReply(c);
    if (fr.failure != IoFailure::kNone) {
      fail_io(fr.failure);
      co_return out;
    }
    if (Is2xx(fr.reply.code)) {
      ++ok;
    } else {
      count_reply(fr.reply.code);
    }
  }
  out.end_of_data_to_reply = std::chrono::steady_clock::now() - end_of_data;
  out.recipients_ok = lmtp ? ok : (ok == 1 ? accepted : 0);
  out.delivered = out.errors.empty() && out.recipients_ok == static_cast<int>(env.rcpts.size());
  co_return out;
}

asio::awaitable<void> Quit(Connection& c) {
  // No co_await inside && or ||: GCC 12 miscompiles it (SIGILL at resume).
  if (c.open()) {
    IoFailure f = co_await c.Write("QUIT\r\n");
    if (f == IoFailure::kNone) (void)co_await ReadReply(c);
  }
  c.Close();
}

}  // namespace columba::loadtest
