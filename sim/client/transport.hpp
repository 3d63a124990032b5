#pragma once
// How a simulated client reaches its server. One small interface over the four
// MCP transports (stdio child, WebSocket, Streamable HTTP, legacy HTTP+SSE):
// connect, send one JSON-RPC message, receive messages through a callback,
// close. A transport that goes away says why and how that was noticed.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/host_port.hpp"

namespace faultline::sim {

namespace asio = boost::asio;

// Why a transport went away. noticed_by is one of: "EOF" (the peer closed),
// "RST" (a reset or another socket error), "HTTP status", "missed pings",
// "request timeout", "exit" (a stdio server exited), "client" (we closed it).
struct Disconnect {
  std::string reason;
  std::string noticed_by;
  int status = 0;  // the HTTP status, for noticed_by "HTTP status"
};

// What became of one send. A transport that could not deliver (a connection
// refused or reset) reports it here and through the closed callback.
struct SendResult {
  bool ok = true;
  int http_status = 0;  // a POST answered with an error status
  std::string error;
};

// Where the client goes, from --target (and --transport).
struct Target {
  enum class Kind { stdio, ws, http, sse } kind = Kind::http;
  std::vector<std::string> command;  // stdio
  HostPort address;                  // ws, http, sse
  std::string host_header;           // the host as written in the URL, with its port
  std::string path = "/";
  std::string text;                  // as given
};

// Parses `stdio:CMD ARGS...`, `ws://HOST:PORT/PATH`, `http://HOST:PORT/PATH`
// (`sse` true: the legacy HTTP+SSE transport at that URL). Throws ConfigError.
Target parse_target(const std::string& text, bool sse);

// Stream options of the HTTP transports, from the client's policy.
struct StreamPolicy {
  bool get_stream = true;
  bool reconnect_sse_stream = true;
  bool honour_retry = true;
  bool resume_with_last_event_id = true;
  std::chrono::milliseconds default_retry{1000};  // before resuming, when the server gave no retry:
  std::uint32_t max_resume_attempts = 2;
};

class ClientTransport {
 public:
  using OnMessage = std::function<void(nlohmann::json)>;
  using OnClosed = std::function<void(const Disconnect&)>;
  // A server notice that is not a message (an HTTP stream resumed, a session id
  // taken); the client may record it.
  using OnNote = std::function<void(const std::string& kind, nlohmann::json fields)>;

  virtual ~ClientTransport() = default;

  void on_message(OnMessage f) { on_message_ = std::move(f); }
  void on_closed(OnClosed f) { on_closed_ = std::move(f); }
  void on_note(OnNote f) { on_note_ = std::move(f); }

  // Opens the connection (starts the child). Throws StartupError when the
  // target cannot be reached at all (refused, unresolvable, not found).
  virtual asio::awaitable<void> connect() = 0;
  virtual asio::awaitable<SendResult> send(nlohmann::json message) = 0;
  // Ends the connection (DELETE of an HTTP session); no closed callback follows.
  virtual asio::awaitable<void> close() = 0;

  // After initialize: the negotiated version (sent as MCP-Protocol-Version
  // over HTTP), and the start of the server-to-client stream where there is one.
  virtual void initialized(const std::string& /*protocol_version*/) {}
  // Forget the session (before re-initializing after a 404).
  virtual void reset_session() {}
  virtual std::string session_id() const { return {}; }
  virtual const char* name() const = 0;

 protected:
  void deliver(nlohmann::json message) {
    if (on_message_) on_message_(std::move(message));
  }
  // Reports the end once.
  void closed(const Disconnect& d) {
    if (closed_reported_) return;
    closed_reported_ = true;
    if (on_closed_) on_closed_(d);
  }
  void note(const std::string& kind, nlohmann::json fields) {
    if (on_note_) on_note_(kind, std::move(fields));
  }
  bool closed_reported_ = false;

 private:
  OnMessage on_message_;
  OnClosed on_closed_;
  OnNote on_note_;
};

std::shared_ptr<ClientTransport> make_transport(asio::any_io_executor ex, const Target& target,
                                                const StreamPolicy& streams);

// "EOF" or "RST" for a socket error code.
std::string noticed_by(const boost::system::error_code& ec);

}  // namespace faultline::sim
