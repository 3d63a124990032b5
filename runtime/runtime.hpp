#pragma once
// The owner of one run. Every command that runs something (`proxy`, `wrap`,
// `demo`, and the scenario runner to come) is a thin layer over a Runtime: it
// holds the event log and its recorder, the run seed, the worker threads, the
// links of every protocol (network links in the LinkRegistry, stdio links
// attached to the FaultApi), the admin API, and the drain on SIGINT/SIGTERM.
//
// Member order is destruction order in reverse, and it matters: the main
// context (whose pending accepts hold sockets of the workers' contexts) goes
// before the workers, the workers (whose sessions refer to env) before env,
// env before the event log and its recorder.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/event_log.hpp"
#include "proxy/proxy_env.hpp"
#include "proxy/worker_pool.hpp"
#include "reports/jsonl_recorder.hpp"
#include "runtime/fault_api.hpp"
#include "runtime/link_registry.hpp"

namespace faultline {

class AdminApi;

struct RuntimeOptions {
  std::string source = "proxy";  // the source of run.start and run.end
  std::optional<std::uint64_t> seed;  // unset: a random seed (logged in run.start)
  std::string events_path;            // "": the history is kept by sinks only
  JsonlRecorder::Mode events_mode = JsonlRecorder::Mode::create;
  unsigned threads = 0;  // worker threads for link sessions; 0 runs them on the main thread
  nlohmann::json start_fields = nlohmann::json::object();  // more fields for run.start
};

class Runtime {
 public:
  // Opens the events file and writes run.start. Throws ConfigError when the
  // file holds a history and the mode is `create`, StartupError when it cannot
  // be opened.
  explicit Runtime(RuntimeOptions options);
  // Writes run.end (if end() was not called) and lets everything go in order.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  EventLog& events() { return events_; }
  std::uint64_t seed() const { return seed_; }
  const std::string& source() const { return options_.source; }
  JsonlRecorder* recorder() { return recorder_.get(); }
  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  ProxyEnv& env() { return env_; }

  LinkRegistry& links() { return links_; }
  FaultApi& faults() { return faults_; }

  // Serves the admin API on HOST:PORT (port 0 picks one). Throws ConfigError
  // for a bad address, StartupError when it cannot be bound.
  AdminApi& serve_api(const std::string& address, const std::string& token);
  AdminApi* api() { return api_.get(); }

  // On SIGINT or SIGTERM: stop accepting, let every session deliver what it
  // holds for at most `grace`, then stop; a second signal closes everything at
  // once. The reason logged is the signal's name.
  void drain_on_signals(std::chrono::milliseconds grace);
  // Calls `handler(signo)` for each of SIGINT, SIGTERM and SIGHUP, until stop().
  void forward_signals(std::function<void(int)> handler);
  // Starts the drain after `after`, as a signal would.
  void stop_after(std::chrono::steady_clock::duration after, std::chrono::milliseconds grace, std::string reason);
  // Starts the drain now (idempotent).
  void drain(std::chrono::milliseconds grace, const std::string& reason);
  // Stops the main loop: run() returns.
  void stop();

  // Runs the main loop until stop() (or a drain ends); then lets the worker
  // threads finish and delivers what their sessions posted back.
  void run();
  // Writes run.end with `fields` (and the seed); only the first call writes.
  void end(nlohmann::json fields = nlohmann::json::object());

 private:
  void wait_signal();
  void stop_when_drained(std::chrono::steady_clock::time_point until);

  RuntimeOptions options_;
  EventLog events_;
  std::unique_ptr<JsonlRecorder> recorder_;
  std::uint64_t seed_ = 0;
  ProxyEnv env_;
  WorkerPool workers_;
  boost::asio::io_context io_;
  LinkRegistry links_;
  FaultApi faults_;
  std::unique_ptr<AdminApi> api_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer poll_;
  boost::asio::steady_timer deadline_;
  std::function<void(int)> on_signal_;
  bool draining_ = false;
  bool ended_ = false;
};

// A seed for a run that was given none.
std::uint64_t random_seed();

}  // namespace faultline
