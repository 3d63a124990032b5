// half_open: the idle middlebox that forgot the connection. Bytes in this
// direction vanish, and so does the sender's FIN or RST: both sockets stay
// open, and the receiver never hears a thing. Removing the fault lets a held
// close through; the bytes it swallowed are gone, as on a real black hole.
#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class HalfOpenStage final : public ByteStage {
 public:
  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next) override {
    swallowed_ += chunk.bytes.size();
    ctx.injected(first_ ? nlohmann::json{{"action", "swallow"}, {"bytes", chunk.bytes.size()}} : nlohmann::json(nullptr));
    first_ = false;
    co_return;
  }

  asio::awaitable<void> on_end(StreamEnd end, StageContext& ctx, Next next) override {
    ctx.injected({{"action", "hold_close"}, {"close", std::string(to_string(end.kind))}, {"swallowed_bytes", swallowed_}});
    co_await ctx.wait_until(Clock::time_point::max());
    if (ctx.removed()) co_await next.end(end);
  }

 private:
  std::uint64_t swallowed_ = 0;
  bool first_ = true;
};

class HalfOpenFault final : public ByteFault {
 public:
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<HalfOpenStage>(); }
  nlohmann::json attributes() const override { return nlohmann::json::object(); }
};

}  // namespace

std::shared_ptr<const ByteFault> make_half_open_fault(AttributeReader&) { return std::make_shared<HalfOpenFault>(); }

}  // namespace faultline
