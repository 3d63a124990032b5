// slow_close: when the sender closes its side, the close (FIN) reaches the
// peer `delay` ms later; data before it is untouched.
#include <chrono>

#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class SlowCloseStage final : public ByteStage {
 public:
  explicit SlowCloseStage(std::int64_t delay_ms) : delay_ms_(delay_ms) {}

  asio::awaitable<void> on_data(Chunk chunk, StageContext&, Next next) override {
    co_await next.data(std::move(chunk));
  }

  asio::awaitable<void> on_end(StreamEnd end, StageContext& ctx, Next next) override {
    if (end.kind == StreamEnd::fin && delay_ms_ > 0) {
      ctx.injected({{"delay_ms", delay_ms_}});
      co_await ctx.wait_until(ctx.now() + std::chrono::milliseconds(delay_ms_));
    }
    co_await next.end(end);
  }

 private:
  std::int64_t delay_ms_;
};

class SlowCloseFault final : public ByteFault {
 public:
  explicit SlowCloseFault(std::int64_t delay_ms) : delay_ms_(delay_ms) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<SlowCloseStage>(delay_ms_); }
  nlohmann::json attributes() const override { return {{"delay", delay_ms_}}; }

 private:
  std::int64_t delay_ms_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_slow_close_fault(AttributeReader& a) {
  return std::make_shared<SlowCloseFault>(a.integer("delay", 0, 0, 3'600'000));
}

}  // namespace faultline
