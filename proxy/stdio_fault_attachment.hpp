#pragma once
// How the stdio link attaches a frame fault to one direction: AttachedFrameFault
// is the fault's stage with what it may do to the run (emit, reply, wait,
// signal the server, close the output). The code that attaches faults to a
// direction (StdioDirection::attach, attach_bytes, spawn_task) lives in
// stdio_fault_attachment.cpp beside it.

#include <functional>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "faults/frame_chain.hpp"
#include "faults/frame_fault_spec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/stdio_run.hpp"

namespace faultline::stdio {

class StdioDirection;

// A frame fault attached to one direction of the link: its stage, its seeded
// random source, and its waits in progress (cut short on removal, flush, close).
class AttachedFrameFault final : public AttachedFrameStage, public FrameStageContext {
 public:
  AttachedFrameFault(StdioRun& run, StdioDirection& dir, const FrameFaultSpec& spec)
      : run_(run), dir_(dir), spec_(spec), stage_(spec.fault->instantiate()),
        rng_(derive_seed(run.options().seed, run.options().name, spec.name, 0)) {}

  // AttachedFrameStage
  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  const FrameMatch& match() const override { return spec_.match; }
  double probability() const override { return spec_.probability; }
  bool active() const override { return !removed_; }

  // FrameStageContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_.direction; }
  void injected(nlohmann::json detail) override {
    ++run_.injections[spec_.name];
    if (detail.is_null()) return;
    nlohmann::json fields = {{"fault", spec_.name}, {"type", spec_.type}, {"direction", to_string(spec_.direction)}};
    if (detail.is_object()) fields.update(detail);
    run_.emit("fault.inject", std::move(fields));
  }
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int signo) override { return run_.signal_server(signo, "fault " + spec_.name); }
  void close_output(std::string_view reason) override;

  const FrameFaultSpec& spec() const { return spec_; }
  void cancel_waits() { waits_.cancel_all(); }

 private:
  StdioRun& run_;
  StdioDirection& dir_;
  FrameFaultSpec spec_;
  std::unique_ptr<FrameStage> stage_;
  Rng rng_;
  bool removed_ = false;
  FaultWaits waits_;
};

}  // namespace faultline::stdio
