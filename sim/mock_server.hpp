#pragma once
// The mock MCP server's protocol side, whatever the transport: it answers
// initialize, ping, tools/list and tools/call, resources/list and /read,
// prompts/list and /get, as a real server does, and misbehaves when told to.
// A transport feeds it the messages one client sends (receive) and writes
// what it sends (the Send callback); one MockServer serves one session. The
// behaviour is shared and live: every session of a process reads the same
// object, which the control endpoint changes.
//
// Misbehaviours (MockBehaviour) are what outages are made of: a server slow
// to start, one that stops answering but keeps its pipes open, a log banner
// on stdout, replies later than the client waits, a crash on the n-th call
// (the crash_after tool).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/event_log.hpp"
#include "core/rng.hpp"
#include "mcp/frame.hpp"
#include "sim/mock_behaviour.hpp"

namespace faultline::sim {

namespace asio = boost::asio;

// The protocol versions the mock speaks, newest first.
inline constexpr const char* kMockProtocolVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

class MockServer : public std::enable_shared_from_this<MockServer> {
 public:
  // One message on its way to the client. `related` is the id of the request
  // it answers or belongs to (progress, a notification a tool sends), null
  // when none; `reply` marks the answer, which ends that request.
  struct Outgoing {
    const std::string& text;
    const nlohmann::json& related;
    bool reply = false;
  };
  // Writes one JSON-RPC message (or the banner, as text) to the client;
  // returns the SSE event id it went out under, "" when none.
  using Send = std::function<std::string(const Outgoing& message)>;
  // The crash_after tool's crash: the transport ends the process or the connection.
  using Crash = std::function<void()>;

  MockServer(asio::any_io_executor ex, std::shared_ptr<const MockBehaviour> behaviour, std::uint64_t seed, Send send,
             Crash crash);

  // Call once, before the first receive(): writes the banner and starts the
  // clock of slow_start (at `started`, the process's start, when given).
  void start(std::optional<std::chrono::steady_clock::time_point> started = std::nullopt, bool banner = true);
  void receive(const mcp::Frame& frame);
  // Writes server.request and server.notification events to `events` as `session`.
  void record_to(EventLog* events, std::string session);
  // Replaces the writer (a transport that is going away leaves a no-op).
  void set_send(Send send) { send_ = std::move(send); }

  std::uint64_t requests() const { return requests_; }

 private:
  asio::awaitable<void> handle(nlohmann::json message);
  asio::awaitable<void> call_tool(nlohmann::json id, nlohmann::json params);
  void answer(const nlohmann::json& id, nlohmann::json result);
  void fail(const nlohmann::json& id, int code, const std::string& message);
  void notify(const std::string& method, nlohmann::json params, const nlohmann::json& related);
  void cancel(const nlohmann::json& params);
  nlohmann::json tool_list() const;
  asio::awaitable<bool> sleep_for(std::chrono::milliseconds d, const std::string& request);

  asio::any_io_executor ex_;
  std::shared_ptr<const MockBehaviour> behaviour_;
  EventLog* events_ = nullptr;
  std::string session_;
  Rng rng_;
  Send send_;
  Crash crash_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t requests_ = 0;
  std::uint64_t tool_calls_ = 0;
  std::uint64_t crash_calls_ = 0;  // calls of crash_after so far
  int extra_tools_ = 0;  // added by the notify tool
  bool stalled_ = false;
  // Requests in progress that wait (sleep, progress, a late answer), by id, so
  // that notifications/cancelled can end them.
  std::map<std::string, std::shared_ptr<asio::steady_timer>> waiting_;
};

}  // namespace faultline::sim
