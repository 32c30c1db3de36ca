// blocking_pool.h - runs blocking calls (libpqxx, libldap, hiredis, fsync, crypt)
// off the event loop, on a bounded pool of worker threads.
//
// `co_await pool.Run(fn)` hops to a worker, runs fn, and resumes the coroutine on
// its own executor with fn's result. When more than `max_queue` calls are already
// waiting, Run returns kUnavailable at once instead of queueing without bound: the
// protocol then answers "try again later" (4xx) rather than piling up memory.
// Never call Run from a worker thread of the same pool (it would deadlock under load).
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <asio.hpp>

#include "lib/base/result.h"

namespace columba::net {

class BlockingPool {
 public:
  BlockingPool(size_t threads, size_t max_queue) : pool_(threads), max_queue_(max_queue) {}
  ~BlockingPool() { pool_.join(); }

  // fn returns Result<T>; the awaitable yields Result<T>.
  template <class F>
  auto Run(F fn) -> asio::awaitable<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    if (pending_.fetch_add(1) >= max_queue_) {
      pending_.fetch_sub(1);
      co_return R(Fail(ErrorKind::kUnavailable, "worker pool queue full"));
    }
    auto home = co_await asio::this_coro::executor;
    co_await asio::post(pool_.get_executor(), asio::use_awaitable);
    R result = fn();
    pending_.fetch_sub(1);
    co_await asio::post(home, asio::use_awaitable);
    co_return result;
  }

  size_t pending() const { return pending_.load(); }
  void Stop() { pool_.join(); }

 private:
  asio::thread_pool pool_;
  std::atomic<size_t> pending_{0};
  size_t max_queue_;
};

}  // namespace columba::net
