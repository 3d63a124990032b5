#pragma once
// One simulated MCP client: a real client on one transport, under a policy.
// It initializes (offering 2025-06-18, accepting 2025-03-26 and 2024-11-05),
// sends notifications/initialized, lists the tools (following nextCursor),
// then does what its work asks through request(). What happens is written to
// the event log as the client's history (source "client:N"): every request is
// rpc.invoke followed by exactly one of rpc.ok, rpc.fail, rpc.timeout,
// rpc.lost; plus the connection's and the session's life.
//
// Everything runs on one executor (no locks); keep the client in a
// shared_ptr: its coroutines hold it alive.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/event_log.hpp"
#include "core/rng.hpp"
#include "sim/client/policy.hpp"
#include "sim/client/transport.hpp"

namespace faultline::sim {

// The protocol versions the client accepts, the one it offers first.
inline constexpr const char* kClientProtocolVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

// How one request ended.
struct CallOutcome {
  enum class Kind : std::uint8_t { ok, fail, timeout, lost } kind = Kind::lost;
  nlohmann::json result;  // ok: the result
  int code = 0;           // fail: the JSON-RPC error code (or the HTTP status)
  std::string message;    // fail: the error's message; lost: why
  double ms = 0;          // from rpc.invoke to the outcome
  bool ok() const { return kind == Kind::ok; }
};

struct ClientStats {
  std::uint64_t ok = 0, fail = 0, timeout = 0, lost = 0;
  std::uint64_t reconnects = 0;
  bool gave_up = false;
};

struct ClientOptions {
  int index = 1;  // client:N
  Target target;
  ClientPolicy policy;
  std::uint64_t seed = 0;
  EventLog* events = nullptr;  // null: no history
};

class McpClient : public std::enable_shared_from_this<McpClient> {
 public:
  McpClient(asio::any_io_executor ex, ClientOptions options);

  // Connects, initializes and lists the tools. Throws StartupError when the
  // target cannot be reached at all (refused, unresolvable, command not
  // found); false when the session could not be set up.
  asio::awaitable<bool> start();
  // One request; never throws. `timeout` replaces the policy's request timeout.
  asio::awaitable<CallOutcome> request(std::string method, nlohmann::json params,
                                       std::optional<Millis> timeout = std::nullopt);
  asio::awaitable<CallOutcome> call_tool(std::string name, nlohmann::json arguments);
  asio::awaitable<void> notify(std::string method, nlohmann::json params);
  // Lists the tools again (following nextCursor); false when a page failed.
  // `handshake`: part of (re)setting the session up, before requests held meanwhile go.
  asio::awaitable<bool> list_tools(bool handshake = false);
  // Ends the session: pending requests become rpc.lost, the transport closes.
  asio::awaitable<void> close();

  const std::vector<nlohmann::json>& tools() const { return tools_; }
  Rng& rng() { return rng_; }
  const ClientStats& stats() const { return stats_; }
  bool ready() const { return state_ == State::ready; }
  bool gave_up() const { return state_ == State::gave_up; }
  int index() const { return options_.index; }
  const std::string& protocol_version() const { return protocol_version_; }
  // Why start() returned false ("initialize: ..."), for the one-line message.
  const std::string& start_error() const { return start_error_; }
  asio::any_io_executor executor() const { return ex_; }

 private:
  enum class State : std::uint8_t { idle, connecting, ready, reconnecting, disconnected, gave_up, closed };
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::string method;
    Clock::time_point sent;
    Clock::time_point idle_deadline = Clock::time_point::max();
    Clock::time_point hard_deadline = Clock::time_point::max();
    std::optional<CallOutcome> outcome;
    bool handshake = false;
  };

  // `handshake`: part of setting the session up (initialize), sent before the client is ready.
  asio::awaitable<CallOutcome> do_request(std::string method, nlohmann::json params, std::optional<Millis> timeout,
                                          bool handshake);
  void emit(const char* kind, nlohmann::json fields);
  void set_state(State s);
  // A new transport, connected and initialized; false (and the reason) when not.
  asio::awaitable<bool> open_session(std::string& why);
  asio::awaitable<bool> initialize(std::string& why);
  void wire(const std::shared_ptr<ClientTransport>& t, std::uint64_t generation);
  void on_message(std::uint64_t generation, nlohmann::json message);
  void on_closed(std::uint64_t generation, const Disconnect& d);
  void on_send_failed(std::int64_t id, const SendResult& r);
  void drop_transport(const Disconnect& d);
  asio::awaitable<void> reconnect_loop();
  asio::awaitable<void> reinitialize(int status);
  asio::awaitable<void> ping_loop();
  asio::awaitable<void> send_message(std::shared_ptr<ClientTransport> t, nlohmann::json message,
                                     std::int64_t id);
  // Ends a pending request with `outcome` and writes its completion event.
  void finish(std::int64_t id, CallOutcome outcome);
  // Ends the pending requests as rpc.lost (`handshake_only`: those of the session's set-up only).
  void lose_all(const std::string& reason, bool handshake_only = false);
  Millis reconnect_delay(std::uint32_t attempt);
  bool may_reconnect() const;

  asio::any_io_executor ex_;
  ClientOptions options_;
  std::string source_;
  Rng rng_;
  State state_ = State::idle;
  asio::steady_timer ping_timer_;
  std::shared_ptr<ClientTransport> transport_;
  std::uint64_t generation_ = 0;
  std::int64_t next_id_ = 1;
  std::unordered_map<std::int64_t, std::shared_ptr<Pending>> pending_;
  std::vector<nlohmann::json> tools_;
  std::string protocol_version_;
  std::string start_error_;
  ClientStats stats_;
  std::uint32_t attempts_ = 0;   // reconnect attempts since the counter last reset
  bool reset_on_ok_ = false;     // first_ok: the next rpc.ok resets attempts_
  bool reinitializing_ = false;
  bool relisting_ = false;
  bool ping_running_ = false;
};

}  // namespace faultline::sim
