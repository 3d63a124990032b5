#pragma once
// The faults of one http connection (HttpSession) as its relay meets them: a
// FaultSlot per attached frame or HTTP fault, and a Flow for each direction
// of each exchange (a request body, a JSON response) and each SSE stream,
// which takes frames through a chain of the slots' frame faults. Where the
// byte faults end: a SocketSink per direction.

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
#include "proxy/wake_signal.hpp"

namespace faultline::http_link {

class HttpSession;
class Flow;

// A frame or HTTP fault attached to one connection: its seeded random source
// (drawn in exchange order, so a seed replays), its counters, its waits in
// progress, and for an HTTP fault its stage and link-wide memory.
class FaultSlot final : public HttpFaultContext {
 public:
  FaultSlot(HttpSession& session, std::shared_ptr<const FaultSpec> spec);

  // FaultContext / HttpFaultContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_->direction; }
  void injected(nlohmann::json detail) override;
  HttpFaultMemory& memory() override { return *memory_; }

  const FaultSpec& spec() const { return *spec_; }
  const FrameFaultSpec& frame_spec() const { return *spec_->frame; }
  HttpStage* http_stage() { return http_stage_.get(); }
  bool roll() { return frame_spec().probability >= 1.0 || rng_.chance(frame_spec().probability); }
  void remove() {
    removed_ = true;
    cancel_waits();
  }
  void cancel_waits() { waits_.cancel_all(); }

 private:
  HttpSession& session_;
  std::shared_ptr<const FaultSpec> spec_;
  std::unique_ptr<HttpStage> http_stage_;
  Rng rng_;
  std::shared_ptr<FaultCounters> counters_;
  HttpFaultMemory* memory_ = nullptr;
  bool removed_ = false;
  FaultWaits waits_;
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

// One frame fault in one Flow: the stage made for it, acting for its slot.
class FlowStage final : public AttachedFrameStage, public FrameStageContext {
 public:
  FlowStage(Flow& flow, std::shared_ptr<FaultSlot> slot)
      : flow_(flow), slot_(std::move(slot)), stage_(slot_->frame_spec().fault->instantiate()) {}

  // AttachedFrameStage
  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  const FrameMatch& match() const override { return slot_->frame_spec().match; }
  double probability() const override { return slot_->frame_spec().probability; }
  bool active() const override { return !slot_->removed(); }

  // FrameStageContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return slot_->removed(); }
  Rng& rng() override { return slot_->rng(); }
  Direction direction() const override { return slot_->direction(); }
  void injected(nlohmann::json detail) override { slot_->injected(std::move(detail)); }
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int) override { return false; }  // an http upstream is not our child
  void close_output(std::string_view reason) override;

 private:
  Flow& flow_;
  std::shared_ptr<FaultSlot> slot_;
  std::unique_ptr<FrameStage> stage_;
};

// The frame faults of one direction of one exchange (a request body, a JSON
// response) or of one SSE stream: a stage per fault made for it, the chain,
// and where the chain delivers. Faults' tasks (late_response) keep it alive.
class Flow final : public FrameSink, public std::enable_shared_from_this<Flow> {
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

  void spawn_task(std::function<asio::awaitable<void>()> task);

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
