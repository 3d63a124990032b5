// delay: each matched message leaves `delay` ms after it arrived. Messages keep
// their order: the ones behind a delayed message wait for it (as the latency
// byte fault does). Use late_response to hold one reply while others pass.
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

class DelayStage final : public FrameStage {
 public:
  explicit DelayStage(std::int64_t delay_ms) : delay_ms_(delay_ms) {}
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    auto detail = describe(frame);
    detail["delay_ms"] = delay_ms_;
    ctx.injected(std::move(detail));
    co_await ctx.wait_until(frame.arrival + std::chrono::milliseconds(delay_ms_));
    co_await next.frame(std::move(frame));
  }

 private:
  std::int64_t delay_ms_;
};

class DelayFault final : public FrameFault {
 public:
  explicit DelayFault(std::int64_t delay_ms) : delay_ms_(delay_ms) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<DelayStage>(delay_ms_); }
  nlohmann::json attributes() const override { return {{"delay", delay_ms_}}; }

 private:
  std::int64_t delay_ms_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_delay_frame_fault(AttributeReader& a) {
  return std::make_shared<DelayFault>(a.integer("delay", 1000, 0, 3'600'000));
}

}  // namespace faultline
