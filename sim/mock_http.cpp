// Streamable HTTP (MCP 2025-03-26 / 2025-06-18) on /mcp. Status codes and
// headers follow the official TypeScript SDK's server: 406 without the Accept
// types, 415 for a body that is not JSON, 400 without Mcp-Session-Id or with a
// protocol version it does not speak, 404 (or 400, by behaviour) for an
// unknown session, 202 for a POST of only notifications and responses, 409 for
// a second standalone stream. A POST with a tools/call is answered as an SSE
// stream (progress and list_changed ride on it), other requests as JSON.
#include <algorithm>
#include <set>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <spdlog/spdlog.h>

#include "mcp/http_body.hpp"
#include "sim/mock_http_conn.hpp"
#include "sim/mock_http_listener.hpp"
#include "sim/mock_net.hpp"

namespace faultline::sim {
namespace {

constexpr std::size_t kKeptStreams = 16;  // finished request streams a client may still resume

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// One POST that carried requests, until each is answered.
struct Exchange {
  explicit Exchange(const asio::any_io_executor& ex) : wake(ex) {}
  std::set<std::string> pending;     // ids (as JSON text) not answered yet
  std::vector<std::string> replies;  // JSON mode: the answers so far
  std::shared_ptr<SseStream> stream; // SSE mode
  bool aborted = false;              // the session went away
  asio::steady_timer wake;
};

// What Streamable HTTP keeps of one session beside its MockServer.
struct HttpState {
  std::map<std::string, std::shared_ptr<Exchange>> by_request;
  std::map<std::uint64_t, std::shared_ptr<SseStream>> streams;  // 0: the standalone stream
  std::uint64_t next_stream = 1;

  std::string deliver(const MockServer::Outgoing& o) {
    if (!o.related.is_null()) {
      const auto key = o.related.dump();
      if (auto it = by_request.find(key); it != by_request.end()) {
        auto x = it->second;
        std::string event_id;
        if (x->stream) {
          event_id = x->stream->send(o.text);
        } else if (o.reply) {
          x->replies.push_back(o.text);
        } else {
          event_id = standalone(o.text);
        }
        if (o.reply) {
          x->pending.erase(key);
          by_request.erase(it);
          if (x->pending.empty()) {
            if (x->stream) x->stream->end();
            x->wake.cancel();
          }
        }
        return event_id;
      }
    }
    return standalone(o.text);
  }
  // Messages tied to no open request go on the GET stream, if the client opened one.
  std::string standalone(const std::string& text) {
    auto it = streams.find(0);
    return it == streams.end() ? std::string() : it->second->send(text);
  }
  std::shared_ptr<SseStream> new_stream() {
    const auto n = next_stream++;
    auto s = std::make_shared<SseStream>(std::to_string(n), true);
    streams[n] = s;
    // Forget the oldest finished request streams (never the standalone one).
    while (streams.size() > kKeptStreams + 1) {
      auto oldest = std::find_if(streams.begin(), streams.end(), [](const auto& p) { return p.first != 0; });
      if (oldest == streams.end()) break;
      streams.erase(oldest);
    }
    return s;
  }
  void close() {
    for (auto& [id, x] : by_request) {
      x->aborted = true;
      x->wake.cancel();
    }
    by_request.clear();
    for (auto& [n, s] : streams) s->end();
  }
};

class HttpTransport : public HttpListener {
 public:
  HttpTransport(MockHub& hub, const HostPort& where) : HttpListener(hub, where, "--listen") { serve({}, "http"); }

 private:
  asio::awaitable<void> handle(std::shared_ptr<HttpConn> conn, HttpRequest& req) override;
  asio::awaitable<void> post(std::shared_ptr<HttpConn> conn, HttpRequest& req);
  asio::awaitable<void> get(std::shared_ptr<HttpConn> conn, HttpRequest& req);
  // The request's live session and its state, or the answer that refuses it.
  std::optional<HttpResponse> check_session(const HttpRequest& req, std::shared_ptr<MockSession>& session,
                                            std::shared_ptr<HttpState>& state);
  std::optional<HttpResponse> check_version(const HttpRequest& req) const;
  std::shared_ptr<MockSession> open_session(std::shared_ptr<HttpState>& state);

  std::unordered_map<std::string, std::shared_ptr<HttpState>> states_;
};

asio::awaitable<void> reply(const std::shared_ptr<HttpConn>& conn, HttpResponse res) {
  auto op = conn->respond(std::move(res));
  co_await std::move(op);
}

asio::awaitable<void> HttpTransport::handle(std::shared_ptr<HttpConn> conn, HttpRequest& req) {
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
  if (path != "/mcp") {
    auto op = reply(conn, json_error_response(req, http::status::not_found, -32000, "Not found: the MCP endpoint is /mcp"));
    co_await std::move(op);
    co_return;
  }
  if (req.method() == http::verb::post) {
    auto op = post(conn, req);
    co_await std::move(op);
  } else if (req.method() == http::verb::get) {
    auto op = get(conn, req);
    co_await std::move(op);
  } else if (req.method() == http::verb::delete_) {
    std::shared_ptr<MockSession> session;
    std::shared_ptr<HttpState> state;
    auto refused = check_session(req, session, state);
    if (!refused) refused = check_version(req);
    if (!refused) hub_.close(session->id, "deleted");
    auto op = reply(conn, refused ? std::move(*refused) : empty_response(req, http::status::ok));
    co_await std::move(op);
  } else {
    auto res = json_error_response(req, http::status::method_not_allowed, -32000, "Method not allowed.");
    res.set(http::field::allow, "GET, POST, DELETE");
    auto op = reply(conn, std::move(res));
    co_await std::move(op);
  }
}

std::optional<HttpResponse> HttpTransport::check_session(const HttpRequest& req, std::shared_ptr<MockSession>& session,
                                                         std::shared_ptr<HttpState>& state) {
  const auto header = req.find("mcp-session-id");
  if (header == req.end() || header->value().empty())
    return json_error_response(req, http::status::bad_request, -32000, "Bad Request: Mcp-Session-Id header is required");
  const std::string id(header->value());
  session = hub_.find(id);
  auto it = states_.find(id);
  if (!session || it == states_.end())
    return json_error_response(req, static_cast<http::status>(hub_.unknown_session_status()), -32001,
                               "Session not found");
  state = it->second;
  return std::nullopt;
}

std::optional<HttpResponse> HttpTransport::check_version(const HttpRequest& req) const {
  const auto header = req.find("mcp-protocol-version");
  if (header == req.end()) return std::nullopt;  // the version negotiated at initialize
  const std::string_view v = header->value();
  for (const char* known : kMockProtocolVersions)
    if (v == known) return std::nullopt;
  std::string supported;
  for (const char* known : kMockProtocolVersions) supported += (supported.empty() ? "" : ", ") + std::string(known);
  return json_error_response(req, http::status::bad_request, -32000,
                             "Bad Request: Unsupported protocol version: " + std::string(v) +
                                 " (supported versions: " + supported + ")");
}

std::shared_ptr<MockSession> HttpTransport::open_session(std::shared_ptr<HttpState>& state) {
  state = std::make_shared<HttpState>();
  std::weak_ptr<HttpState> weak = state;
  auto session = hub_.create([weak](const MockServer::Outgoing& o) {
    auto s = weak.lock();
    return s ? s->deliver(o) : std::string();
  });
  states_[session->id] = state;
  const auto id = session->id;
  session->on_close = [this, id](const std::string&) {
    auto it = states_.find(id);
    if (it == states_.end()) return;
    auto closing = it->second;
    states_.erase(it);
    closing->close();
  };
  return session;
}

asio::awaitable<void> HttpTransport::post(std::shared_ptr<HttpConn> conn, HttpRequest& req) {
  const std::string accept(req[http::field::accept]);
  if (!contains(accept, "application/json") || !contains(accept, "text/event-stream")) {
    auto op = reply(conn, json_error_response(req, http::status::not_acceptable, -32000,
                                              "Not Acceptable: Client must accept both application/json and "
                                              "text/event-stream"));
    co_await std::move(op);
    co_return;
  }
  if (mcp::body_type(req[http::field::content_type]) != mcp::BodyType::json) {
    auto op = reply(conn, json_error_response(req, http::status::unsupported_media_type, -32000,
                                              "Unsupported Media Type: Content-Type must be application/json"));
    co_await std::move(op);
    co_return;
  }
  std::vector<mcp::Frame> frames;
  mcp::decode_http_body(req.body(), frames);
  const bool valid = !frames.empty() && std::all_of(frames.begin(), frames.end(), [](const auto& f) { return f.valid(); });
  if (!valid) {
    const auto why = frames.empty() || !frames[0].problem ? std::string("empty") : frames[0].problem->reason;
    auto op = reply(conn, json_error_response(req, http::status::bad_request, -32700,
                                              "Parse error: Invalid JSON-RPC message: " + why));
    co_await std::move(op);
    co_return;
  }
  const bool initialize = std::any_of(frames.begin(), frames.end(), [](const auto& f) {
    return f.kind == mcp::FrameKind::request && f.method == "initialize";
  });
  std::shared_ptr<MockSession> session;
  std::shared_ptr<HttpState> state;
  std::optional<HttpResponse> refused;
  if (initialize && frames.size() > 1) {
    refused = json_error_response(req, http::status::bad_request, -32600,
                                  "Invalid Request: Only one initialization request is allowed");
  } else if (initialize) {
    session = open_session(state);
  } else {
    refused = check_session(req, session, state);
    if (!refused) refused = check_version(req);
  }
  if (refused) {
    auto op = reply(conn, std::move(*refused));
    co_await std::move(op);
    co_return;
  }
  const bool has_requests = std::any_of(frames.begin(), frames.end(), [](const auto& f) { return f.kind == mcp::FrameKind::request; });
  if (!has_requests) {
    for (const auto& f : frames) hub_.receive(*session, f);
    auto op = reply(conn, empty_response(req, http::status::accepted));
    co_await std::move(op);
    co_return;
  }
  auto exchange = std::make_shared<Exchange>(hub_.executor());
  const bool streams = std::any_of(frames.begin(), frames.end(), [](const auto& f) {
    return f.kind == mcp::FrameKind::request && f.method == "tools/call";
  });
  if (streams) exchange->stream = state->new_stream();
  for (const auto& f : frames)
    if (f.kind == mcp::FrameKind::request) {
      const auto key = f.message["id"].dump();
      exchange->pending.insert(key);
      state->by_request[key] = exchange;
    }
  for (const auto& f : frames) hub_.receive(*session, f);
  if (exchange->stream) {
    auto op = conn->serve_stream(req, {{"mcp-session-id", session->id}}, exchange->stream, 0, kMockSseRetryMs);
    co_await std::move(op);
    co_return;
  }
  while (!exchange->pending.empty() && !exchange->aborted && !conn->gone()) {
    exchange->wake.expires_at(asio::steady_timer::time_point::max());
    [[maybe_unused]] auto [ec] = co_await exchange->wake.async_wait(use_tuple);
  }
  if (exchange->aborted) {
    conn->close();  // the session was forgotten (restart, expiry, DELETE): its connection goes too
    co_return;
  }
  std::string body;
  if (exchange->replies.size() == 1 && frames.size() == 1) {
    body = exchange->replies[0];
  } else {
    body = "[";
    for (std::size_t i = 0; i < exchange->replies.size(); ++i) body += (i ? "," : "") + exchange->replies[i];
    body += "]";
  }
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set("mcp-session-id", session->id);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  auto op = reply(conn, std::move(res));
  co_await std::move(op);
}

asio::awaitable<void> HttpTransport::get(std::shared_ptr<HttpConn> conn, HttpRequest& req) {
  std::optional<HttpResponse> refused;
  if (!contains(req[http::field::accept], "text/event-stream"))
    refused = json_error_response(req, http::status::not_acceptable, -32000,
                                  "Not Acceptable: Client must accept text/event-stream");
  std::shared_ptr<MockSession> session;
  std::shared_ptr<HttpState> state;
  if (!refused) refused = check_session(req, session, state);
  if (!refused) refused = check_version(req);
  std::shared_ptr<SseStream> stream;
  std::optional<std::uint64_t> after;
  if (!refused) {
    const std::string last(req["last-event-id"]);
    if (!last.empty()) {
      // "<stream>-<seq>": the stream that event was on, replayed from after it.
      const auto dash = last.find('-');
      std::uint64_t n = 0, seq = 0;
      try {
        if (dash == std::string::npos) throw std::invalid_argument("no dash");
        n = std::stoull(last.substr(0, dash));
        seq = std::stoull(last.substr(dash + 1));
      } catch (const std::exception&) {
        refused = json_error_response(req, http::status::bad_request, -32000, "Invalid event ID format");
      }
      if (!refused) {
        auto it = state->streams.find(n);
        if (it == state->streams.end() || !it->second->can_resume_after(seq)) {
          refused = json_error_response(req, http::status::bad_request, -32000, "Unknown or expired event ID: " + last);
        } else if (it->second->attached()) {
          refused = json_error_response(req, http::status::conflict, -32000,
                                        "Conflict: Stream already has an active connection");
        } else {
          stream = it->second;
          after = seq;
        }
      }
    } else if (auto it = state->streams.find(0); it != state->streams.end()) {
      if (it->second->attached()) {
        refused = json_error_response(req, http::status::conflict, -32000,
                                      "Conflict: Only one SSE stream is allowed per session");
      } else {
        stream = it->second;
      }
    } else {
      stream = std::make_shared<SseStream>("0", true);
      state->streams[0] = stream;
    }
  }
  if (refused) {
    auto op = reply(conn, std::move(*refused));
    co_await std::move(op);
    co_return;
  }
  auto op = conn->serve_stream(req, {{"mcp-session-id", session->id}}, stream, after, kMockSseRetryMs);
  co_await std::move(op);
}

}  // namespace

std::unique_ptr<MockListener> serve_mock_http(MockHub& hub, const HostPort& where) {
  return std::make_unique<HttpTransport>(hub, where);
}

}  // namespace faultline::sim
