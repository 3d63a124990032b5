// slicer: cuts each chunk into pieces of about `average_size` bytes (+/-
// `size_variation`), sent `delay` microseconds apart, to exercise a peer's
// handling of partial reads.
#include <algorithm>
#include <chrono>

#include "core/errors.hpp"
#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

struct SlicerSettings {
  std::int64_t average_size;
  std::int64_t size_variation;
  std::int64_t delay_us;
};

class SlicerStage final : public ByteStage {
 public:
  explicit SlicerStage(SlicerSettings s) : s_(s) {}

  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) override {
    const std::size_t total = chunk.bytes.size();
    std::size_t offset = 0;
    std::size_t pieces = 0;
    while (offset < total) {
      std::int64_t size = s_.average_size;
      if (s_.size_variation > 0) size += ctx.rng().integer(-s_.size_variation, s_.size_variation);
      const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(std::max<std::int64_t>(size, 1)), total - offset);
      if (offset == 0 && n == total) {  // nothing to cut
        co_await next.data(std::move(chunk));
        co_return;
      }
      if (pieces > 0 && s_.delay_us > 0 && !ctx.removed())
        co_await ctx.wait_until(ctx.now() + std::chrono::microseconds(s_.delay_us));
      Chunk part{Bytes(chunk.bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                                   chunk.bytes.begin() + static_cast<std::ptrdiff_t>(offset + n)),
                 chunk.arrival};
      offset += n;
      ++pieces;
      co_await next.data(std::move(part));
    }
    ctx.injected(first_ ? nlohmann::json{{"pieces", pieces}, {"bytes", total}} : nlohmann::json(nullptr));
    first_ = false;
  }

 private:
  SlicerSettings s_;
  bool first_ = true;
};

class SlicerFault final : public ByteFault {
 public:
  explicit SlicerFault(SlicerSettings s) : s_(s) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<SlicerStage>(s_); }
  nlohmann::json attributes() const override {
    return {{"average_size", s_.average_size}, {"size_variation", s_.size_variation}, {"delay", s_.delay_us}};
  }

 private:
  SlicerSettings s_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_slicer_fault(AttributeReader& a) {
  SlicerSettings s;
  s.average_size = a.integer("average_size", 0, 0, 1 << 24);
  s.size_variation = a.integer("size_variation", 0, 0, 1 << 24);
  s.delay_us = a.integer("delay", 0, 0, 60'000'000);
  if (s.average_size == 0) throw ConfigError(a.pointer() + "/average_size", "must be at least 1");
  if (s.size_variation >= s.average_size)
    throw ConfigError(a.pointer() + "/size_variation", "must be smaller than average_size");
  return std::make_shared<SlicerFault>(s);
}

}  // namespace faultline
