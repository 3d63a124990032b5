#pragma once
// HTTP faults: frame fault types (registered in frame_registry.cpp with
// transports = kHttp) that act on the HTTP exchange around the messages:
// status codes, session ids, SSE fields and streams. The http link finds their
// HttpStage through HttpFault and calls its hooks; the chain's work (direction,
// `match` against the messages a request or SSE event carries, probability)
// is done by the link before a hook sees `matched`. Their FrameStage passes
// every frame on.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "faults/frame_fault.hpp"
#include "mcp/sse_codec.hpp"

namespace faultline {

// A client request as the http link saw it.
struct HttpRequestView {
  std::string_view method;   // GET, POST, DELETE, ...
  std::string_view target;   // path and query
  std::string_view session;  // Mcp-Session-Id, or the legacy transport's ?sessionId=; "" when none
};

// An answer the link gives in the server's place.
struct HttpAnswer {
  int status = 200;
  std::string content_type;  // "" for no body
  std::string body;
};

// State one HTTP fault keeps across every connection of its link (a session a
// server forgot stays forgotten on the client's next connection). Thread-safe.
class HttpFaultMemory {
 public:
  bool has_session(std::string_view session) const {
    std::lock_guard lock(mutex_);
    return sessions_.contains(std::string(session));
  }
  // Adds the session unless `limit` sessions are held already; true when it is held now.
  bool add_session(std::string_view session, std::uint64_t limit) {
    std::lock_guard lock(mutex_);
    if (sessions_.contains(std::string(session))) return true;
    if (sessions_.size() >= limit) return false;
    sessions_.insert(std::string(session));
    return true;
  }
  // Takes one use out of `limit`; false when all are used.
  bool take_use(std::uint64_t limit) {
    std::lock_guard lock(mutex_);
    if (uses_ >= limit) return false;
    ++uses_;
    return true;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> sessions_;
  std::uint64_t uses_ = 0;
};

// What an HTTP stage gets from the link besides the FaultContext.
class HttpFaultContext : public FaultContext {
 public:
  virtual HttpFaultMemory& memory() = 0;
};

// What the link does with an SSE event after a hook saw it: deliver it (maybe
// edited), or cut the stream before it: end the chunked body cleanly and keep
// the connection, or close the client's connection without ending the body.
enum class SseAction { pass, end_stream, close_connection };

// One HTTP fault's per-connection work. Hooks run on the connection's executor.
class HttpStage {
 public:
  virtual ~HttpStage() = default;
  // A client request before it goes upstream (upstream faults). An answer
  // replaces the server's; the request is not forwarded.
  virtual std::optional<HttpAnswer> on_request(const HttpRequestView&, bool /*matched*/, HttpFaultContext&) {
    return std::nullopt;
  }
  // An SSE event on its way to the client (downstream faults); the hook may
  // edit it. `first` marks the first event of its stream.
  virtual SseAction on_sse_event(mcp::SseEvent&, bool /*matched*/, bool /*first*/, HttpFaultContext&) {
    return SseAction::pass;
  }
};

// The settings side of an HTTP fault: a FrameFault whose frame stage passes
// frames on, and which makes HttpStages.
class HttpFault : public FrameFault {
 public:
  std::unique_ptr<FrameStage> instantiate() const override;
  virtual std::unique_ptr<HttpStage> instantiate_http() const = 0;
};

// A pass-through frame stage, for HttpFault::instantiate().
class PassFrameStage final : public FrameStage {
 public:
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext&, FrameNext next) override {
    co_await next.frame(std::move(frame));
  }
};

inline std::unique_ptr<FrameStage> HttpFault::instantiate() const { return std::make_unique<PassFrameStage>(); }

// A JSON-RPC error body as an MCP server sends it with a 4xx status.
std::string http_error_body(std::int64_t code, std::string_view message);

}  // namespace faultline
