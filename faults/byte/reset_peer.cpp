// reset_peer: when data next arrives, wait timeout ms, then reset the
// connection: both peers see a real RST (SO_LINGER 0), as in Toxiproxy.
#include <chrono>

#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class ResetPeerStage final : public ByteStage {
 public:
  explicit ResetPeerStage(std::int64_t timeout_ms) : timeout_ms_(timeout_ms) {}

  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) override {
    co_await ctx.wait_until(ctx.now() + std::chrono::milliseconds(timeout_ms_));
    if (ctx.removed()) {  // removed while waiting: the data goes on
      co_await next.data(std::move(chunk));
      co_return;
    }
    ctx.injected({{"action", "rst"}, {"after_ms", timeout_ms_}, {"discarded_bytes", chunk.bytes.size()}});
    ctx.close_connection(CloseMode::rst, "reset_peer fault");
  }

 private:
  std::int64_t timeout_ms_;
};

class ResetPeerFault final : public ByteFault {
 public:
  explicit ResetPeerFault(std::int64_t timeout_ms) : timeout_ms_(timeout_ms) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<ResetPeerStage>(timeout_ms_); }
  nlohmann::json attributes() const override { return {{"timeout", timeout_ms_}}; }

 private:
  std::int64_t timeout_ms_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_reset_peer_fault(AttributeReader& a) {
  return std::make_shared<ResetPeerFault>(a.integer("timeout", 0, 0, 86'400'000));
}

}  // namespace faultline
