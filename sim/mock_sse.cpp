// The legacy HTTP+SSE transport (MCP 2024-11-05): GET /sse opens a session's
// stream, whose first event, `endpoint`, names /messages?sessionId=ID; the
// client POSTs each message there (202), and every answer and notification
// comes on the stream. The session ends with the stream.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "mcp/http_body.hpp"
#include "sim/mock_http_conn.hpp"
#include "sim/mock_http_listener.hpp"
#include "sim/mock_net.hpp"

namespace faultline::sim {
namespace {

std::string query_parameter(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

class SseTransport : public HttpListener {
 public:
  SseTransport(MockHub& hub, const HostPort& where) : HttpListener(hub, where, "--listen") { serve({}, "sse"); }

 private:
  asio::awaitable<void> handle(std::shared_ptr<HttpConn> conn, HttpRequest& req) override;
  asio::awaitable<void> open(std::shared_ptr<HttpConn> conn, HttpRequest& req);
  HttpResponse post(const HttpRequest& req);

};

asio::awaitable<void> SseTransport::handle(std::shared_ptr<HttpConn> conn, HttpRequest& req) {
  hub_.touch();
  if (loopback_) {
    if (auto refused = refuse_foreign_host(req)) {
      auto op = conn->respond(std::move(*refused));
      co_await std::move(op);
      co_return;
    }
  }
  const auto target = std::string_view(req.target());
  const auto path = target.substr(0, target.find('?'));
  if (path == "/sse" && req.method() == http::verb::get) {
    auto op = open(conn, req);
    co_await std::move(op);
    co_return;
  }
  HttpResponse res;
  if (path == "/messages" && req.method() == http::verb::post) {
    res = post(req);
  } else if (path == "/sse" || path == "/messages") {
    res = json_error_response(req, http::status::method_not_allowed, -32000, "Method not allowed.");
    res.set(http::field::allow, path == "/sse" ? "GET" : "POST");
  } else {
    res = json_error_response(req, http::status::not_found, -32000, "Not found: the SSE endpoint is /sse");
  }
  auto op = conn->respond(std::move(res));
  co_await std::move(op);
}

asio::awaitable<void> SseTransport::open(std::shared_ptr<HttpConn> conn, HttpRequest& req) {
  // Not numbered: the legacy transport has no resumption.
  auto stream = std::make_shared<SseStream>("sse", false);
  auto session = hub_.create([stream](const MockServer::Outgoing& o) { return stream->send(o.text, "message"); });
  session->on_close = [stream](const std::string&) { stream->end(); };
  stream->send("/messages?sessionId=" + session->id, "endpoint");
  auto op = conn->serve_stream(req, {}, stream, 0, 0);
  co_await std::move(op);
  // The client went away (or the session was forgotten, and this is a no-op).
  hub_.close(session->id, "disconnected");
}

HttpResponse SseTransport::post(const HttpRequest& req) {
  const auto id = query_parameter(req.target(), "sessionId");
  if (id.empty()) return json_error_response(req, http::status::bad_request, -32000, "Missing sessionId parameter");
  auto session = hub_.find(id);
  if (!session)
    return json_error_response(req, static_cast<http::status>(hub_.unknown_session_status()), -32001,
                               "Session not found");
  if (mcp::body_type(req[http::field::content_type]) != mcp::BodyType::json)
    return json_error_response(req, http::status::unsupported_media_type, -32000,
                               "Unsupported Media Type: Content-Type must be application/json");
  std::vector<mcp::Frame> frames;
  mcp::decode_http_body(req.body(), frames);
  for (const auto& f : frames) {
    if (!f.valid())
      return json_error_response(req, http::status::bad_request, -32700,
                                 "Parse error: Invalid JSON-RPC message: " + (f.problem ? f.problem->reason : ""));
  }
  for (const auto& f : frames) hub_.receive(*session, f);
  HttpResponse res{http::status::accepted, req.version()};
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(req.keep_alive());
  res.body() = "Accepted";
  return res;
}

}  // namespace

std::unique_ptr<MockListener> serve_mock_sse(MockHub& hub, const HostPort& where) {
  return std::make_unique<SseTransport>(hub, where);
}

}  // namespace faultline::sim
