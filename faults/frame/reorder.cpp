// reorder: a matched message is held until the next `after` messages have gone
// by, then released behind them. One message is held at a time; the end of the
// stream releases it (nothing is lost).
#include <optional>

#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

class ReorderStage final : public FrameStage {
 public:
  explicit ReorderStage(std::int64_t after) : after_(after) {}

  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    if (held_) {
      co_await on_other(std::move(frame), ctx, next);
      co_return;
    }
    auto detail = describe(frame);
    detail["after"] = after_;
    ctx.injected(std::move(detail));
    held_ = std::move(frame);
    passed_ = 0;
  }

  asio::awaitable<void> on_other(WireFrame frame, FrameStageContext&, FrameNext next) override {
    co_await next.frame(std::move(frame));
    if (held_ && ++passed_ >= after_) co_await release(next);
  }

  asio::awaitable<void> on_end(FrameStageContext&, FrameNext next) override {
    co_await release(next);
    co_await next.end();
  }

 private:
  asio::awaitable<void> release(const FrameNext& next) {
    if (!held_) co_return;
    WireFrame frame = std::move(*held_);
    held_.reset();
    co_await next.frame(std::move(frame));
  }

  std::int64_t after_;
  std::optional<WireFrame> held_;
  std::int64_t passed_ = 0;
};

class ReorderFault final : public FrameFault {
 public:
  explicit ReorderFault(std::int64_t after) : after_(after) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<ReorderStage>(after_); }
  nlohmann::json attributes() const override { return {{"after", after_}}; }

 private:
  std::int64_t after_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_reorder_frame_fault(AttributeReader& a) {
  return std::make_shared<ReorderFault>(a.integer("after", 1, 1, 1'000'000));
}

}  // namespace faultline
