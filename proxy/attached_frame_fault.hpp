#pragma once
// A frame fault attached to a session, whatever its transport: the sibling of
// AttachedByteFault (attached_fault.hpp).
//
// FrameFaultSlot is the fault's state on one session: its random source
// seeded from (seed, link, fault, connection), its counters, its waits, and
// roll(), where its probability is rolled and its count taken, each roll
// recorded as a fault.decision event. AttachedFrameFault is the fault's stage
// in one frame chain, acting through the FrameOutlet its transport gives it: a
// direction of a websocket or stdio session, or an exchange or SSE stream of
// an http session (which makes a stage per stream, all sharing one slot).

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "faults/byte_fault_spec.hpp"
#include "faults/frame_chain.hpp"
#include "faults/ws_frame_fault.hpp"
#include "proxy/attached_fault.hpp"

namespace faultline {

class FrameFaultSlot {
 public:
  FrameFaultSlot(FaultHost& host, FaultPtr spec);

  const FaultSpec& spec() const { return *spec_; }
  const FaultPtr& spec_ptr() const { return spec_; }
  const FrameFaultSpec& frame_spec() const { return *spec_->frame; }
  Direction direction() const { return spec_->direction; }
  Rng& rng() { return rng_; }
  FaultHost& host() { return host_; }

  // Whether the fault acts now: on `frame`, a message its match selected; or,
  // with no frame, on an HTTP request, a ping or pong, or its timed trigger.
  // The probability is rolled and one of the count taken (roll_fault); a roll
  // is recorded as fault.decision.
  bool roll(const WireFrame* frame);

  asio::awaitable<bool> wait_until(Clock::time_point deadline);
  void injected(nlohmann::json detail);

  bool removed() const { return removed_; }
  // The fault acts no more: its waits end, and what its stages hold moves on.
  void remove() {
    removed_ = true;
    waits_.cancel_all();
  }
  void cancel_waits() { waits_.cancel_all(); }

 private:
  FaultHost& host_;
  FaultPtr spec_;
  Rng rng_;
  std::shared_ptr<FaultCounters> counters_;
  bool removed_ = false;
  FaultWaits waits_;
};

class WsOutlet;

// Where a frame fault's stage acts: the stream its chain writes to.
class FrameOutlet {
 public:
  virtual ~FrameOutlet() = default;
  // Writes to this stream's peer, past the rest of the chain.
  virtual asio::awaitable<void> emit(WireFrame frame) = 0;
  // Writes back to the sender, in the peer's place.
  virtual asio::awaitable<void> reply(WireFrame frame, const FaultSpec& fault) = 0;
  // Runs a fault's task beside the stream; the stream waits for its tasks before it ends.
  virtual void spawn(std::function<asio::awaitable<void>()> task) = 0;
  // Signals the server process; false where faultline did not start the server.
  virtual bool signal_server(int, const FaultSpec&) { return false; }
  virtual void close_output(std::string_view reason, const FaultSpec& fault) = 0;
  // True while the stream lets go of what faults hold (a drain, the end of input).
  virtual bool flushing() const { return false; }
  virtual WsOutlet* ws() { return nullptr; }
};

// What a websocket direction offers beyond that.
class WsOutlet {
 public:
  virtual ~WsOutlet() = default;
  virtual void close_websocket(int code, std::string_view reason, const FaultSpec& fault) = 0;
  virtual asio::awaitable<void> emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) = 0;
};

class AttachedFrameFault final : public AttachedFrameStage, public FrameStageContext, public WsStageContext {
 public:
  AttachedFrameFault(std::shared_ptr<FrameFaultSlot> slot, FrameOutlet& outlet)
      : slot_(std::move(slot)), outlet_(outlet), stage_(slot_->frame_spec().fault->instantiate()) {}

  // Runs the stage's on_attach when it acts on time and its roll says so;
  // `owner` keeps what the outlet belongs to alive meanwhile.
  static void start(const std::shared_ptr<AttachedFrameFault>& fault, std::shared_ptr<void> owner);

  FrameFaultSlot& slot() { return *slot_; }
  const FaultSpec& spec() const { return slot_->spec(); }

  // AttachedFrameStage
  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  bool select(const WireFrame& frame) override { return slot_->frame_spec().match.matches(frame) && slot_->roll(&frame); }
  bool select_unmatched() override { return slot_->roll(nullptr); }
  bool active() const override { return !slot_->removed(); }

  // FrameStageContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return slot_->removed(); }
  Rng& rng() override { return slot_->rng(); }
  Direction direction() const override { return slot_->direction(); }
  void injected(nlohmann::json detail) override { slot_->injected(std::move(detail)); }
  asio::awaitable<void> emit(WireFrame frame) override { return outlet_.emit(std::move(frame)); }
  asio::awaitable<void> reply(WireFrame frame) override { return outlet_.reply(std::move(frame), spec()); }
  void spawn(std::function<asio::awaitable<void>()> task) override { outlet_.spawn(std::move(task)); }
  bool signal_server(int signo) override { return outlet_.signal_server(signo, spec()); }
  void close_output(std::string_view reason) override { outlet_.close_output(reason, spec()); }
  WsStageContext* ws_context() override { return outlet_.ws() ? this : nullptr; }

  // WsStageContext (reached through ws_context(), so only on a websocket)
  void close_websocket(int code, std::string_view reason) override { outlet_.ws()->close_websocket(code, reason, spec()); }
  asio::awaitable<void> emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) override {
    return outlet_.ws()->emit_fragmented(std::move(frame), std::move(sizes));
  }

 private:
  std::shared_ptr<FrameFaultSlot> slot_;
  FrameOutlet& outlet_;
  std::unique_ptr<FrameStage> stage_;
};

}  // namespace faultline
