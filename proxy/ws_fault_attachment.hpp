#pragma once
// How a websocket session attaches a frame fault to one direction's messages:
// WsFrameFault is the fault's stage with everything it may do to the session
// (emit, reply, wait, close the WebSocket, fragment a message). The code that
// attaches and removes faults on a direction (WsDirection::attach, detach,
// pass_control, spawn_task) lives in ws_fault_attachment.cpp beside it.

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

namespace faultline::ws {

class WsSession;
class WsDirection;

// A frame fault on one direction's messages; the chain rolls its probability
// per matched message.
class WsFrameFault final : public AttachedFrameStage, public FrameStageContext, public WsStageContext {
 public:
  WsFrameFault(WsSession& session, WsDirection& dir, std::shared_ptr<const FaultSpec> spec);

  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  const FrameMatch& match() const override { return spec_->frame->match; }
  double probability() const override { return spec_->frame->probability; }
  bool active() const override { return !removed_; }

  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_->direction; }
  void injected(nlohmann::json detail) override;
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int) override { return false; }  // no server process on a network link
  void close_output(std::string_view reason) override;

  void close_websocket(int code, std::string_view reason) override;
  asio::awaitable<void> emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) override;

  const FaultSpec& spec() const { return *spec_; }
  void cancel_waits() { waits_.cancel_all(); }
  void remove() {
    removed_ = true;
    cancel_waits();
  }

 private:
  WsSession& session_;
  WsDirection& dir_;
  std::shared_ptr<const FaultSpec> spec_;
  std::unique_ptr<FrameStage> stage_;
  Rng rng_;
  std::shared_ptr<FaultCounters> counters_;
  bool removed_ = false;
  FaultWaits waits_;
};

}  // namespace faultline::ws
