// ws_close: the WebSocket is closed with a given code and reason, as if the
// sender of this direction had closed it (downstream: the client gets the
// server's close). At `after_ms`, or on the first matched message, which is
// the first one lost. Websocket links only.
#include "core/errors.hpp"
#include "faults/frame_registry.hpp"
#include "faults/frame_trigger.hpp"
#include "faults/ws_frame_fault.hpp"
#include "mcp/ws_codec.hpp"

namespace faultline {
namespace {

struct WsCloseSettings {
  int code;
  std::string reason;
  TriggerSettings trigger;
};

class WsCloseStage final : public TriggeredStage {
 public:
  explicit WsCloseStage(WsCloseSettings s) : TriggeredStage(s.trigger, false), s_(std::move(s)) {}

 protected:
  asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) override {
    auto* ws = ctx.ws_context();
    if (!ws) co_return true;  // not a websocket link (the link refuses the fault first)
    ctx.injected(cause_detail(cause, {{"code", s_.code}, {"reason", s_.reason}}));
    ws->close_websocket(s_.code, s_.reason);
    co_return false;
  }

 private:
  WsCloseSettings s_;
};

class WsCloseFault final : public FrameFault {
 public:
  explicit WsCloseFault(WsCloseSettings s) : s_(std::move(s)) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<WsCloseStage>(s_); }
  nlohmann::json attributes() const override {
    return {{"code", s_.code}, {"reason", s_.reason}, {"after_ms", s_.trigger.to_json()}};
  }

 private:
  WsCloseSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_ws_close_frame_fault(AttributeReader& a) {
  WsCloseSettings s;
  s.code = static_cast<int>(a.integer("code", 1011, 1000, 4999));
  if (!mcp::ws_close_code_sendable(s.code))
    throw ConfigError(a.pointer() + "/code", "close code " + std::to_string(s.code) +
                                                 " may not be sent (use 1000-1003, 1007-1014 or 3000-4999)");
  s.reason = a.string("reason", "faultline: ws_close fault");
  if (s.reason.size() > 123) throw ConfigError(a.pointer() + "/reason", "must be at most 123 bytes (a close frame's limit)");
  if (!mcp::valid_utf8(s.reason)) throw ConfigError(a.pointer() + "/reason", "must be valid UTF-8");
  s.trigger = read_trigger(a);
  return std::make_shared<WsCloseFault>(std::move(s));
}

}  // namespace faultline
