// fragment: a matched message is sent in several WebSocket frames (a text
// frame and continuations) instead of one: into `count` frames of about equal
// size, or in frames of `size` bytes. A correct peer joins them; a peer that
// treats each frame as a message breaks. Websocket links only.
#include "core/errors.hpp"
#include "faults/frame_registry.hpp"
#include "faults/ws_frame_fault.hpp"

namespace faultline {
namespace {

struct FragmentSettings {
  std::int64_t count;  // 0: by size
  std::int64_t size;   // 0: by count
};

// The payload sizes of the frames, all but the last; the last takes the rest.
std::vector<std::size_t> split(const FragmentSettings& s, std::size_t total) {
  std::vector<std::size_t> sizes;
  if (s.size > 0) {
    for (std::size_t at = static_cast<std::size_t>(s.size); at < total; at += static_cast<std::size_t>(s.size))
      sizes.push_back(static_cast<std::size_t>(s.size));
    return sizes;
  }
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(s.count), total);
  for (std::size_t i = 1; i < n; ++i) sizes.push_back(total * i / n - total * (i - 1) / n);
  return sizes;
}

class FragmentStage final : public FrameStage {
 public:
  explicit FragmentStage(FragmentSettings s) : s_(s) {}
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    auto* ws = ctx.ws_context();
    auto sizes = split(s_, frame.frame.raw.size());
    if (!ws || sizes.empty()) {  // too short to split
      co_await next.frame(std::move(frame));
      co_return;
    }
    auto detail = describe(frame);
    detail["frames"] = sizes.size() + 1;
    ctx.injected(std::move(detail));
    co_await ws->emit_fragmented(std::move(frame), std::move(sizes));
  }

 private:
  FragmentSettings s_;
};

class FragmentFault final : public FrameFault {
 public:
  explicit FragmentFault(FragmentSettings s) : s_(s) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<FragmentStage>(s_); }
  nlohmann::json attributes() const override {
    if (s_.size > 0) return {{"size", s_.size}};
    return {{"count", s_.count}};
  }

 private:
  FragmentSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_fragment_frame_fault(AttributeReader& a) {
  FragmentSettings s;
  const auto count = a.optional_integer("count", 2, 65536);
  const auto size = a.optional_integer("size", 1, 1LL << 30);
  if (count && size) throw ConfigError(a.pointer() + "/size", "give count or size, not both");
  s.count = size ? 0 : count.value_or(2);
  s.size = size.value_or(0);
  return std::make_shared<FragmentFault>(s);
}

}  // namespace faultline
