#pragma once
// One direction's fault chain: the stages a chunk passes through, in the order
// their faults were added, ending in the sink that writes to the peer. The
// chain applies "is this fault active here" (probability rolled once per
// connection, removed faults) so that stages only do their one thing. A chain
// is an immutable snapshot: adding or removing a fault makes a new chain, and a
// chunk already inside the old one finishes its way through it.

#include <memory>
#include <vector>

#include "faults/byte_fault.hpp"

namespace faultline {

// A fault attached to one direction of one connection.
class AttachedStage {
 public:
  virtual ~AttachedStage() = default;
  virtual ByteStage& stage() = 0;
  virtual StageContext& context() = 0;
  // False when the probability roll left this connection out, or the fault was removed.
  virtual bool active() const = 0;
};

// Where the chain delivers: the socket toward the peer.
class ChainSink {
 public:
  virtual ~ChainSink() = default;
  virtual asio::awaitable<void> write(Chunk chunk) = 0;
  virtual asio::awaitable<void> end(StreamEnd end) = 0;
};

class FaultChain {
 public:
  FaultChain(std::vector<std::shared_ptr<AttachedStage>> stages, ChainSink& sink)
      : stages_(std::move(stages)), sink_(sink) {}

  asio::awaitable<void> data(std::size_t index, Chunk chunk);
  asio::awaitable<void> end(std::size_t index, StreamEnd end);

  const std::vector<std::shared_ptr<AttachedStage>>& stages() const { return stages_; }
  bool empty() const { return stages_.empty(); }

 private:
  std::size_t first_active(std::size_t index) const;
  std::vector<std::shared_ptr<AttachedStage>> stages_;
  ChainSink& sink_;
};

}  // namespace faultline
