// swallow_pongs: the pongs of this direction vanish while messages still flow
// (downstream: the server's answers to the client's pings), the half-dead
// peer a client's heartbeat should detect (docs/outages.md #13, #15). Websocket links
// only; pings and messages pass untouched.
#include "faults/frame_registry.hpp"
#include "faults/ws_frame_fault.hpp"

namespace faultline {
namespace {

class SwallowPongsStage final : public FrameStage, public WsControlStage {
 public:
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext&, FrameNext next) override {
    co_await next.frame(std::move(frame));
  }
  bool pass_control(WsControl kind, FrameStageContext& ctx) override {
    if (kind != WsControl::pong) return true;
    // One event for the first pong; the count covers the rest.
    ctx.injected(swallowed_++ == 0 ? nlohmann::json{{"action", "swallow_pong"}} : nlohmann::json(nullptr));
    return false;
  }

 private:
  std::uint64_t swallowed_ = 0;
};

class SwallowPongsFault final : public FrameFault {
 public:
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<SwallowPongsStage>(); }
  nlohmann::json attributes() const override { return nlohmann::json::object(); }
};

}  // namespace

std::shared_ptr<const FrameFault> make_swallow_pongs_frame_fault(AttributeReader&) {
  return std::make_shared<SwallowPongsFault>();
}

}  // namespace faultline
