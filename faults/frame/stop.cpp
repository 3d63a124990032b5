// stop: the server is paused with SIGSTOP (docs/outages.md #15) at `after_ms` or on the
// first matched message; with `duration` ms it is resumed (SIGCONT) after that
// long, otherwise it stays paused until a continue fault or shutdown.
#include <csignal>

#include "faults/frame_registry.hpp"
#include "faults/frame_trigger.hpp"

namespace faultline {
namespace {

struct StopSettings {
  std::int64_t duration_ms;
  TriggerSettings trigger;
};

class StopStage final : public TriggeredStage {
 public:
  explicit StopStage(StopSettings s) : TriggeredStage(s.trigger, false), s_(s) {}

 protected:
  asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) override {
    const bool sent = ctx.signal_server(SIGSTOP);
    ctx.injected(cause_detail(cause, {{"signal", "SIGSTOP"}, {"sent", sent}, {"duration_ms", s_.duration_ms}}));
    if (sent && s_.duration_ms > 0) {
      const auto until = ctx.now() + std::chrono::milliseconds(s_.duration_ms);
      ctx.spawn([&ctx, until]() -> asio::awaitable<void> {
        co_await ctx.wait_until(until);  // cut short by removal or shutdown: resume anyway
        ctx.signal_server(SIGCONT);
        ctx.injected({{"signal", "SIGCONT"}, {"trigger", "duration"}});
      });
    }
    co_return true;
  }

 private:
  StopSettings s_;
};

class StopFault final : public FrameFault {
 public:
  explicit StopFault(StopSettings s) : s_(s) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<StopStage>(s_); }
  nlohmann::json attributes() const override {
    return {{"duration", s_.duration_ms}, {"after_ms", s_.trigger.to_json()}};
  }

 private:
  StopSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_stop_frame_fault(AttributeReader& a) {
  StopSettings s;
  s.duration_ms = a.integer("duration", 0, 0, 86'400'000);
  s.trigger = read_trigger(a);
  return std::make_shared<StopFault>(s);
}

}  // namespace faultline
