// banner: a line that is not JSON-RPC (a log line, a startup banner) appears
// on the server's stdout toward the client (docs/outages.md #14): once at `after_ms`,
// or before every matched message when after_ms is not given.
#include "core/errors.hpp"
#include "faults/frame_registry.hpp"
#include "faults/frame_trigger.hpp"

namespace faultline {
namespace {

struct BannerSettings {
  std::string text;
  TriggerSettings trigger;
};

class BannerStage final : public TriggeredStage {
 public:
  explicit BannerStage(BannerSettings s) : TriggeredStage(s.trigger, true), s_(std::move(s)) {}

 protected:
  asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) override {
    ctx.injected(cause_detail(cause, {{"text", s_.text}}));
    WireFrame line;
    line.frame.raw = s_.text;  // an invalid frame: written as is, with "\n"
    line.arrival = ctx.now();
    co_await ctx.emit(std::move(line));
    co_return true;
  }

 private:
  BannerSettings s_;
};

class BannerFault final : public FrameFault {
 public:
  explicit BannerFault(BannerSettings s) : s_(std::move(s)) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<BannerStage>(s_); }
  nlohmann::json attributes() const override { return {{"text", s_.text}, {"after_ms", s_.trigger.to_json()}}; }

 private:
  BannerSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_banner_frame_fault(AttributeReader& a) {
  BannerSettings s;
  s.text = a.string("text", "faultline banner: this line is not JSON-RPC");
  if (s.text.find('\n') != std::string::npos)
    throw ConfigError(a.pointer() + "/text", "must be one line (use malformed,mode=embedded_newline to split a message)");
  s.trigger = read_trigger(a);
  return std::make_shared<BannerFault>(std::move(s));
}

}  // namespace faultline
