#pragma once
// What frame faults can do on a websocket link beyond what every link offers:
// the abilities of the link's FrameStageContext (close the WebSocket with a
// code, send a message in fragments) and of a stage (see ping and pong
// frames). A stage finds the context's through FrameStageContext::ws_context()
// and its own with dynamic_cast, so other links need not know.

#include <cstddef>
#include <string_view>
#include <vector>

#include "faults/frame_fault.hpp"

namespace faultline {

// Implemented by the websocket link's context, beside FrameStageContext.
class WsStageContext {
 public:
  virtual ~WsStageContext() = default;
  // Sends a close frame (code, reason) to this direction's peer, as if the
  // sender had closed; the sender gets 1001 (going away); then the session ends.
  virtual void close_websocket(int code, std::string_view reason) = 0;
  // Writes `frame` to this direction's peer as one message in frames of the
  // given payload sizes (the last frame takes what is left), past the rest of the chain.
  virtual asio::awaitable<void> emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) = 0;
};

enum class WsControl { ping, pong };

// An optional ability of a FrameStage: it also sees the ping and pong frames
// of its direction (which have no JSON-RPC match; probability is still rolled).
class WsControlStage {
 public:
  virtual ~WsControlStage() = default;
  // Returns whether the frame goes on.
  virtual bool pass_control(WsControl kind, FrameStageContext& ctx) = 0;
};

}  // namespace faultline
