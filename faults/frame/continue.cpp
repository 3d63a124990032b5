// continue: the server is resumed with SIGCONT at `after_ms` or on the first
// matched message (the partner of stop).
#include <csignal>

#include "faults/frame_registry.hpp"
#include "faults/frame_trigger.hpp"

namespace faultline {
namespace {

class ContinueStage final : public TriggeredStage {
 public:
  explicit ContinueStage(TriggerSettings t) : TriggeredStage(t, false) {}

 protected:
  asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) override {
    const bool sent = ctx.signal_server(SIGCONT);
    ctx.injected(cause_detail(cause, {{"signal", "SIGCONT"}, {"sent", sent}}));
    co_return true;
  }
};

class ContinueFault final : public FrameFault {
 public:
  explicit ContinueFault(TriggerSettings t) : t_(t) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<ContinueStage>(t_); }
  nlohmann::json attributes() const override { return {{"after_ms", t_.to_json()}}; }

 private:
  TriggerSettings t_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_continue_frame_fault(AttributeReader& a) {
  return std::make_shared<ContinueFault>(read_trigger(a));
}

}  // namespace faultline
