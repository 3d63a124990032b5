// duplicate: each matched message is delivered, then `count` more copies of it.
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

class DuplicateStage final : public FrameStage {
 public:
  explicit DuplicateStage(std::int64_t count) : count_(count) {}
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    auto detail = describe(frame);
    detail["copies"] = count_;
    ctx.injected(std::move(detail));
    for (std::int64_t i = 0; i < count_; ++i) co_await next.frame(frame);
    co_await next.frame(std::move(frame));
  }

 private:
  std::int64_t count_;
};

class DuplicateFault final : public FrameFault {
 public:
  explicit DuplicateFault(std::int64_t count) : count_(count) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<DuplicateStage>(count_); }
  nlohmann::json attributes() const override { return {{"count", count_}}; }

 private:
  std::int64_t count_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_duplicate_frame_fault(AttributeReader& a) {
  return std::make_shared<DuplicateFault>(a.integer("count", 1, 1, 1000));
}

}  // namespace faultline
