// The load driver on an io_context with stand-in clients whose steps take a
// set time: who works when (closed model), which calls start or are dropped
// (open model), how late starts are, stop(), and a single pass.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sim/load_driver.hpp"

using namespace faultline::sim;
namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

class StandIn : public WorkClient {
 public:
  StandIn(asio::io_context& io, std::chrono::milliseconds latency) : io_(io), latency_(latency) {}
  bool can_work() const override { return up; }
  asio::awaitable<void> perform(const WorkloadStep& step) override {
    if (first_step == std::chrono::steady_clock::time_point{}) first_step = std::chrono::steady_clock::now();
    labels.push_back(step.label());
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    asio::steady_timer timer(io_, latency_);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    --in_flight;
  }
  bool up = true;
  std::vector<std::string> labels;
  int in_flight = 0, max_in_flight = 0;
  std::chrono::steady_clock::time_point first_step{};

 private:
  asio::io_context& io_;
  std::chrono::milliseconds latency_;
};

struct Run {
  asio::io_context io;
  std::vector<std::unique_ptr<StandIn>> clients;
  std::shared_ptr<LoadDriver> driver;
  Workload workload;
  std::chrono::milliseconds took{};

  Run(const char* workload_json, int n, std::chrono::milliseconds latency) {
    workload = parse_workload(json::parse(workload_json), "", 7);
    std::vector<WorkClient*> raw;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<StandIn>(io, latency));
      raw.push_back(clients.back().get());
    }
    driver = std::make_shared<LoadDriver>(io.get_executor(), workload, raw, 7);
  }
  void go(std::chrono::milliseconds stop_after = 0ms) {
    bool done = false;
    const auto t0 = std::chrono::steady_clock::now();
    asio::co_spawn(io, driver->run(), [&](std::exception_ptr e) {
      done = true;
      if (e) std::rethrow_exception(e);
    });
    asio::steady_timer stopper(io, stop_after);
    if (stop_after > 0ms) stopper.async_wait([this](auto) { driver->stop(); });
    io.run_for(20s);  // the guard against a hang
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    REQUIRE(done);
  }
};

}  // namespace

TEST_CASE("constant-vus: the first N clients work in a loop, the rest stay idle") {
  Run run(R"({"steps":[{"method":"ping"}],"load":{"executor":"constant-vus","vus":3,"duration":"400ms"}})", 5, 10ms);
  run.go();
  CHECK(run.took >= 400ms);
  CHECK(run.took < 1500ms);
  for (int i = 0; i < 3; ++i) {
    CHECK(run.clients[i]->labels.size() >= 10);  // about 40 each at 10 ms a step
    CHECK(run.clients[i]->labels.size() <= 41);
    CHECK(run.clients[i]->max_in_flight == 1);
  }
  CHECK(run.clients[3]->labels.empty());
  CHECK(run.clients[4]->labels.empty());
  CHECK(run.driver->stats().dropped == 0);
  CHECK(run.driver->stats().peak_busy == 3);
}

TEST_CASE("ramping-vus: clients join as the target rises") {
  Run run(R"({"steps":[{"method":"ping"}],"think":"5ms",
      "load":{"executor":"ramping-vus","startVUs":1,"stages":[{"duration":"600ms","target":4}]}})", 4, 5ms);
  run.go();
  // Client 1 works from the start; client 4 only once the target passes 3.5 (at 500 ms).
  REQUIRE(!run.clients[0]->labels.empty());
  REQUIRE(!run.clients[3]->labels.empty());
  const auto lag = run.clients[3]->first_step - run.clients[0]->first_step;
  CHECK(lag >= 400ms);
  CHECK(run.clients[0]->labels.size() > run.clients[3]->labels.size());
}

TEST_CASE("constant-arrival-rate with clients to spare: every call starts, on time") {
  Run run(R"({"steps":[{"method":"tools/call","tool":"echo","weight":3},{"method":"ping"}],
      "load":{"executor":"constant-arrival-rate","rate":200,"duration":"1s"}})", 20, 20ms);
  run.go();
  const auto& s = run.driver->stats();
  CHECK(s.started == 200);
  CHECK(s.dropped == 0);
  CHECK(s.lateness_us.size() == 200);
  CHECK(s.lateness_ms(0.5) < 20);  // loose: a shared machine
  // 200/s at 20 ms each keeps about 4 calls in flight.
  CHECK(s.peak_busy >= 3);
  CHECK(s.peak_busy <= 12);
  std::size_t echo = 0, total = 0;
  for (const auto& c : run.clients) {
    total += c->labels.size();
    echo += static_cast<std::size_t>(std::count(c->labels.begin(), c->labels.end(), "tools/call echo"));
  }
  CHECK(total == 200);
  CHECK(echo > 120);  // 3 in 4, about 150
  CHECK(echo < 180);
}

TEST_CASE("the open model drops what no free client can take, and skips clients that cannot work") {
  // 100 calls over 500 ms; 2 clients that take 100 ms a call serve at most about 10.
  Run run(R"({"steps":[{"method":"ping"}],"load":{"executor":"constant-arrival-rate","rate":200,"duration":"500ms"}})", 3,
          100ms);
  run.clients[2]->up = false;  // reconnecting: never chosen
  run.go();
  const auto& s = run.driver->stats();
  CHECK(s.started + s.dropped == 100);
  CHECK(s.started >= 6);
  CHECK(s.started <= 14);
  CHECK(run.clients[2]->labels.empty());
  CHECK(run.clients[0]->max_in_flight == 1);
  CHECK(run.clients[1]->max_in_flight == 1);
}

TEST_CASE("stop() ends a long run early; steps in flight finish") {
  Run run(R"({"steps":[{"method":"ping"}],"think":"1s","load":{"executor":"constant-vus","vus":2,"duration":"1h"}})", 2,
          50ms);
  run.go(200ms);
  CHECK(run.took < 2s);
  for (const auto& c : run.clients) {
    CHECK(c->labels.size() == 1);
    CHECK(c->in_flight == 0);
  }
}

TEST_CASE("without a duration each client does every step once, in order") {
  Run run(R"({"steps":[{"method":"tools/list"},{"method":"tools/call","tool":"add"},{"method":"ping"}]})", 3, 1ms);
  run.clients[1]->up = false;
  run.go();
  CHECK(run.clients[0]->labels == std::vector<std::string>{"tools/list", "tools/call add", "ping"});
  CHECK(run.clients[1]->labels.empty());
  CHECK(run.clients[2]->labels == run.clients[0]->labels);
  CHECK(run.driver->stats().started == 6);
}
