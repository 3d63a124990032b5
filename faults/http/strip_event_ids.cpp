// strip_event_ids: matched SSE events reach the client without their `id:`
// field, so it has no Last-Event-ID to resume from (docs/outages.md #7: a stream that
// closes without event ids is not resumed).
#include "faults/frame_registry.hpp"
#include "faults/http_fault.hpp"

namespace faultline {
namespace {

class StripEventIdsStage final : public HttpStage {
 public:
  SseAction on_sse_event(mcp::SseEvent& event, bool matched, bool, HttpFaultContext& ctx) override {
    if (!matched || !event.id) return SseAction::pass;
    ctx.injected(injected_ ? nlohmann::json(nullptr) : nlohmann::json{{"id", *event.id}});
    injected_ = true;  // one fault.inject event per stream; every strip is counted
    event.id.reset();
    return SseAction::pass;
  }

 private:
  bool injected_ = false;
};

class StripEventIdsFault final : public HttpFault {
 public:
  std::unique_ptr<HttpStage> instantiate_http() const override { return std::make_unique<StripEventIdsStage>(); }
  nlohmann::json attributes() const override { return nlohmann::json::object(); }
};

}  // namespace

std::shared_ptr<const FrameFault> make_strip_event_ids_frame_fault(AttributeReader&) {
  return std::make_shared<StripEventIdsFault>();
}

}  // namespace faultline
