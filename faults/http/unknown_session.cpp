// unknown_session: like forget_session, but the server answers 400 Bad Request
// for the session it no longer knows instead of 404 (docs/outages.md #12): a client
// that re-initializes only on 404 keeps using the dead session.
#include "faults/frame_registry.hpp"
#include "faults/http_fault.hpp"

namespace faultline {
namespace {

class UnknownSessionStage final : public HttpStage {
 public:
  explicit UnknownSessionStage(std::int64_t sessions) : sessions_(sessions) {}
  std::optional<HttpAnswer> on_request(const HttpRequestView& request, bool matched, HttpFaultContext& ctx) override {
    if (request.session.empty()) return std::nullopt;
    auto& memory = ctx.memory();
    const bool unknown = memory.has_session(request.session) ||
                         (matched && memory.add_session(request.session, static_cast<std::uint64_t>(sessions_)));
    if (!unknown) return std::nullopt;
    ctx.injected({{"http_method", request.method}, {"session", request.session}, {"status", 400}});
    return HttpAnswer{400, "application/json", http_error_body(-32000, "Bad Request: No valid session ID provided")};
  }

 private:
  std::int64_t sessions_;
};

class UnknownSessionFault final : public HttpFault {
 public:
  explicit UnknownSessionFault(std::int64_t sessions) : sessions_(sessions) {}
  std::unique_ptr<HttpStage> instantiate_http() const override { return std::make_unique<UnknownSessionStage>(sessions_); }
  nlohmann::json attributes() const override { return {{"sessions", sessions_}}; }

 private:
  std::int64_t sessions_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_unknown_session_frame_fault(AttributeReader& a) {
  return std::make_shared<UnknownSessionFault>(a.integer("sessions", 1, 1, 1'000'000));
}

}  // namespace faultline
