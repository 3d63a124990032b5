#pragma once
// Runs a workload on a set of connected clients, as its load pattern says:
//   closed model (constant-vus, ramping-vus, or a plain `duration`): the first
//     N clients work, N following the pattern over time; each does a step,
//     thinks, and does the next;
//   open model (the arrival-rate executors): each call starts at its scheduled
//     time on a free client; when every client is busy the call is dropped and
//     counted, as k6 counts dropped iterations. How late each start was is
//     measured, so a report can say whether the simulator kept its schedule.
// What a step does (which request, which arguments, which events) is the
// client's business: the driver only sees WorkClient. The driver and its
// clients run on one single-threaded executor.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/rng.hpp"
#include "sim/workload.hpp"

namespace faultline::sim {

namespace asio = boost::asio;

class WorkClient {
 public:
  virtual ~WorkClient() = default;
  // Connected, initialized and able to take a step now.
  virtual bool can_work() const = 0;
  // Does one step; returns when it completed, failed or was given up on.
  virtual asio::awaitable<void> perform(const WorkloadStep& step) = 0;
};

struct LoadStats {
  std::uint64_t started = 0;    // steps begun
  std::uint64_t dropped = 0;    // open model: calls due while no client was free
  std::uint64_t peak_busy = 0;  // the most steps in flight at once
  // Open model: how late each start was against its schedule, in microseconds (sorted once finished).
  std::vector<std::uint32_t> lateness_us;

  // The q-quantile (0..1) of the lateness in milliseconds; 0 with no samples.
  double lateness_ms(double q) const;
  nlohmann::json to_json() const;
};

class LoadDriver : public std::enable_shared_from_this<LoadDriver> {
 public:
  // `clients` stay owned by the caller and outlive run(). `seed` draws the
  // steps and think times (one Rng per client, derived from it).
  LoadDriver(asio::any_io_executor ex, const Workload& workload, std::vector<WorkClient*> clients, std::uint64_t seed);

  // Runs the workload to its end (its load pattern's duration or `duration`)
  // and until the steps in flight have finished. A workload with neither
  // runs once: every client does each step once, in order.
  asio::awaitable<void> run();
  // Ends the run early (a signal): no new step starts.
  void stop();

  const LoadStats& stats() const { return stats_; }
  std::uint64_t busy() const { return busy_; }

 private:
  asio::awaitable<void> run_closed(std::chrono::steady_clock::time_point end);
  asio::awaitable<void> client_loop(std::size_t index, std::chrono::steady_clock::time_point end);
  asio::awaitable<void> run_open(std::chrono::steady_clock::time_point end);
  asio::awaitable<void> one_step(std::size_t index);
  asio::awaitable<void> run_once(std::size_t index);
  asio::awaitable<void> wait_idle();
  // Sleeps until `until` or stop(), whichever comes first.
  asio::awaitable<void> sleep_until(std::chrono::steady_clock::time_point until);
  // Clients working at `now` (closed model).
  std::uint64_t working_at(std::chrono::steady_clock::time_point now) const;

  asio::any_io_executor ex_;
  const Workload& workload_;
  std::vector<WorkClient*> clients_;
  std::vector<Rng> rngs_;
  std::deque<std::size_t> free_;  // open model: clients not running a step, longest idle first
  std::uint64_t busy_ = 0;
  std::chrono::steady_clock::time_point start_;
  bool stopping_ = false;
  LoadStats stats_;
  std::set<asio::steady_timer*> sleepers_;  // cancelled by stop()
};

}  // namespace faultline::sim
