#pragma once
// The byte-stream fault interface. A ByteFault holds one fault's validated,
// immutable settings, shared by every connection it touches; instantiate()
// makes the per-connection ByteStage that does the work. A stage sits in a
// direction's FaultChain: it receives chunks and the stream's end, and passes
// them on through `next` now, later, in pieces, or not at all.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/direction.hpp"
#include "core/rng.hpp"

namespace faultline {

namespace asio = boost::asio;

// Bytes as they arrived from one peer, stamped when they were read.
struct Chunk {
  Bytes bytes;
  Clock::time_point arrival;
};

// How a stream ended: FIN from the sender, a reset, or another error.
struct StreamEnd {
  enum Kind { fin, rst, error } kind = fin;
  boost::system::error_code ec;
};
std::string_view to_string(StreamEnd::Kind k);

// How a fault closes the whole connection: FIN to both peers, or RST to both.
enum class CloseMode { fin, rst };

// What every fault, byte or frame, gets from where it runs: time, waits that
// end early when the fault is removed, its seeded random source, and the
// injection counter. Tests implement it with a fake clock so a fault runs
// without sleeping.
class FaultContext {
 public:
  virtual ~FaultContext() = default;
  virtual Clock::time_point now() const = 0;
  // Waits until `deadline`, or until the fault is removed or its connection
  // (or link) flushes or closes. True when the deadline was reached.
  virtual asio::awaitable<bool> wait_until(Clock::time_point deadline) = 0;
  virtual bool removed() const = 0;
  virtual Rng& rng() = 0;
  virtual Direction direction() const = 0;
  // Counts one injection; `detail` non-null also writes a fault.inject event.
  virtual void injected(nlohmann::json detail = nullptr) = 0;
};

// What a byte stage may also do to its connection. Implemented by the proxy.
class StageContext : public FaultContext {
 public:
  virtual void close_connection(CloseMode mode, std::string_view reason) = 0;
};

class FaultChain;

// The rest of the chain after one stage.
class Next {
 public:
  Next(FaultChain& chain, std::size_t index) : chain_(&chain), index_(index) {}
  asio::awaitable<void> data(Chunk chunk);
  asio::awaitable<void> end(StreamEnd end);

 private:
  FaultChain* chain_;
  std::size_t index_;
};

class ByteStage {
 public:
  virtual ~ByteStage() = default;
  // Runs from attach until the fault is removed or the connection closes: for
  // faults that act on time rather than on data.
  virtual asio::awaitable<void> on_attach(StageContext&) { co_return; }
  // Runs before the upstream connection is opened (new connections only).
  virtual asio::awaitable<void> before_connect(StageContext&) { co_return; }
  virtual asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) = 0;
  virtual asio::awaitable<void> on_end(StreamEnd end, StageContext&, Next next) { co_await next.end(end); }
};

class ByteFault {
 public:
  virtual ~ByteFault() = default;
  virtual std::unique_ptr<ByteStage> instantiate() const = 0;
  // The full attribute set, defaults included, with Toxiproxy's names.
  virtual nlohmann::json attributes() const = 0;
  // True for a fault that takes the whole link down (refuses new connections).
  virtual bool takes_link_down() const { return false; }
};

}  // namespace faultline
