#pragma once
// One direction's frame chain: the frame stages a message passes through, in
// the order their faults were added, ending in the sink that writes to the
// peer. The chain asks each fault whether it acts on a frame (its match, then
// its probability and count: AttachedFrameStage::select), so stages only do
// their one thing. Like the
// byte chain it is an immutable snapshot; FrameNext keeps it alive.

#include <memory>
#include <vector>

#include "faults/frame_fault.hpp"
#include "faults/frame_match.hpp"

namespace faultline {

// A frame fault attached to one direction of one link.
class AttachedFrameStage {
 public:
  virtual ~AttachedFrameStage() = default;
  virtual FrameStage& stage() = 0;
  virtual FrameStageContext& context() = 0;
  // Whether the fault acts on this frame: its match selects it, and its roll
  // (probability, count) says yes.
  virtual bool select(const WireFrame& frame) = 0;
  // The roll alone, for what no match applies to (a websocket ping or pong).
  virtual bool select_unmatched() = 0;
  // False once the fault was removed.
  virtual bool active() const = 0;
};

// Where the chain delivers: the stream toward the peer.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual asio::awaitable<void> write(WireFrame frame) = 0;
  virtual asio::awaitable<void> end() = 0;
};

class FrameChain : public std::enable_shared_from_this<FrameChain> {
 public:
  FrameChain(std::vector<std::shared_ptr<AttachedFrameStage>> stages, FrameSink& sink)
      : stages_(std::move(stages)), sink_(sink) {}

  asio::awaitable<void> frame(std::size_t index, WireFrame frame);
  asio::awaitable<void> end(std::size_t index);

  const std::vector<std::shared_ptr<AttachedFrameStage>>& stages() const { return stages_; }

 private:
  std::size_t first_active(std::size_t index) const;
  std::vector<std::shared_ptr<AttachedFrameStage>> stages_;
  FrameSink& sink_;
};

}  // namespace faultline
