// forget_session: the server lost the session (a restart, docs/outages.md #11). A
// matched request carrying an Mcp-Session-Id makes the link forget that
// session; from then on every request carrying it (POST, GET, DELETE, on any
// connection of the link) is answered 404 in the server's place. At most
// `sessions` sessions are forgotten, so the client's new session works.
#include "faults/frame_registry.hpp"
#include "faults/http_fault.hpp"

namespace faultline {
namespace {

class ForgetSessionStage final : public HttpStage {
 public:
  explicit ForgetSessionStage(std::int64_t sessions) : sessions_(sessions) {}
  std::optional<HttpAnswer> on_request(const HttpRequestView& request, bool matched, HttpFaultContext& ctx) override {
    if (request.session.empty()) return std::nullopt;
    auto& memory = ctx.memory();
    const bool forgotten = memory.has_session(request.session) ||
                           (matched && memory.add_session(request.session, static_cast<std::uint64_t>(sessions_)));
    if (!forgotten) return std::nullopt;
    ctx.injected({{"http_method", request.method}, {"session", request.session}, {"status", 404}});
    return HttpAnswer{404, "application/json", http_error_body(-32001, "Session not found")};
  }

 private:
  std::int64_t sessions_;
};

class ForgetSessionFault final : public HttpFault {
 public:
  explicit ForgetSessionFault(std::int64_t sessions) : sessions_(sessions) {}
  std::unique_ptr<HttpStage> instantiate_http() const override { return std::make_unique<ForgetSessionStage>(sessions_); }
  nlohmann::json attributes() const override { return {{"sessions", sessions_}}; }

 private:
  std::int64_t sessions_;
};

}  // namespace

std::shared_ptr<const FrameFault> make_forget_session_frame_fault(AttributeReader& a) {
  return std::make_shared<ForgetSessionFault>(a.integer("sessions", 1, 1, 1'000'000));
}

}  // namespace faultline
