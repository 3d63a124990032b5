// rewrite_retry: every `retry:` field of a matched SSE event tells the client
// `retry` ms instead; with add=1 the first event of each stream carries one
// even when the server sent none. Drives a client's reconnect timing (tight
// reconnect loops, docs/outages.md #8, or very slow ones).
#include "faults/frame_registry.hpp"
#include "faults/http_fault.hpp"

namespace faultline {
namespace {

struct RetrySettings {
  std::int64_t retry_ms;
  bool add;
};

class RewriteRetryStage final : public HttpStage {
 public:
  explicit RewriteRetryStage(RetrySettings s) : s_(s) {}
  SseAction on_sse_event(mcp::SseEvent& event, bool matched, bool first, HttpFaultContext& ctx) override {
    if (!matched || (!event.retry && !(s_.add && first))) return SseAction::pass;
    nlohmann::json detail = {{"retry_ms", s_.retry_ms}};
    detail["was"] = event.retry ? nlohmann::json(*event.retry) : nlohmann::json(nullptr);
    ctx.injected(std::move(detail));
    event.retry = static_cast<std::uint64_t>(s_.retry_ms);
    return SseAction::pass;
  }

 private:
  RetrySettings s_;
};

class RewriteRetryFault final : public HttpFault {
 public:
  explicit RewriteRetryFault(RetrySettings s) : s_(s) {}
  std::unique_ptr<HttpStage> instantiate_http() const override { return std::make_unique<RewriteRetryStage>(s_); }
  nlohmann::json attributes() const override { return {{"retry", s_.retry_ms}, {"add", s_.add ? 1 : 0}}; }

 private:
  RetrySettings s_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_rewrite_retry_frame_fault(AttributeReader& a) {
  RetrySettings s;
  s.retry_ms = a.integer("retry", 100, 0, 86'400'000);
  s.add = a.integer("add", 0, 0, 1) == 1;
  return std::make_shared<RewriteRetryFault>(s);
}

}  // namespace faultline
