// get_405: the server offers no standalone SSE stream: a matched GET is
// answered 405 Method Not Allowed in its place (the spec allows this; a client
// must then get server messages on POST responses only).
#include "faults/frame_registry.hpp"
#include "faults/http_fault.hpp"

namespace faultline {
namespace {

class Get405Stage final : public HttpStage {
 public:
  std::optional<HttpAnswer> on_request(const HttpRequestView& request, bool matched, HttpFaultContext& ctx) override {
    if (!matched || request.method != "GET") return std::nullopt;
    ctx.injected({{"http_method", request.method}, {"target", request.target}, {"status", 405}});
    return HttpAnswer{405, "application/json", http_error_body(-32000, "Method not allowed.")};
  }
};

class Get405Fault final : public HttpFault {
 public:
  std::unique_ptr<HttpStage> instantiate_http() const override { return std::make_unique<Get405Stage>(); }
  nlohmann::json attributes() const override { return nlohmann::json::object(); }
};

}  // namespace

std::shared_ptr<const FrameFault> make_get_405_frame_fault(AttributeReader&) {
  return std::make_shared<Get405Fault>();
}

}  // namespace faultline
