#pragma once
// Shared by the faults that act on the process or the stream rather than on a
// message (kill, stop, continue, banner, close_stdout): they act at `after_ms`
// after attach when it is given, otherwise on a matched frame (once, unless
// the fault repeats). act() returns whether the triggering frame goes on.

#include <optional>

#include "faults/attribute_reader.hpp"
#include "faults/frame_fault.hpp"

namespace faultline {

struct TriggerSettings {
  std::optional<std::int64_t> after_ms;
  nlohmann::json to_json() const { return after_ms ? nlohmann::json(*after_ms) : nlohmann::json(nullptr); }
};

inline TriggerSettings read_trigger(AttributeReader& a) { return {a.optional_integer("after_ms", 0, 86'400'000)}; }

class TriggeredStage : public FrameStage {
 public:
  TriggeredStage(TriggerSettings t, bool repeats) : trigger_(t), repeats_(repeats) {}

  bool acts_on_time() const override { return trigger_.after_ms.has_value(); }

  asio::awaitable<void> on_attach(FrameStageContext& ctx) override {
    if (!trigger_.after_ms) co_return;
    const bool reached = co_await ctx.wait_until(ctx.now() + std::chrono::milliseconds(*trigger_.after_ms));
    if (!reached || done_) co_return;
    done_ = true;
    co_await act(ctx, nullptr);
  }

  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    bool forward = true;
    if (!trigger_.after_ms && (repeats_ || !done_)) {
      done_ = true;
      forward = co_await act(ctx, &frame);
    }
    if (forward) co_await next.frame(std::move(frame));
  }

 protected:
  // `cause` is the matched frame, or null when the timer fired.
  virtual asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) = 0;
  static nlohmann::json cause_detail(const WireFrame* cause, nlohmann::json detail) {
    if (cause) detail["trigger"] = describe(*cause);
    else detail["trigger"] = "after_ms";
    return detail;
  }

 private:
  TriggerSettings trigger_;
  bool repeats_;
  bool done_ = false;
};

}  // namespace faultline
