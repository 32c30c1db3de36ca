// watch_hub.h - fans PostgreSQL NOTIFY change notices out to Watch streams.
//
// One thread per metad holds a dedicated connection that LISTENs on
// `columba_changes`; every committed change by any metad replica arrives here
// and is handed to the Watch streams subscribed to that account. If the LISTEN
// connection is (re)established, notices may have been missed, so every stream
// then gets a "resync" change (mailbox_id 0, mailbox_list_changed) and clients
// re-read their state with Changes. It never blocks on a slow stream: streams
// coalesce queued changes per mailbox.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <prometheus/counter.h>

#include "storage/postgres/pg_store.h"

namespace columba::metad {

class WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual void Push(const pg::ChangeNotice& n) = 0;
  // Ends the stream (drain): the client sees UNAVAILABLE and reconnects elsewhere.
  virtual void Close() = 0;
};

class WatchHub {
 public:
  // notices: incremented for every change notice received (may be null).
  WatchHub(std::string pg_uri, prometheus::Counter* notices);
  ~WatchHub();
  void Start();
  void Stop();

  void Subscribe(uint64_t account_id, WatchSink* sink);
  void Unsubscribe(uint64_t account_id, WatchSink* sink);
  // Closes every stream (drain).
  void CloseAll();
  bool listening() const { return listening_.load(); }
  size_t subscribers() const;
  uint64_t notices() const { return notices_.load(); }

  // Delivers a notice to subscribers (called by the LISTEN thread; public for tests).
  void Dispatch(const pg::ChangeNotice& n);

 private:
  void Loop();
  std::string uri_;
  mutable std::mutex mu_;
  std::multimap<uint64_t, WatchSink*> sinks_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  std::atomic<uint64_t> notices_{0};
  prometheus::Counter* notice_counter_;
  std::thread thread_;
};

}  // namespace columba::metad
