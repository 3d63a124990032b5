// The control endpoint: a small HTTP JSON API beside any transport (stdio
// included) through which a test or a timeline flips misbehaviours while
// clients are connected. It answers on loopback only, and checks the Host
// header too, so that a web page cannot reach it through DNS rebinding.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "sim/mock_http_conn.hpp"
#include "sim/mock_http_listener.hpp"
#include "sim/mock_net.hpp"

namespace faultline::sim {
namespace {

class ControlEndpoint : public HttpListener {
 public:
  ControlEndpoint(MockHub& hub, const HostPort& where) : HttpListener(hub, where, "--control") {
    serve({.max_body = 1 << 20}, "control");
  }

 private:
  asio::awaitable<void> handle(std::shared_ptr<HttpConn> conn, HttpRequest& req) override {
    auto res = answer(req);
    auto op = conn->respond(std::move(res));
    co_await std::move(op);
  }

  HttpResponse answer(const HttpRequest& req) {
    using J = nlohmann::json;
    const auto error = [&](http::status status, const std::string& message, J extra = J::object()) {
      extra["error"] = message;
      return json_response(req, status, extra);
    };
    const auto host = req[http::field::host];
    if (!host.empty() && !is_loopback_authority(host))
      return error(http::status::forbidden, "the control endpoint answers requests for loopback hosts only");
    const auto target = std::string_view(req.target());
    const auto path = target.substr(0, target.find('?'));
    const auto method = req.method();
    if (path == "/behaviour") {
      if (method == http::verb::get) return json_response(req, http::status::ok, to_json(hub_.behaviour()));
      if (method == http::verb::patch) {
        const auto changes = J::parse(req.body(), nullptr, false);
        if (changes.is_discarded()) return error(http::status::bad_request, "the body is not JSON");
        try {
          return json_response(req, http::status::ok, hub_.patch(changes));
        } catch (const ConfigError& e) {
          return error(http::status::bad_request, e.what(), {{"pointer", e.where()}});
        }
      }
      return not_allowed(req, "GET, PATCH");
    }
    if (path == "/restart") {
      if (method != http::verb::post) return not_allowed(req, "POST");
      return json_response(req, http::status::ok, {{"sessions", hub_.restart()}});
    }
    if (path == "/sessions") {
      if (method != http::verb::get) return not_allowed(req, "GET");
      return json_response(req, http::status::ok, hub_.sessions());
    }
    return error(http::status::not_found,
                 "no such endpoint: " + std::string(path) + " (GET/PATCH /behaviour, POST /restart, GET /sessions)");
  }

  static HttpResponse not_allowed(const HttpRequest& req, const char* allow) {
    auto res = json_response(req, http::status::method_not_allowed,
                             {{"error", std::string(req.method_string()) + " is not allowed here; use " + allow}});
    res.set(http::field::allow, allow);
    return res;
  }

};

}  // namespace

std::unique_ptr<MockListener> serve_mock_control(MockHub& hub, const HostPort& where) {
  if (!is_loopback_host(where.host))
    throw ConfigError("--control", "\"" + where.to_string() + "\": the control endpoint binds loopback only");
  return std::make_unique<ControlEndpoint>(hub, where);
}

}  // namespace faultline::sim
