// error: a matched request is answered in the server's place with a JSON-RPC
// error {code, message}; the server never sees it. Anything but a request (a
// notification has no id to answer) passes on untouched.
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

struct ErrorSettings {
  std::int64_t code;
  std::string message;
};

class ErrorStage final : public FrameStage {
 public:
  explicit ErrorStage(ErrorSettings s) : s_(std::move(s)) {}
  asio::awaitable<void> on_frame(WireFrame frame, FrameStageContext& ctx, FrameNext next) override {
    if (frame.frame.kind != mcp::FrameKind::request) {
      co_await next.frame(std::move(frame));
      co_return;
    }
    auto detail = describe(frame);
    detail["code"] = s_.code;
    ctx.injected(std::move(detail));
    WireFrame answer;
    answer.frame = mcp::make_frame({{"jsonrpc", "2.0"},
                                    {"id", frame.frame.id.to_json()},
                                    {"error", {{"code", s_.code}, {"message", s_.message}}}});
    answer.arrival = ctx.now();
    answer.method = frame.method;
    co_await ctx.reply(std::move(answer));
  }

 private:
  ErrorSettings s_;
};

class ErrorFault final : public FrameFault {
 public:
  explicit ErrorFault(ErrorSettings s) : s_(std::move(s)) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<ErrorStage>(s_); }
  nlohmann::json attributes() const override { return {{"code", s_.code}, {"message", s_.message}}; }

 private:
  ErrorSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_error_frame_fault(AttributeReader& a) {
  ErrorSettings s;
  s.code = a.integer("code", -32603, -2'147'483'648LL, 2'147'483'647LL);
  s.message = a.string("message", "faultline: injected error");
  return std::make_shared<ErrorFault>(std::move(s));
}

}  // namespace faultline
