#include "sim/client/simulator.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/fmt/fmt.h>

#include "core/errors.hpp"
#include "sim/client/schema_args.hpp"

namespace faultline::sim {

int SimulationSummary::exit_code() const {
  if (startup_errors > 0) return kExitStartup;
  return passed == clients ? kExitOk : kExitRuntime;
}

std::string SimulationSummary::text() const {
  return fmt::format(
      "simulate: {} client(s), {} started, {} passed; calls ok {}, fail {}, timeout {}, lost {} (tool errors {}); "
      "reconnects {}, gave up {}",
      clients, started, passed, ok, fail, timeout, lost, tool_errors, reconnects, gave_up);
}

Simulation::Simulation(asio::any_io_executor ex, SimulationOptions options)
    : ex_(ex), options_(std::move(options)), done_(ex), deadline_(ex) {
  summary_.clients = options_.clients;
}

void Simulation::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& turn : start_queue_) turn->cancel();  // they see stopping_ and do not start
  start_queue_.clear();
  // Work that does not return within the grace is cut short: its clients close.
  deadline_.expires_after(options_.stop_grace);
  auto self = shared_from_this();
  deadline_.async_wait([self](boost::system::error_code ec) {
    if (ec) return;
    for (const auto& c : self->live_) asio::co_spawn(self->ex_, c->close(), asio::detached);
  });
}

asio::awaitable<void> Simulation::watch_duration() {
  auto self = shared_from_this();
  asio::steady_timer timer(ex_, *options_.duration);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  stop();
}

asio::awaitable<SimulationSummary> Simulation::run() {
  auto self = shared_from_this();
  running_ = starting_ = options_.clients;
  start_slots_ = std::max(1, options_.start_concurrency);
  done_.expires_at(asio::steady_timer::time_point::max());
  for (int i = 1; i <= options_.clients; ++i) asio::co_spawn(ex_, run_client(i), asio::detached);
  if (options_.duration) asio::co_spawn(ex_, watch_duration(), asio::detached);
  while (running_ > 0) {
    auto [ec] = co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  deadline_.cancel();
  stopping_ = true;
  co_return summary_;
}

asio::awaitable<void> Simulation::all_started() {
  auto self = shared_from_this();
  while (starting_ > 0 && !stopping_) {
    asio::steady_timer poll(ex_, std::chrono::milliseconds(20));
    auto [ec] = co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
}

asio::awaitable<void> Simulation::run_client(int index) {
  auto self = shared_from_this();
  ClientOptions co;
  co.index = index;
  co.target = options_.target;
  co.policy = options_.policy;
  co.seed = options_.seed;
  co.events = options_.events;
  auto client = std::make_shared<McpClient>(ex_, std::move(co));
  bool passed = false;
  bool started = false;
  if (start_slots_ == 0 && !stopping_) {
    auto turn = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
    start_queue_.push_back(turn);
    auto [ec] = co_await turn->async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // woken by the client before it, its slot handed over, or by stop()
  } else {
    --start_slots_;
  }
  if (!stopping_) {
    try {
      started = co_await client->start();
    } catch (const std::exception& e) {
      if (summary_.startup_errors++ == 0) summary_.startup_error = e.what();
    }
  }
  --starting_;
  if (stopping_) {
    // No one starts any more; stop() has woken every waiter.
  } else if (start_queue_.empty()) {
    ++start_slots_;
  } else {  // the slot goes straight to the longest waiting client
    start_queue_.front()->cancel();
    start_queue_.pop_front();
  }
  if (!started && !client->start_error().empty() && summary_.start_failures++ == 0)
    summary_.start_failure = "client:" + std::to_string(index) + ": " + client->start_error();
  if (started) {
    ++summary_.started;
    live_.push_back(client);
    if (options_.work) {
      passed = co_await options_.work(client, *this);
    } else {
      passed = co_await one_pass(client, *this);
    }
  }
  co_await client->close();
  live_.erase(std::remove(live_.begin(), live_.end(), client), live_.end());
  const auto& s = client->stats();
  summary_.ok += s.ok;
  summary_.fail += s.fail;
  summary_.timeout += s.timeout;
  summary_.lost += s.lost;
  summary_.reconnects += s.reconnects;
  if (s.gave_up) ++summary_.gave_up;
  // A pass succeeds when every request of the client came back ok (pings and re-lists included).
  if (passed && s.fail == 0 && s.timeout == 0 && s.lost == 0 && !s.gave_up) ++summary_.passed;
  if (--running_ == 0) done_.cancel();
}

asio::awaitable<bool> Simulation::one_pass(std::shared_ptr<McpClient> client, Simulation& sim) {
  bool ok = true;
  for (;;) {
    // A copy: a re-list may replace the client's list meanwhile.
    std::vector<std::pair<std::string, nlohmann::json>> calls = sim.options_.tools;
    if (calls.empty())
      for (const auto& tool : client->tools()) calls.emplace_back(tool.value("name", ""), nullptr);
    for (const auto& [name, given] : calls) {
      if (sim.stopping() || client->gave_up()) break;
      nlohmann::json schema = nlohmann::json::object();
      for (const auto& tool : client->tools())
        if (tool.value("name", "") == name) schema = tool.value("inputSchema", nlohmann::json::object());
      nlohmann::json arguments = given.is_null() ? generate_arguments(schema, client->rng()) : given;
      std::string tool_name = name;
      const auto outcome = co_await client->call_tool(std::move(tool_name), std::move(arguments));
      if (!outcome.ok()) ok = false;
      else if (outcome.result.is_object() && outcome.result.value("isError", nlohmann::json()) == true)
        ++sim.summary_.tool_errors;
    }
    if (!sim.options_.duration || sim.stopping() || client->gave_up()) break;
    // Between passes: a breath, so a server with no tools is not asked in a tight loop.
    asio::steady_timer pause(client->executor(), std::chrono::milliseconds(1000));
    auto [ec] = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  co_return ok;
}

}  // namespace faultline::sim
