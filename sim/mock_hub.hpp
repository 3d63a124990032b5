#pragma once
// The mock server's sessions, whatever the transport: one MockServer each,
// the live behaviour they share, and the misbehaviours that act on sessions
// or on the process rather than on one request: sessions expiring session_ttl
// after their initialize, a restart that forgets them all, and the heartbeat
// that exits after idle_exit without a request (the ruv-swarm bug). Runs on
// one thread, so nothing here takes a lock.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/event_log.hpp"
#include "sim/mock_behaviour.hpp"
#include "sim/mock_server.hpp"

namespace faultline::sim {

// Exit code of a mock server that idle_exit ended.
inline constexpr int kMockIdleExitCode = 4;

struct MockSession {
  std::string id;
  std::chrono::steady_clock::time_point created;
  std::chrono::steady_clock::time_point last_request;
  std::shared_ptr<MockServer> server;
  // The transport's part: ends the session's streams or its connection.
  std::function<void(const std::string& reason)> on_close;
  bool closed = false;
  bool expires = true;  // session_ttl applies (stdio has no session id to expire)
};

class MockHub {
 public:
  // `exit(code, reason)` ends the process's run (the runner stops its loop).
  using Exit = std::function<void(int code, const std::string& reason)>;

  MockHub(asio::any_io_executor ex, MockBehaviour behaviour, std::uint64_t seed, EventLog* events);
  ~MockHub();
  MockHub(const MockHub&) = delete;
  MockHub& operator=(const MockHub&) = delete;

  // Starts the heartbeat and the expiry sweep; `exit` is what they (and the
  // crash_after tool) call.
  void start(Exit exit);
  void stop();

  // A new session with its own MockServer writing through `send`; id "" draws one.
  std::shared_ptr<MockSession> create(MockServer::Send send, std::string id = {}, bool banner = false);
  // The live session of that id, or null (unknown, closed, or expired now).
  std::shared_ptr<MockSession> find(const std::string& id);
  // Hands a client's message to its session, counting it for idle_exit.
  void receive(MockSession& session, const mcp::Frame& frame);
  // Any request from any client (an HTTP request that carries no message too).
  void touch() { last_request_ = std::chrono::steady_clock::now(); }
  void close(const std::string& id, const std::string& reason);
  // Forgets every session at once; returns how many there were.
  std::size_t restart();

  const MockBehaviour& behaviour() const { return *behaviour_; }
  // Applies a PATCH (see patched()); throws ConfigError with nothing applied.
  nlohmann::json patch(const nlohmann::json& changes);
  nlohmann::json sessions() const;
  std::size_t size() const { return sessions_.size(); }
  int unknown_session_status() const { return behaviour_->unknown_session_status; }
  void exit(int code, const std::string& reason);
  void emit(const std::string& kind, nlohmann::json fields);
  asio::any_io_executor executor() const { return ex_; }

 private:
  void tick();
  void expire_due();

  asio::any_io_executor ex_;
  std::shared_ptr<MockBehaviour> behaviour_;
  std::uint64_t seed_;
  std::uint64_t created_ = 0;  // sessions so far: the seed of each one's flaky tool
  EventLog* events_;
  Exit exit_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_request_;
  std::map<std::string, std::shared_ptr<MockSession>> sessions_;
  asio::steady_timer ticker_;
  bool running_ = false;
  bool exiting_ = false;
};

// A fresh session id: 32 hex digits from the system's random source.
std::string new_session_id();

}  // namespace faultline::sim
