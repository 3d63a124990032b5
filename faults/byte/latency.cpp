// latency: every chunk leaves `latency` ms (+/- `jitter` ms) after it arrived.
// Measured from arrival, so time spent queued behind other chunks or other
// faults is not added again.
#include <chrono>

#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

struct LatencySettings {
  std::int64_t latency_ms;
  std::int64_t jitter_ms;
};

class LatencyStage final : public ByteStage {
 public:
  explicit LatencyStage(LatencySettings s) : s_(s) {}

  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) override {
    double delay_ms = static_cast<double>(s_.latency_ms);
    if (s_.jitter_ms > 0) delay_ms += ctx.rng().uniform(-1.0, 1.0) * static_cast<double>(s_.jitter_ms);
    if (delay_ms < 0) delay_ms = 0;
    const auto due = chunk.arrival + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double, std::milli>(delay_ms));
    ctx.injected(first_ ? nlohmann::json{{"delay_ms", delay_ms}} : nlohmann::json(nullptr));
    first_ = false;
    co_await ctx.wait_until(due);
    co_await next.data(std::move(chunk));
  }

 private:
  LatencySettings s_;
  bool first_ = true;
};

class LatencyFault final : public ByteFault {
 public:
  explicit LatencyFault(LatencySettings s) : s_(s) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<LatencyStage>(s_); }
  nlohmann::json attributes() const override { return {{"latency", s_.latency_ms}, {"jitter", s_.jitter_ms}}; }

 private:
  LatencySettings s_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_latency_fault(AttributeReader& a) {
  LatencySettings s;
  s.latency_ms = a.integer("latency", 0, 0, 3'600'000);
  s.jitter_ms = a.integer("jitter", 0, 0, 3'600'000);
  return std::make_shared<LatencyFault>(s);
}

}  // namespace faultline
