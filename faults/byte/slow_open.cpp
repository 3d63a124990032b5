// slow_open: a new connection waits `delay` ms before faultline opens its
// upstream connection, as behind a slow SYN/ACK or a cold server. The client's
// own connect succeeds at once; its first bytes wait with the upstream.
#include <chrono>

#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class SlowOpenStage final : public ByteStage {
 public:
  explicit SlowOpenStage(std::int64_t delay_ms) : delay_ms_(delay_ms) {}

  asio::awaitable<void> before_connect(StageContext& ctx) override {
    if (delay_ms_ == 0) co_return;
    ctx.injected({{"action", "delay_connect"}, {"delay_ms", delay_ms_}});
    co_await ctx.wait_until(ctx.now() + std::chrono::milliseconds(delay_ms_));
  }

  asio::awaitable<void> on_data(Chunk chunk, StageContext&, Next next) override {
    co_await next.data(std::move(chunk));
  }

 private:
  std::int64_t delay_ms_;
};

class SlowOpenFault final : public ByteFault {
 public:
  explicit SlowOpenFault(std::int64_t delay_ms) : delay_ms_(delay_ms) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<SlowOpenStage>(delay_ms_); }
  nlohmann::json attributes() const override { return {{"delay", delay_ms_}}; }

 private:
  std::int64_t delay_ms_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_slow_open_fault(AttributeReader& a) {
  return std::make_shared<SlowOpenFault>(a.integer("delay", 0, 0, 3'600'000));
}

}  // namespace faultline
