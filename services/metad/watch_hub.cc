// watch_hub.cc - the LISTEN thread and subscriber fan-out.
#include "services/metad/watch_hub.h"

#include <pqxx/pqxx>

#include <chrono>

#include "lib/base/log.h"

namespace columba::metad {

namespace {
class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, WatchHub& hub) : pqxx::notification_receiver(c, pg::kChangeChannel), hub_(hub) {}
  void operator()(const std::string& payload, int) override {
    pg::ChangeNotice n;
    if (pg::ParseNotice(payload, n)) hub_.Dispatch(n);
  }

 private:
  WatchHub& hub_;
};
}  // namespace

WatchHub::WatchHub(std::string pg_uri, prometheus::Counter* notices)
    : uri_(std::move(pg_uri)), notice_counter_(notices) {}
WatchHub::~WatchHub() { Stop(); }

void WatchHub::Start() { thread_ = std::thread([this] { Loop(); }); }

void WatchHub::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void WatchHub::Subscribe(uint64_t account_id, WatchSink* sink) {
  std::lock_guard lk(mu_);
  sinks_.emplace(account_id, sink);
}

void WatchHub::Unsubscribe(uint64_t account_id, WatchSink* sink) {
  std::lock_guard lk(mu_);
  auto [a, b] = sinks_.equal_range(account_id);
  for (auto it = a; it != b; ++it)
    if (it->second == sink) {
      sinks_.erase(it);
      return;
    }
}

void WatchHub::CloseAll() {
  std::lock_guard lk(mu_);
  for (auto& [account, sink] : sinks_) sink->Close();
}

size_t WatchHub::subscribers() const {
  std::lock_guard lk(mu_);
  return sinks_.size();
}

void WatchHub::Dispatch(const pg::ChangeNotice& n) {
  ++notices_;
  if (notice_counter_) notice_counter_->Increment();
  std::lock_guard lk(mu_);
  auto [a, b] = sinks_.equal_range(n.account_id);
  for (auto it = a; it != b; ++it) it->second->Push(n);
}

void WatchHub::Loop() {
  while (!stop_) {
    try {
      pqxx::connection conn(uri_);
      Receiver receiver(conn, *this);
      conn.get_notifs();
      listening_ = true;
      {
        // Notices may have been missed before this LISTEN: tell every stream to resync.
        std::lock_guard lk(mu_);
        for (auto& [account, sink] : sinks_) sink->Push(pg::ChangeNotice{account, 0, 0, 0, true});
      }
      while (!stop_) conn.await_notification(0, 200'000);
    } catch (const std::exception& e) {
      if (listening_.exchange(false)) log::Warn("watch: LISTEN connection lost", {{"error", e.what()}});
      for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  listening_ = false;
}

}  // namespace columba::metad
