#pragma once
// What an accept loop (a link's listener, the admin API) does when accept
// fails. Out of descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
// the listener stays readable, so retrying at once would spin: the loop waits,
// longer each time up to a quarter of a second, until accepting works again.
// Any other error (a connection aborted before it was accepted) is retried
// after a short pause. Each episode is logged twice, whatever its length: when
// the first accept fails, and when one works again.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <spdlog/spdlog.h>

namespace faultline {

// Whether an accept (or socket) error means the process or the system ran out
// of descriptors or memory: it lasts until something is closed or freed.
inline bool is_resource_exhaustion(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category() && ec.category() != boost::system::generic_category())
    return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirstPause{20};
  static constexpr std::chrono::milliseconds kLongestPause{250};
  static constexpr std::chrono::milliseconds kOtherErrorPause{5};

  // `who` starts the log lines: "admin API", a link's name.
  explicit AcceptBackoff(std::string who) : who_(std::move(who)) {}

  // After a failed accept: how long to wait before the next one.
  std::chrono::milliseconds failed(const boost::system::error_code& ec) {
    if (failures_++ == 0) {
      since_ = std::chrono::steady_clock::now();
      spdlog::warn("{}: accept: {}; {} (logged again when accepting works)", who_, ec.message(),
                   is_resource_exhaustion(ec) ? "pausing accepts until descriptors are freed" : "retrying");
    }
    if (!is_resource_exhaustion(ec)) return kOtherErrorPause;
    pause_ = pause_.count() == 0 ? kFirstPause : std::min(pause_ * 2, kLongestPause);
    return pause_;
  }

  // After an accept that worked: ends the episode, if one was under way.
  void accepted() {
    if (failures_ == 0) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
    spdlog::info("{}: accepting again ({} accepts failed over {:.1f} s)", who_, failures_, seconds);
    failures_ = 0;
    pause_ = std::chrono::milliseconds(0);
  }

  bool failing() const { return failures_ > 0; }

  // The pause itself, for a coroutine accept loop: `co_await backoff.wait(ex, ec)`.
  template <class Executor>
  boost::asio::awaitable<void> wait(Executor ex, boost::system::error_code ec) {
    const auto delay = failed(ec);
    boost::asio::steady_timer timer(ex, delay);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

 private:
  std::string who_;
  std::uint64_t failures_ = 0;
  std::chrono::milliseconds pause_{0};
  std::chrono::steady_clock::time_point since_;
};

}  // namespace faultline
