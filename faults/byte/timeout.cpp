// timeout: nothing crosses while the fault is on. With timeout > 0 the
// connection is closed timeout ms after the fault attached; with 0 it is held
// open forever. Removing the fault releases what it held, in order.
#include <chrono>

#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class TimeoutStage final : public ByteStage {
 public:
  explicit TimeoutStage(std::int64_t timeout_ms) : timeout_ms_(timeout_ms) {}

  asio::awaitable<void> on_attach(StageContext& ctx) override {
    if (timeout_ms_ == 0) co_return;
    // (GCC 12 miscompiles co_await inside an if condition: keep it a statement.)
    const bool expired = co_await ctx.wait_until(ctx.now() + std::chrono::milliseconds(timeout_ms_));
    if (expired) {
      ctx.injected({{"action", "close"}, {"after_ms", timeout_ms_}});
      ctx.close_connection(CloseMode::fin, "timeout fault");
    }
  }

  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) override {
    co_await hold(ctx);
    co_await next.data(std::move(chunk));
  }

  asio::awaitable<void> on_end(StreamEnd end, StageContext& ctx, Next next) override {
    co_await hold(ctx);
    co_await next.end(end);
  }

 private:
  asio::awaitable<void> hold(StageContext& ctx) {
    if (!held_) ctx.injected({{"action", "hold"}});
    held_ = true;
    co_await ctx.wait_until(Clock::time_point::max());
  }

  std::int64_t timeout_ms_;
  bool held_ = false;
};

class TimeoutFault final : public ByteFault {
 public:
  explicit TimeoutFault(std::int64_t timeout_ms) : timeout_ms_(timeout_ms) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<TimeoutStage>(timeout_ms_); }
  nlohmann::json attributes() const override { return {{"timeout", timeout_ms_}}; }

 private:
  std::int64_t timeout_ms_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_timeout_fault(AttributeReader& a) {
  return std::make_shared<TimeoutFault>(a.integer("timeout", 0, 0, 86'400'000));
}

}  // namespace faultline
