#pragma once
// The frame fault interface, the JSON-RPC sibling of byte_fault.hpp. A
// FrameFault holds one fault's validated, immutable settings, shared by every
// link it touches; instantiate() makes the per-link FrameStage that does the
// work. A stage sits in a direction's FrameChain and sees whole messages
// (WireFrames), passing them on through `next` now, later, changed, or not at all.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "faults/byte_fault.hpp"
#include "mcp/frame.hpp"

namespace faultline {

// One message on its way through a direction: the frame, when it arrived, for
// a reply the method of the request it answers (so `match` can select replies
// by method), and on an http link the MCP session it belongs to.
struct WireFrame {
  mcp::Frame frame;
  Clock::time_point arrival;
  std::string method;   // a call's method, or the answered request's method; "" when unknown
  std::string session;  // http: Mcp-Session-Id (or the legacy ?sessionId=); "" while unknown and on
                        // websocket and stdio links (one session per connection or run)
};

class WsStageContext;

// What a frame stage may also do to its link (proxy/attached_frame_fault.hpp).
class FrameStageContext : public FaultContext {
 public:
  // Writes a frame to this direction's peer, past the rest of the chain.
  virtual asio::awaitable<void> emit(WireFrame frame) = 0;
  // Writes a frame back to the sender of this direction (an answer in the peer's place).
  virtual asio::awaitable<void> reply(WireFrame frame) = 0;
  // Runs `task` beside the pump, so one held frame does not hold the ones behind it.
  // The link waits for spawned tasks (their waits cut short) before it closes the direction.
  virtual void spawn(std::function<asio::awaitable<void>()> task) = 0;
  // Sends a signal to the server process (its process group). False when there is none.
  virtual bool signal_server(int signo) = 0;
  // Stops forwarding this direction and closes its output toward the peer.
  virtual void close_output(std::string_view reason) = 0;
  // What a websocket link offers beyond that (faults/ws_frame_fault.hpp); null elsewhere.
  virtual WsStageContext* ws_context() { return nullptr; }
};

class FrameChain;

// The rest of the chain after one stage. Keeps the chain alive.
class FrameNext {
 public:
  FrameNext(std::shared_ptr<FrameChain> chain, std::size_t index) : chain_(std::move(chain)), index_(index) {}
  asio::awaitable<void> frame(WireFrame frame) const;
  asio::awaitable<void> end() const;

 private:
  std::shared_ptr<FrameChain> chain_;
  std::size_t index_;
};

class FrameStage {
 public:
  virtual ~FrameStage() = default;
  // True for a stage that acts on time (after_ms) rather than on frames: its
  // fault's probability is rolled once when it attaches, and on_attach runs.
  virtual bool acts_on_time() const { return false; }
  // Runs from attach until the fault is removed or the link closes, for a
  // stage that acts on time.
  virtual asio::awaitable<void> on_attach(FrameStageContext&) { co_return; }
  // A frame the fault's match selected (and the probability roll let through).
  virtual asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) = 0;
  // Any other frame: passed on by default (reorder counts them).
  virtual asio::awaitable<void> on_other(WireFrame frame, FrameStageContext&, FrameNext next) {
    co_await next.frame(std::move(frame));
  }
  // The direction's input ended: flush what is held, then pass the end on.
  virtual asio::awaitable<void> on_end(FrameStageContext&, FrameNext next) { co_await next.end(); }
};

class FrameFault {
 public:
  virtual ~FrameFault() = default;
  virtual std::unique_ptr<FrameStage> instantiate() const = 0;
  // The full attribute set, defaults included.
  virtual nlohmann::json attributes() const = 0;
};

// A short description of a frame for fault.inject events: frame_kind, method, id.
nlohmann::json describe(const WireFrame& frame);

}  // namespace faultline
