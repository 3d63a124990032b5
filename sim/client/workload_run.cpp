#include "sim/client/workload_run.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sim/client/schema_args.hpp"

namespace faultline::sim {

namespace {
constexpr auto kStopPoll = std::chrono::milliseconds(50);
}  // namespace

// One client as the driver sees it: empty until the client has started.
class WorkloadRun::Slot : public WorkClient {
 public:
  explicit Slot(WorkloadRun& run) : run_(run) {}
  std::shared_ptr<McpClient> client;

  bool can_work() const override { return client && client->ready(); }

  asio::awaitable<void> perform(const WorkloadStep& step) override {
    auto c = client;  // the client stays alive for the step, whatever happens to the slot
    switch (step.kind) {
      case StepKind::call_tool: {
        std::string name = step.tool;
        nlohmann::json schema = nlohmann::json::object();
        const auto& tools = c->tools();
        if (name.empty() && !tools.empty())
          name = tools[static_cast<std::size_t>(c->rng().integer(0, static_cast<std::int64_t>(tools.size()) - 1))]
                     .value("name", "");
        for (const auto& tool : tools)
          if (tool.value("name", "") == name) schema = tool.value("inputSchema", nlohmann::json::object());
        if (name.empty()) {  // the server lists no tool: ask again, that is a step too
          co_await c->list_tools();
          break;
        }
        auto arguments = step.arguments ? *step.arguments : generate_arguments(schema, c->rng());
        const auto outcome = co_await c->call_tool(std::move(name), std::move(arguments));
        if (outcome.ok() && outcome.result.is_object() && outcome.result.value("isError", nlohmann::json()) == true)
          ++run_.tool_errors_;
        break;
      }
      case StepKind::list_tools:
        co_await c->list_tools();
        break;
      case StepKind::read_resource: {
        std::string uri = step.uri;
        if (uri.empty()) {
          if (first_resource_.empty()) {
            std::string method = "resources/list";  // named first: GCC 12 fumbles a literal argument of a co_await
            auto params = nlohmann::json::object();
            const auto listed = co_await c->request(std::move(method), std::move(params));
            // What a failed call or an odd server leaves in result is not trusted to be an object.
            if (listed.ok() && listed.result.is_object()) {
              const auto resources = listed.result.value("resources", nlohmann::json::array());
              if (resources.is_array() && !resources.empty() && resources[0].is_object() &&
                  resources[0].value("uri", nlohmann::json()).is_string())
                first_resource_ = resources[0]["uri"].get<std::string>();
            }
          }
          uri = first_resource_;
        }
        if (!uri.empty()) {
          std::string method = "resources/read";
          nlohmann::json params = {{"uri", uri}};
          co_await c->request(std::move(method), std::move(params));
        }
        break;
      }
      case StepKind::ping: {
        std::string method = "ping";
        auto params = nlohmann::json::object();
        co_await c->request(std::move(method), std::move(params));
        break;
      }
    }
  }

 private:
  WorkloadRun& run_;
  std::string first_resource_;  // the first resource the server listed, for steps without a URI
};

WorkloadRun::WorkloadRun(asio::any_io_executor ex, Workload workload, int clients, std::uint64_t seed)
    : ex_(std::move(ex)), workload_(std::move(workload)), done_(ex_, asio::steady_timer::time_point::max()) {
  std::vector<WorkClient*> raw;
  for (int i = 0; i < clients; ++i) {
    slots_.push_back(std::make_unique<Slot>(*this));
    raw.push_back(slots_.back().get());
  }
  driver_ = std::make_shared<LoadDriver>(ex_, workload_, std::move(raw), seed);
}

WorkloadRun::~WorkloadRun() = default;

ClientWork WorkloadRun::work() {
  auto self = shared_from_this();
  return [self](std::shared_ptr<McpClient> client, Simulation& sim) { return self->client_work(std::move(client), sim); };
}

asio::awaitable<void> WorkloadRun::drive(Simulation& sim) {
  auto self = shared_from_this();
  co_await sim.all_started();
  if (!sim.stopping()) {
    // The simulation's own stop (a signal, --duration) ends the driver too.
    asio::co_spawn(ex_, [self, &sim]() -> asio::awaitable<void> {
      while (!self->finished_) {
        if (sim.stopping()) self->driver_->stop();
        asio::steady_timer poll(self->ex_, kStopPoll);
        co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }, asio::detached);
    co_await driver_->run();
  }
  finished_ = true;
  done_.cancel();
}

asio::awaitable<bool> WorkloadRun::client_work(std::shared_ptr<McpClient> client, Simulation& sim) {
  auto self = shared_from_this();
  slots_[static_cast<std::size_t>(client->index() - 1)]->client = client;
  if (!driving_) {
    driving_ = true;
    asio::co_spawn(ex_, drive(sim), asio::detached);
  }
  while (!finished_) {
    auto [ec] = co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  slots_[static_cast<std::size_t>(client->index() - 1)]->client.reset();
  co_return true;
}

}  // namespace faultline::sim
