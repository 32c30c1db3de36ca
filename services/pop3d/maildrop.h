// maildrop.h - the POP3 maildrop: its exclusive lock in Redis (RFC 1939 8:
// one session per maildrop) and its snapshot from metad.
//
// NAME
//   MaildropLock, LoadMaildrop
//
// DESCRIPTION
//   The lock is Ephemeral::TryLock("pop3:<address>", token, lease) with a random
//   per-session owner token, so it holds across every replica. While the
//   session lives a timer on the session's strand renews it every lease/3
//   (Ephemeral::Refresh); a replica that dies (kill -9) stops renewing and its
//   lock expires after at most one lease, so the user is locked out for at most
//   pop3.lock_lease. A renewal that finds the lock gone or taken marks it lost:
//   the session may no longer delete (UPDATE asks Confirm() first, which
//   renews once more and says whether the lock is still ours).
//   Redis failing at TryLock is "unavailable" (-ERR [SYS/TEMP]): fail closed,
//   never two writers.
//
//   LoadMaildrop reads INBOX (GetMailbox) and every message's UID, size and
//   blob id (FetchPage, in pages of pop3.fetch_page): the numbering of the
//   session (RFC 1939: fixed for the session).
//
// NEVER
//   Never blocks the event loop (Redis calls run on the worker pool), never
//   releases a lock it does not own (Unlock checks the token), never logs the
//   owner token.
#pragma once

#include <memory>
#include <string>

#include "services/pop3d/session.h"

namespace columba::pop3d {

class MaildropLock : public std::enable_shared_from_this<MaildropLock> {
 public:
  enum class Outcome { kTaken, kInUse, kUnavailable };
  MaildropLock(ServerContext& ctx, std::string address, asio::any_io_executor ex);

  // Tries to take the lock once.
  asio::awaitable<Outcome> Take();
  // Starts renewing every lease/3 until Release.
  void StartRenewal();
  // Renews now: true when the lock is still this session's.
  asio::awaitable<bool> Confirm();
  // Stops renewing and unlocks (when still ours). Safe to call twice.
  asio::awaitable<void> Release();
  bool lost() const { return lost_; }

 private:
  asio::awaitable<void> RenewLoop();
  ServerContext& ctx_;
  std::string key_;
  std::string token_;
  asio::steady_timer timer_;
  bool held_ = false;
  bool lost_ = false;
  bool stopped_ = false;
};

// INBOX of `account_id` as a session snapshot; an error when metad cannot answer.
asio::awaitable<Result<Maildrop>> LoadMaildrop(ServerContext& ctx, uint64_t account_id);

}  // namespace columba::pop3d
