#pragma once
// Many simulated clients on one executor: each starts (connect, initialize,
// list tools), runs its work, and closes. The work is the seam where a
// workload plugs in: a function run once per client after it started, which
// uses McpClient::request()/call_tool() and says whether its pass succeeded.
// Without one, each client makes one pass (call every tool once with
// arguments generated from its schema), repeated until the duration ends
// when there is one.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/event_log.hpp"
#include "sim/client/mcp_client.hpp"

namespace faultline::sim {

class Simulation;

// A client's work, once it has started; true when its pass succeeded. It
// should return soon after `sim.stopping()` turns true.
using ClientWork = std::function<asio::awaitable<bool>(std::shared_ptr<McpClient> client, Simulation& sim)>;

struct SimulationOptions {
  Target target;
  ClientPolicy policy;
  int clients = 1;
  std::optional<std::chrono::milliseconds> duration;  // unset: one pass each
  std::chrono::milliseconds stop_grace{5000};         // after the duration, for calls in flight
  // At most this many clients connect and initialize at once, so that a
  // thousand clients do not all knock in the same millisecond.
  int start_concurrency = 256;
  std::uint64_t seed = 0;
  EventLog* events = nullptr;
  ClientWork work;  // empty: the one pass
  // The one pass calls these tools in this order (arguments null: made up
  // from the tool's schema) instead of every listed tool once.
  std::vector<std::pair<std::string, nlohmann::json>> tools;
};

struct SimulationSummary {
  int clients = 0;
  int started = 0;         // got through initialize and the first tools/list
  int passed = 0;          // passes that succeeded (every request answered ok, no give-up)
  int startup_errors = 0;  // could not reach the target at all
  std::string startup_error;  // the first one, for the one-line message
  int start_failures = 0;     // reached the target, but the session could not be set up
  std::string start_failure;  // the first reason
  std::uint64_t ok = 0, fail = 0, timeout = 0, lost = 0, reconnects = 0, gave_up = 0;
  std::uint64_t tool_errors = 0;  // calls answered with isError: true (ok as RPC)

  // 0 every pass succeeded, 1 some request failed or a client gave up, 2 a start-up error.
  int exit_code() const;
  std::string text() const;  // the one-paragraph summary for stderr
};

class Simulation : public std::enable_shared_from_this<Simulation> {
 public:
  Simulation(asio::any_io_executor ex, SimulationOptions options);

  // Runs every client to its end; the summary when all are done.
  asio::awaitable<SimulationSummary> run();
  // Ends the run early (SIGINT): the work stops, then the clients close.
  void stop();
  bool stopping() const { return stopping_; }
  // Returns once every client has started or failed to (or the run stops).
  asio::awaitable<void> all_started();
  const SimulationSummary& summary() const { return summary_; }

  // The default work: every tool called once (repeated until stop with a duration).
  static asio::awaitable<bool> one_pass(std::shared_ptr<McpClient> client, Simulation& sim);

 private:
  asio::awaitable<void> run_client(int index);
  asio::awaitable<void> watch_duration();

  asio::any_io_executor ex_;
  SimulationOptions options_;
  SimulationSummary summary_;
  std::vector<std::shared_ptr<McpClient>> live_;  // started clients not yet closed (for the force-close)
  asio::steady_timer done_;
  asio::steady_timer deadline_;
  int running_ = 0;
  int starting_ = 0;  // clients whose start() has not returned yet
  int start_slots_ = 0;  // start_concurrency left
  // Clients waiting for a start slot, first come first served; each is woken by cancelling its timer.
  std::deque<std::shared_ptr<asio::steady_timer>> start_queue_;
  bool stopping_ = false;
};

}  // namespace faultline::sim
