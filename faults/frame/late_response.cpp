// late_response: a matched reply is held for `delay` ms (longer than the
// client's timeout) while later messages pass it, then delivered to a client
// that has given up on it (docs/outages.md #4). Replies only: calls pass untouched.
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

class LateResponseStage final : public FrameStage {
 public:
  explicit LateResponseStage(std::int64_t delay_ms) : delay_ms_(delay_ms) {}
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    if (!frame.frame.is_reply()) {
      co_await next.frame(std::move(frame));
      co_return;
    }
    auto detail = describe(frame);
    detail["delay_ms"] = delay_ms_;
    ctx.injected(std::move(detail));
    const auto due = frame.arrival + std::chrono::milliseconds(delay_ms_);
    ctx.spawn([&ctx, due, next, held = std::move(frame)]() mutable -> asio::awaitable<void> {
      co_await ctx.wait_until(due);
      co_await next.frame(std::move(held));
    });
  }

 private:
  std::int64_t delay_ms_;
};

class LateResponseFault final : public FrameFault {
 public:
  explicit LateResponseFault(std::int64_t delay_ms) : delay_ms_(delay_ms) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<LateResponseStage>(delay_ms_); }
  nlohmann::json attributes() const override { return {{"delay", delay_ms_}}; }

 private:
  std::int64_t delay_ms_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_late_response_frame_fault(AttributeReader& a) {
  return std::make_shared<LateResponseFault>(a.integer("delay", 70'000, 0, 86'400'000));
}

}  // namespace faultline
