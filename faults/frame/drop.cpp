// drop: matched messages vanish. The one frame fault whose point is losing data.
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

class DropStage final : public FrameStage {
 public:
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext) override {
    ctx.injected(describe(frame));
    co_return;
  }
};

class DropFault final : public FrameFault {
 public:
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<DropStage>(); }
  nlohmann::json attributes() const override { return nlohmann::json::object(); }
};

}  // namespace

std::shared_ptr<const FrameFault> make_drop_frame_fault(AttributeReader&) { return std::make_shared<DropFault>(); }

}  // namespace faultline
