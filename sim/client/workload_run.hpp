#pragma once
// A workload (sim/workload.hpp) run by the clients of a Simulation: each
// client, once started, takes a slot of one LoadDriver; the driver begins when
// every client has started (or failed to), so connecting a thousand clients
// is not counted against the load pattern, and ends the run when the pattern
// ends. A step becomes a request of the client: tools/call (a named tool or
// any listed one, with the given arguments or ones made up from its schema),
// tools/list, resources/read (a given URI or the first listed resource), ping.

#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sim/client/simulator.hpp"
#include "sim/load_driver.hpp"
#include "sim/workload.hpp"

namespace faultline::sim {

class WorkloadRun : public std::enable_shared_from_this<WorkloadRun> {
 public:
  WorkloadRun(asio::any_io_executor ex, Workload workload, int clients, std::uint64_t seed);
  ~WorkloadRun();

  // The Simulation's work (SimulationOptions::work): hands the client to the
  // driver and returns when the workload has ended.
  ClientWork work();

  const LoadStats& stats() const { return driver_->stats(); }
  std::uint64_t tool_errors() const { return tool_errors_; }

 private:
  class Slot;
  asio::awaitable<bool> client_work(std::shared_ptr<McpClient> client, Simulation& sim);
  asio::awaitable<void> drive(Simulation& sim);

  asio::any_io_executor ex_;
  Workload workload_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::shared_ptr<LoadDriver> driver_;
  asio::steady_timer done_;  // every client waits on it; cancelled when the workload has ended
  bool driving_ = false;
  bool finished_ = false;
  std::uint64_t tool_errors_ = 0;
};

}  // namespace faultline::sim
