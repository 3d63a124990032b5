#include "sim/mock_server.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "sim/mock_tools.hpp"

namespace faultline::sim {

namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kResourceNotFound = -32002;

std::string negotiate(const nlohmann::json& params) {
  const auto asked = params.is_object() ? params.value("protocolVersion", std::string()) : std::string();
  for (const char* v : kMockProtocolVersions)
    if (asked == v) return asked;
  return kMockProtocolVersions[0];
}

}  // namespace

MockServer::MockServer(asio::any_io_executor ex, std::shared_ptr<const MockBehaviour> behaviour, std::uint64_t seed,
                       Send send, Crash crash)
    : ex_(std::move(ex)), behaviour_(std::move(behaviour)), rng_(seed), send_(std::move(send)), crash_(std::move(crash)) {}

void MockServer::start(std::optional<std::chrono::steady_clock::time_point> started, bool banner) {
  started_ = started ? *started : std::chrono::steady_clock::now();
  if (banner && !behaviour_->banner.empty()) {
    static const nlohmann::json none;
    send_(Outgoing{behaviour_->banner, none, false});
  }
}

void MockServer::record_to(EventLog* events, std::string session) {
  events_ = events;
  session_ = std::move(session);
}

void MockServer::receive(const mcp::Frame& frame) {
  if (!frame.valid()) {
    nlohmann::json id = nullptr;
    if (frame.parsed && frame.message.is_object() && frame.message.contains("id")) id = frame.message["id"];
    fail(id, frame.parsed ? kInvalidRequest : kParseError, frame.problem ? frame.problem->reason : "invalid message");
    return;
  }
  if (frame.kind == mcp::FrameKind::notification) {
    if (frame.method == "notifications/cancelled") cancel(frame.message.value("params", nlohmann::json::object()));
    return;  // notifications/initialized and the rest need nothing
  }
  if (frame.kind != mcp::FrameKind::request) return;  // a reply: the mock asks the client nothing
  ++requests_;
  if (events_)
    events_->emit("server:mock", "server.request",
                  {{"session", session_}, {"id", frame.message["id"]}, {"method", frame.method}});
  if (behaviour_->stall_after && requests_ > *behaviour_->stall_after && !stalled_) {
    stalled_ = true;
    spdlog::info("mock-server: stalled after {} requests (stall_after): the connection stays, no more answers",
                 *behaviour_->stall_after);
  }
  if (stalled_ || behaviour_->stall) return;
  asio::co_spawn(ex_, handle(frame.message), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("mock-server: {}", ex.what());
    }
  });
}

asio::awaitable<void> MockServer::handle(nlohmann::json message) {
  auto self = shared_from_this();
  const auto id = message["id"];
  const auto method = message.value("method", std::string());
  const auto params = message.value("params", nlohmann::json::object());
  const auto ready = started_ + behaviour_->slow_start;
  if (std::chrono::steady_clock::now() < ready) {
    asio::steady_timer timer(ex_, ready);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  try {
    if (method == "initialize") {
      answer(id, {{"protocolVersion", negotiate(params)},
                  {"capabilities",
                   {{"tools", {{"listChanged", true}}}, {"resources", nlohmann::json::object()},
                    {"prompts", nlohmann::json::object()}}},
                  {"serverInfo", {{"name", "faultline-mock"}, {"version", FAULTLINE_VERSION}}}});
    } else if (method == "ping") {
      answer(id, nlohmann::json::object());
    } else if (method == "tools/list") {
      answer(id, {{"tools", tool_list()}});
    } else if (method == "tools/call") {
      co_await call_tool(id, params);
    } else if (method == "resources/list") {
      answer(id, {{"resources", mock_resources()}});
    } else if (method == "resources/read") {
      const auto uri = params.value("uri", std::string());
      if (uri != mock_resources()[0]["uri"].get<std::string>()) {
        fail(id, kResourceNotFound, "Resource not found: " + uri);
      } else {
        answer(id, {{"contents", nlohmann::json::array({{{"uri", uri},
                                                         {"mimeType", "text/plain"},
                                                         {"text", "faultline's mock MCP server"}}})}});
      }
    } else if (method == "prompts/list") {
      answer(id, {{"prompts", mock_prompts()}});
    } else if (method == "prompts/get") {
      if (params.value("name", std::string()) != "greet") throw ArgumentError("unknown prompt");
      const auto who = string_argument(params.value("arguments", nlohmann::json::object()), "name");
      answer(id, {{"messages", nlohmann::json::array({{{"role", "user"},
                                                        {"content", {{"type", "text"}, {"text", "Hello, " + who}}}}})}});
    } else {
      fail(id, kMethodNotFound, "Method not found: " + method);
    }
  } catch (const ArgumentError& e) {
    fail(id, kInvalidParams, e.what());
  }
}

asio::awaitable<void> MockServer::call_tool(nlohmann::json id, nlohmann::json params) {
  const auto name = params.value("name", std::string());
  const auto arguments = params.value("arguments", nlohmann::json::object());
  const auto request = id.dump();
  ++tool_calls_;
  nlohmann::json result;
  if (name == "echo" || name.starts_with("extra_")) {
    const auto tools = tool_list();
    if (!std::any_of(tools.begin(), tools.end(), [&](const auto& t) { return t["name"] == name; }))
      throw ArgumentError("Unknown tool: " + name);
    result = text_result("Echo: " + string_argument(arguments, "message"));
  } else if (name == "add") {
    const double sum = number_argument(arguments, "a", -1e300, 1e300) + number_argument(arguments, "b", -1e300, 1e300);
    result = text_result(nlohmann::json(sum).dump());
  } else if (name == "sleep") {
    const auto ms = integer_argument(arguments, "ms", 0, 3'600'000);
    const bool slept = co_await sleep_for(std::chrono::milliseconds(ms), request);  // not in the if: GCC 12
    if (!slept) co_return;  // cancelled: no answer
    result = text_result("slept " + std::to_string(ms) + " ms");
  } else if (name == "flaky") {
    const double p = number_argument(arguments, "p", 0, 1);
    const bool failed = rng_.chance(p);
    result = text_result(failed ? "flaky: failed" : "flaky: ok", failed);
  } else if (name == "large") {
    result = text_result(std::string(static_cast<std::size_t>(integer_argument(arguments, "bytes", 0, 64 << 20)), 'x'));
  } else if (name == "crash_after") {
    const auto n = integer_argument(arguments, "n", 1, 1'000'000'000);
    if (++crash_calls_ >= static_cast<std::uint64_t>(n)) {
      spdlog::warn("mock-server: crash_after: call {} of {}, crashing", crash_calls_, n);
      crash_();
      co_return;
    }
    result = text_result("call " + std::to_string(crash_calls_) + " of " + std::to_string(n));
  } else if (name == "notify") {
    ++extra_tools_;
    notify("notifications/tools/list_changed", nlohmann::json::object(), id);
    result = text_result("added extra_" + std::to_string(extra_tools_));
  } else if (name == "progress") {
    const auto steps = integer_argument(arguments, "steps", 0, 10'000);
    const auto interval = integer_argument(arguments, "interval", 0, 60'000, 10);
    nlohmann::json token;
    if (auto meta = params.find("_meta"); meta != params.end() && meta->is_object() && meta->contains("progressToken"))
      token = (*meta)["progressToken"];
    for (std::int64_t step = 1; step <= steps; ++step) {
      const bool waited = co_await sleep_for(std::chrono::milliseconds(interval), request);
      if (!waited) co_return;
      if (!token.is_null())
        notify("notifications/progress", {{"progressToken", token}, {"progress", step}, {"total", steps}}, id);
    }
    result = text_result("done " + std::to_string(steps) + " steps");
  } else {
    throw ArgumentError("Unknown tool: " + name);
  }
  const auto late = behaviour_->answer_late;
  if (late.count() > 0) {
    const bool waited = co_await sleep_for(late, request);
    if (!waited) co_return;
  }
  answer(id, std::move(result));
}

asio::awaitable<bool> MockServer::sleep_for(std::chrono::milliseconds d, const std::string& request) {
  auto timer = std::make_shared<asio::steady_timer>(ex_, d);
  waiting_[request] = timer;
  auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  if (auto it = waiting_.find(request); it != waiting_.end() && it->second == timer) waiting_.erase(it);
  co_return !ec;
}

void MockServer::cancel(const nlohmann::json& params) {
  if (!params.is_object() || !params.contains("requestId")) return;
  if (auto it = waiting_.find(params["requestId"].dump()); it != waiting_.end()) {
    it->second->cancel();  // the request ends without an answer, as MCP asks
    waiting_.erase(it);
  }
}

nlohmann::json MockServer::tool_list() const { return mock_tool_definitions(extra_tools_); }

void MockServer::answer(const nlohmann::json& id, nlohmann::json result) {
  // A stall that began while the request was in progress holds its answer too.
  if (behaviour_->stall) return;
  const auto text = nlohmann::json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  send_(Outgoing{text, id, true});
}

void MockServer::fail(const nlohmann::json& id, int code, const std::string& message) {
  if (behaviour_->stall) return;
  const auto text = nlohmann::json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  send_(Outgoing{text, id, true});
}

void MockServer::notify(const std::string& method, nlohmann::json params, const nlohmann::json& related) {
  const bool dropped = behaviour_->drops(method);
  std::string event_id;
  if (!dropped) {
    const auto text = nlohmann::json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}}.dump();
    event_id = send_(Outgoing{text, related, false});
  }
  if (events_) {
    nlohmann::json fields = {{"session", session_}, {"method", method}, {"dropped", dropped}};
    if (!event_id.empty()) fields["event_id"] = event_id;
    events_->emit("server:mock", "server.notification", std::move(fields));
  }
}

}  // namespace faultline::sim
