// kill: the server process dies (docs/outages.md #1, #2): `signal` (SIGKILL by
// default) goes to its process group at `after_ms`, or on the first matched
// message, which is then passed on into the dying server.
#include <csignal>

#include "faults/frame_registry.hpp"
#include "faults/frame_trigger.hpp"

namespace faultline {
namespace {

struct KillSettings {
  int signo;
  TriggerSettings trigger;
};

class KillStage final : public TriggeredStage {
 public:
  explicit KillStage(KillSettings s) : TriggeredStage(s.trigger, false), s_(s) {}

 protected:
  asio::awaitable<bool> act(FrameStageContext& ctx, const WireFrame* cause) override {
    const bool sent = ctx.signal_server(s_.signo);
    ctx.injected(cause_detail(cause, {{"signal", signal_name(s_.signo)}, {"sent", sent}}));
    co_return true;
  }

 private:
  KillSettings s_;
};

class KillFault final : public FrameFault {
 public:
  explicit KillFault(KillSettings s) : s_(s) {}
  std::unique_ptr<FrameStage> instantiate() const override { return std::make_unique<KillStage>(s_); }
  nlohmann::json attributes() const override {
    return {{"signal", signal_name(s_.signo)}, {"after_ms", s_.trigger.to_json()}};
  }

 private:
  KillSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_kill_frame_fault(AttributeReader& a) {
  KillSettings s;
  s.signo = a.signal("signal", SIGKILL);
  s.trigger = read_trigger(a);
  return std::make_shared<KillFault>(s);
}

}  // namespace faultline
