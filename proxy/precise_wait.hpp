#pragma once
// Waiting until a deadline more precisely than a timer alone. On a shared or
// virtual machine a timer's wake-up comes 50 to 200 µs late, which is most of
// the error budget of a 10 ms latency fault. So the timer is set early by the
// lateness this thread has been seeing lately, and the last stretch is spent
// yielding the CPU until the deadline. The spin is bounded (kMaxEarly per
// wait) and only happens when a fault delays data on purpose.

#include <algorithm>
#include <chrono>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/clock.hpp"

namespace faultline {

// Waits on `timer` (cancellable as usual) until `deadline`. Returns the
// timer's error: operation_aborted when cancelled.
inline boost::asio::awaitable<boost::system::error_code> precise_wait(boost::asio::steady_timer& timer,
                                                                     Clock::time_point deadline) {
  using namespace std::chrono_literals;
  constexpr Clock::duration kMaxEarly = 300us;
  thread_local Clock::duration lateness = 60us;  // a moving average of how late this thread's timers fire

  const auto now = Clock::now();
  const auto early = std::min(lateness, kMaxEarly);
  const bool spin = deadline - now > early;
  const auto wake_at = spin ? deadline - early : deadline;
  timer.expires_at(wake_at);
  auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec) co_return ec;
  const auto woke = Clock::now();
  if (spin) {
    lateness = (lateness * 7 + std::clamp<Clock::duration>(woke - wake_at, 0us, kMaxEarly)) / 8;
    while (Clock::now() < deadline) std::this_thread::yield();
  }
  co_return ec;
}

}  // namespace faultline
