// close_stdout: the server's output stops reaching the client. faultline stops
// forwarding the server's stdout and closes its own stdout, so the client reads
// end-of-file while the server process (and faultline) keep running; what the
// server writes afterwards is read and discarded, so it never blocks. Triggered
// at `after_ms`, or by the first matched message, which is the first one lost.
#include "faults/frame_registry.hpp"
#include "faults/frame_trigger.hpp"

namespace faultline {
namespace {

class CloseStdoutStage final : public TriggeredStage {
 public:
  explicit CloseStdoutStage(TriggerSettings t) : TriggeredStage(t, false) {}

 protected:
  asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) override {
    ctx.injected(cause_detail(cause, nlohmann::json::object()));
    ctx.close_output("close_stdout fault");
    co_return false;
  }
};

class CloseStdoutFault final : public FrameFault {
 public:
  explicit CloseStdoutFault(TriggerSettings t) : t_(t) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<CloseStdoutStage>(t_); }
  nlohmann::json attributes() const override { return {{"after_ms", t_.to_json()}}; }

 private:
  TriggerSettings t_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_close_stdout_frame_fault(AttributeReader& a) {
  return std::make_shared<CloseStdoutFault>(read_trigger(a));
}

}  // namespace faultline
