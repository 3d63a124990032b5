// close_sse: an SSE stream is cut mid-call (a load balancer's request cap,
// docs/outages.md #5 and #7): when a matched event is due, the link closes the stream
// instead of delivering it; the event stays in the server's event store for a
// client that resumes with Last-Event-ID. how=close closes the client's TCP
// connection (no terminating chunk: the client sees a network error);
// how=end ends the chunked body cleanly and keeps the connection. At most
// `count` streams are cut over the link's life.
#include "faults/frame_registry.hpp"
#include "faults/http_fault.hpp"

namespace faultline {
namespace {

struct CloseSseSettings {
  std::string how;
  std::int64_t count;
};

class CloseSseStage final : public HttpStage {
 public:
  explicit CloseSseStage(CloseSseSettings s) : s_(std::move(s)) {}
  SseAction on_sse_event(mcp::SseEvent& event, bool matched, bool, HttpFaultContext& ctx) override {
    if (!matched || !ctx.memory().take_use(static_cast<std::uint64_t>(s_.count))) return SseAction::pass;
    nlohmann::json detail = {{"how", s_.how}, {"event_bytes", event.raw.size()}};
    if (event.id) detail["event_id"] = *event.id;
    ctx.injected(std::move(detail));
    return s_.how == "end" ? SseAction::end_stream : SseAction::close_connection;
  }

 private:
  CloseSseSettings s_;
};

class CloseSseFault final : public HttpFault {
 public:
  explicit CloseSseFault(CloseSseSettings s) : s_(std::move(s)) {}
  std::unique_ptr<HttpStage> instantiate_http() const override { return std::make_unique<CloseSseStage>(s_); }
  nlohmann::json attributes() const override { return {{"how", s_.how}, {"count", s_.count}}; }

 private:
  CloseSseSettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_close_sse_frame_fault(AttributeReader& a) {
  CloseSseSettings s;
  s.how = a.choice("how", "close", {"close", "end"});
  s.count = a.integer("count", 1, 1, 1'000'000'000);
  return std::make_shared<CloseSseFault>(std::move(s));
}

}  // namespace faultline
