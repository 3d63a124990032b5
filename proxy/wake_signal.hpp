#pragma once
// Wake-ups for coroutines on one executor: wait() suspends until notify().
// Callers re-check their condition after waking, as with a condition
// variable; notify() with no waiter does nothing. WakeSignal has one waiter,
// Broadcast any number.

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace faultline {

class WakeSignal {
 public:
  explicit WakeSignal(const boost::asio::any_io_executor& ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  boost::asio::awaitable<void> wait() {
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
    waiting_ = true;
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    waiting_ = false;
  }
  // Cheap when nobody waits: cancelling an idle timer would still re-arm the
  // reactor's timerfd, a system call per notify on the data path.
  void notify() {
    if (waiting_) timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  bool waiting_ = false;
};

// A wake-up for any number of waiters on one executor: notify() wakes them all.
class Broadcast {
 public:
  explicit Broadcast(const boost::asio::any_io_executor& ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  boost::asio::awaitable<void> wait() {
    ++waiters_;
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    --waiters_;
  }
  void notify() {
    if (waiters_ > 0) timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  int waiters_ = 0;
};

}  // namespace faultline
