#pragma once
// What every link of one proxy run shares: the event log, the run seed, and
// where sessions run.

#include <atomic>
#include <cstdint>
#include <functional>

#include <boost/asio/any_io_executor.hpp>

#include "core/event_log.hpp"

namespace faultline {

struct ProxyEnv {
  EventLog& events;
  std::uint64_t seed = 0;
  std::size_t max_queued_bytes = 8u << 20;  // per direction, before reading pauses
  // The executor for the next session (a worker thread's, round robin). Empty:
  // sessions run on the link's own executor.
  std::function<boost::asio::any_io_executor()> session_executor;
  // Sessions accepted and not yet closed, on every link, deleted ones included:
  // a shutdown waits for this to reach 0 before it stops the worker threads.
  std::atomic<std::int64_t> sessions_alive{0};
};

}  // namespace faultline
