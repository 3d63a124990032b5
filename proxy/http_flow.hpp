#pragma once
// The faults of one http connection (HttpSession) as its relay meets them: a
// FaultSlot per attached frame or HTTP fault, and a Flow for each direction
// of each exchange (a request body, a JSON response) and each SSE stream,
// which takes frames through a chain of the slots' frame faults (a stage per
// flow, AttachedFrameFault, all of one fault sharing its slot's FrameFaultSlot).
// Where the byte faults end: a SocketSink per direction.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "faults/byte_chain.hpp"
#include "faults/frame_chain.hpp"
#include "faults/http_fault.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/attached_frame_fault.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline::http_link {

class HttpSession;
class Flow;

// A frame or HTTP fault attached to one connection: its FrameFaultSlot (the
// seeded random source, drawn in exchange order so a seed replays; counters,
// waits, rolls), and for an HTTP fault its stage and link-wide memory.
class FaultSlot final : public HttpFaultContext {
 public:
  FaultSlot(HttpSession& session, FaultPtr spec);

  // FaultContext / HttpFaultContext, for the HTTP fault's stage
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override { return slot_->wait_until(deadline); }
  bool removed() const override { return slot_->removed(); }
  Rng& rng() override { return slot_->rng(); }
  Direction direction() const override { return slot_->direction(); }
  void injected(nlohmann::json detail) override { slot_->injected(std::move(detail)); }
  HttpFaultMemory& memory() override { return *memory_; }

  const std::shared_ptr<FrameFaultSlot>& frame_slot() const { return slot_; }
  const FaultSpec& spec() const { return slot_->spec(); }
  const FrameFaultSpec& frame_spec() const { return slot_->frame_spec(); }
  HttpStage* http_stage() { return http_stage_.get(); }
  // For an HTTP fault, on a request or SSE event its match selected.
  bool roll() { return slot_->roll(nullptr); }
  void remove() { slot_->remove(); }
  void cancel_waits() { slot_->cancel_waits(); }

 private:
  std::shared_ptr<FrameFaultSlot> slot_;
  std::unique_ptr<HttpStage> http_stage_;
  HttpFaultMemory* memory_ = nullptr;
};

// Where a direction's byte chain ends: the socket toward the peer. The end
// is the FIN the link sends when it closes the connection (see end_streams).
class SocketSink final : public ChainSink {
 public:
  SocketSink(HttpSession& session, Direction dir) : session_(session), dir_(dir) {}
  asio::awaitable<void> write(Chunk chunk) override;
  asio::awaitable<void> end(StreamEnd) override;

 private:
  HttpSession& session_;
  Direction dir_;
};

// The frame faults of one direction of one exchange (a request body, a JSON
// response) or of one SSE stream: a stage per fault made for it, the chain,
// and where the chain delivers; its faults act through it (FrameOutlet).
// Faults' tasks (late_response) keep it alive.
class Flow final : public FrameSink, public FrameOutlet, public std::enable_shared_from_this<Flow> {
 public:
  using Deliver = std::function<asio::awaitable<void>(WireFrame)>;

  Flow(HttpSession& session, Direction dir, std::string key, Deliver deliver);
  void build();  // after construction: the stages need shared_from_this for tasks only

  bool empty() const { return stages_.empty(); }
  asio::awaitable<void> frame(WireFrame f) {
    auto chain = chain_;
    co_await chain->frame(0, std::move(f));
  }
  // The input is over: what faults hold is let go (reorder), and their
  // tasks (late_response) finish, each at its own time.
  asio::awaitable<void> finish() {
    auto chain = chain_;
    co_await chain->end(0);
  }

  // FrameSink
  asio::awaitable<void> write(WireFrame frame) override {
    auto self = shared_from_this();
    co_await deliver_(std::move(frame));
  }
  asio::awaitable<void> end() override;

  // FrameOutlet (an http upstream is not faultline's child: no signals)
  asio::awaitable<void> emit(WireFrame frame) override { co_await write(std::move(frame)); }
  asio::awaitable<void> reply(WireFrame frame, const FaultSpec& fault) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  void close_output(std::string_view reason, const FaultSpec& fault) override;

  HttpSession& session;
  Direction dir;
  std::string key;                 // the MCP session record the flow's frames go to
  std::vector<WireFrame> replies;  // answers faults gave in the server's place (upstream flows)

 private:
  Deliver deliver_;
  std::vector<std::shared_ptr<AttachedFrameStage>> stages_;
  std::shared_ptr<FrameChain> chain_;
  WakeSignal tasks_done_;
  int pending_tasks_ = 0;
};

}  // namespace faultline::http_link
