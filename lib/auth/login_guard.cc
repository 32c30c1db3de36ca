// login_guard.cc - failure counters and POP-before-SMTP records (login_guard.h).
#include "lib/auth/login_guard.h"

#include <algorithm>

namespace columba::auth {

LoginGuardConfig ReadLoginGuardConfig(ConfigReader& r, const std::string& section, bool pop_before_smtp_key) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  LoginGuardConfig c;
  c.failure_delay = r.Duration(section, "auth_failure_delay", seconds(1), milliseconds(0), seconds(60));
  c.penalty_base = r.Duration(section, "auth_penalty_base", seconds(1), milliseconds(0), seconds(60));
  c.penalty_max = r.Duration(section, "auth_penalty_max", seconds(15), milliseconds(0), std::chrono::minutes(10));
  c.window = r.Duration(section, "auth_failure_window", std::chrono::minutes(15), seconds(1), std::chrono::hours(24));
  c.pop_before_smtp_ttl = pop_before_smtp_key ? r.Duration(section, "pop_before_smtp_ttl", seconds(1200),
                                                           milliseconds(0), std::chrono::hours(24))
                                              : milliseconds(0);
  return c;
}

namespace {
// Longer names (never a valid address) are not counted: the key would be refused.
constexpr std::size_t kMaxCountedName = 400;
bool Countable(std::string_view s) { return !s.empty() && s.size() <= kMaxCountedName; }
}  // namespace

std::chrono::milliseconds PenaltyDelay(int64_t failures, const LoginGuardConfig& cfg) {
  if (failures <= 0 || cfg.penalty_base.count() <= 0) return std::chrono::milliseconds(0);
  // base * 2^(n-1), without overflow: stop doubling once past the cap.
  auto d = cfg.penalty_base;
  for (int64_t i = 1; i < failures && d < cfg.penalty_max; ++i) d *= 2;
  return std::min(d, cfg.penalty_max);
}

LoginGuard::LoginGuard(std::shared_ptr<storage::Ephemeral> ephemeral, LoginGuardConfig cfg)
    : ephemeral_(std::move(ephemeral)), cfg_(cfg) {}

int64_t LoginGuard::RecentFailures(std::string_view ip, std::string_view user) {
  if (!ephemeral_) return 0;
  int64_t n = 0;
  if (Countable(ip)) {
    auto r = ephemeral_->Get(IpKey(ip));
    if (r) n = std::max(n, *r); else errors_.fetch_add(1, std::memory_order_relaxed);
  }
  if (Countable(user)) {
    auto r = ephemeral_->Get(UserKey(user));
    if (r) n = std::max(n, *r); else errors_.fetch_add(1, std::memory_order_relaxed);
  }
  return n;
}

void LoginGuard::RecordFailure(std::string_view ip, std::string_view user) {
  if (!ephemeral_) return;
  if (Countable(ip) && !ephemeral_->Increment(IpKey(ip), cfg_.window)) errors_.fetch_add(1, std::memory_order_relaxed);
  if (Countable(user) && !ephemeral_->Increment(UserKey(user), cfg_.window))
    errors_.fetch_add(1, std::memory_order_relaxed);
}

void LoginGuard::RecordSuccess(std::string_view user) {
  if (!ephemeral_ || !Countable(user)) return;
  if (!ephemeral_->Reset(UserKey(user))) errors_.fetch_add(1, std::memory_order_relaxed);
}

bool LoginGuard::RecordPopBeforeSmtp(std::string_view ip, std::string_view user) {
  if (!ephemeral_ || cfg_.pop_before_smtp_ttl.count() <= 0 || ip.empty() || user.empty()) return false;
  if (ephemeral_->RecordLogin(ip, user, cfg_.pop_before_smtp_ttl)) return true;
  errors_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace columba::auth
