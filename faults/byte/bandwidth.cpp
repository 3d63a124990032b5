// bandwidth: paces a direction to `rate` KB/s (1 KB = 1000 bytes, as in
// Toxiproxy). Each piece leaves when it would have finished crossing a link of
// that rate; large chunks are cut into 100 ms pieces so the stream stays smooth.
#include <algorithm>
#include <chrono>

#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class BandwidthStage final : public ByteStage {
 public:
  explicit BandwidthStage(std::int64_t rate_kbps) : rate_(rate_kbps) {}

  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) override {
    if (rate_ <= 0) {
      co_await next.data(std::move(chunk));
      co_return;
    }
    ctx.injected(first_ ? nlohmann::json{{"rate_kbps", rate_}} : nlohmann::json(nullptr));
    first_ = false;
    const std::size_t piece = static_cast<std::size_t>(std::max<std::int64_t>(rate_ * 100, 1));  // 100 ms worth
    std::size_t offset = 0;
    while (offset < chunk.bytes.size()) {
      const std::size_t n = std::min(piece, chunk.bytes.size() - offset);
      const auto start = std::max(ctx.now(), free_at_);
      // bytes / (rate KB/s) = bytes / rate ms
      free_at_ = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double, std::milli>(static_cast<double>(n) / static_cast<double>(rate_)));
      const bool on_time = co_await ctx.wait_until(free_at_);
      if (!on_time) free_at_ = ctx.now();  // removed: flush the rest at once
      if (offset == 0 && n == chunk.bytes.size()) {
        co_await next.data(std::move(chunk));
        co_return;
      }
      Chunk part{Bytes(chunk.bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                                   chunk.bytes.begin() + static_cast<std::ptrdiff_t>(offset + n)),
                 chunk.arrival};
      offset += n;
      co_await next.data(std::move(part));
    }
  }

 private:
  std::int64_t rate_;
  Clock::time_point free_at_{};
  bool first_ = true;
};

class BandwidthFault final : public ByteFault {
 public:
  explicit BandwidthFault(std::int64_t rate) : rate_(rate) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<BandwidthStage>(rate_); }
  nlohmann::json attributes() const override { return {{"rate", rate_}}; }

 private:
  std::int64_t rate_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_bandwidth_fault(AttributeReader& a) {
  return std::make_shared<BandwidthFault>(a.integer("rate", 0, 0, 100'000'000));
}

}  // namespace faultline
