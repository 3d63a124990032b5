#include "sim/client/http_transport.hpp"

#include <cmath>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mcp/http_body.hpp"
#include "sim/client/http_common.hpp"

namespace faultline::sim {
namespace {

constexpr auto kDeleteTimeout = std::chrono::milliseconds(2000);

class StreamableHttp : public ClientTransport, public std::enable_shared_from_this<StreamableHttp> {
 public:
  StreamableHttp(asio::any_io_executor ex, const Target& target, const StreamPolicy& streams)
      : peer_(ex, target), streams_(streams) {}

  const char* name() const override { return "http"; }
  std::string session_id() const override { return session_id_; }
  void reset_session() override {
    session_id_.clear();
    protocol_version_.clear();
  }

  asio::awaitable<void> connect() override { co_await peer_.start(); }

  void initialized(const std::string& protocol_version) override {
    protocol_version_ = protocol_version;
    if (!streams_.get_stream || get_stream_started_) return;
    get_stream_started_ = true;
    auto self = shared_from_this();
    asio::co_spawn(peer_.executor(), [self]() { return self->get_stream(); }, asio::detached);
  }

  asio::awaitable<SendResult> send(nlohmann::json message) override {
    auto self = shared_from_this();
    if (closing_) co_return SendResult{false, 0, "closed"};
    std::optional<nlohmann::json> request_id;
    if (message.contains("method") && message.contains("id")) request_id = message["id"];
    const bool initialize = request_id && message["method"] == "initialize";
    auto req = peer_.request(http::verb::post, peer_.target().path);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json, text/event-stream");
    add_session_headers(req);
    req.body() = message.dump();
    std::unique_ptr<ClientConn> conn;
    auto parser = std::make_unique<ResponseParser>();
    const auto ec = co_await http_exchange(peer_, conn, req, *parser);
    if (ec) {
      if (!closing_) closed(Disconnect{"POST " + peer_.target().path + ": " + ec.message(), noticed_by(ec)});
      co_return SendResult{false, 0, ec.message()};
    }
    const int status = static_cast<int>(parser->get().result_int());
    // The session is the one the answer to initialize names: a late answer to
    // a request of a session since forgotten carries the old id.
    if (auto sid = parser->get().find("mcp-session-id"); sid != parser->get().end() && initialize)
      session_id_ = std::string(sid->value());
    const auto type = mcp::body_type(parser->get()[http::field::content_type]);
    if (status >= 200 && status < 300 && type == mcp::BodyType::event_stream) {
      asio::co_spawn(peer_.executor(),
                     [self, c = std::move(conn), p = std::move(parser), request_id]() mutable {
                       return self->post_stream(std::move(c), std::move(p), request_id);
                     },
                     asio::detached);
      co_return SendResult{};
    }
    std::string body;
    const std::function<bool(std::string_view)> collect = [&body](std::string_view chunk) {
      if (body.size() < (16u << 20)) body.append(chunk);
      return true;
    };
    const auto body_ec = co_await http_read_body(*conn, *parser, collect);
    if (!body_ec && parser->get().keep_alive()) peer_.give_back(std::move(conn));
    if (status >= 400) co_return SendResult{false, status, "HTTP " + std::to_string(status)};
    if (status >= 200 && status < 300 && type == mcp::BodyType::json && !body.empty()) {
      std::vector<mcp::Frame> frames;
      mcp::decode_http_body(body, frames);
      for (auto& f : frames)
        if (f.valid()) deliver(std::move(mcp::ensure_message(f)));
    }
    co_return SendResult{};
  }

  asio::awaitable<void> close() override {
    auto self = shared_from_this();
    closing_ = true;
    closed_reported_ = true;
    boost::system::error_code ignored;
    for (auto* s : live_) s->close(ignored);
    for (auto* t : timers_) t->cancel();
    if (!session_id_.empty()) {
      auto req = peer_.request(http::verb::delete_, peer_.target().path);
      add_session_headers(req);
      std::unique_ptr<ClientConn> conn;
      auto conn_ec = boost::system::error_code{};
      conn = co_await peer_.take(conn_ec);
      if (conn) {
        // A server that stalls does not hold the client's close up for long.
        asio::steady_timer guard(peer_.executor(), kDeleteTimeout);
        auto* socket = &conn->socket;
        guard.async_wait([socket](boost::system::error_code e) {
          boost::system::error_code i;
          if (!e) socket->close(i);
        });
        ResponseParser parser;
        auto ec = co_await http_exchange(peer_, conn, req, parser);
        const std::function<bool(std::string_view)> discard = [](std::string_view) { return true; };
        if (!ec && conn) ec = co_await http_read_body(*conn, parser, discard);
        guard.cancel();
        (void)ec;
      }
    }
    peer_.close_all();
  }

 private:
  void add_session_headers(http::request<http::string_body>& req) const {
    if (!session_id_.empty()) req.set("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) req.set("MCP-Protocol-Version", protocol_version_);
  }

  // Waits `d`; false when the transport closed meanwhile.
  asio::awaitable<bool> pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(peer_.executor(), d);
    timers_.insert(&timer);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    timers_.erase(&timer);
    co_return !closing_;
  }

  // Reads one SSE stream to its end, delivering its messages; true when the
  // answer to `request_id` was among them.
  asio::awaitable<bool> read_stream(ClientConn& conn, ResponseParser& parser, SseReader& reader,
                                    const std::optional<nlohmann::json>& request_id, bool& any_event) {
    bool answered = false;
    live_.insert(&conn.socket);
    const std::function<bool(std::string_view)> on_chunk = [&](std::string_view chunk) {
      reader.events.clear();
      reader.decoder.feed(chunk, reader.events);
      for (const auto& event : reader.events) {
        any_event = true;
        reader.frames.clear();
        mcp::decode_sse_frames(event, reader.frames);
        for (auto& f : reader.frames) {
          if (!f.valid()) continue;
          auto& message = mcp::ensure_message(f);
          if (request_id && f.is_reply() && message.contains("id") && message["id"] == *request_id) answered = true;
          deliver(std::move(message));
        }
      }
      return !closing_;
    };
    const auto ec = co_await http_read_body(conn, parser, on_chunk);
    live_.erase(&conn.socket);
    (void)ec;
    co_return answered;
  }

  std::chrono::milliseconds resume_delay(const SseReader& reader, std::uint32_t attempt) const {
    if (streams_.honour_retry && reader.decoder.retry()) return std::chrono::milliseconds(*reader.decoder.retry());
    // The SDK's growth when the server named no delay.
    const double grown = static_cast<double>(streams_.default_retry.count()) * std::pow(1.5, attempt);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(grown, 30'000.0)));
  }

  // Opens a GET stream (resuming after `last_id` when given); null when the
  // server refused it (its status in `status`).
  asio::awaitable<std::pair<std::unique_ptr<ClientConn>, std::unique_ptr<ResponseParser>>> open_get(
      const std::string& last_id, int& status) {
    auto req = peer_.request(http::verb::get, peer_.target().path);
    req.set(http::field::accept, "text/event-stream");
    add_session_headers(req);
    if (!last_id.empty() && streams_.resume_with_last_event_id) req.set("Last-Event-ID", last_id);
    std::unique_ptr<ClientConn> conn;
    auto parser = std::make_unique<ResponseParser>();
    const auto ec = co_await http_exchange(peer_, conn, req, *parser);
    status = ec ? 0 : static_cast<int>(parser->get().result_int());
    if (ec || status != 200 || mcp::body_type(parser->get()[http::field::content_type]) != mcp::BodyType::event_stream) {
      if (conn) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
      }
      co_return std::make_pair(std::unique_ptr<ClientConn>(), std::unique_ptr<ResponseParser>());
    }
    co_return std::make_pair(std::move(conn), std::move(parser));
  }

  // The SSE answer to one POST. When it ends before the answer came, it is
  // resumed by GET with the last event id it carried, after the server's retry:.
  asio::awaitable<void> post_stream(std::unique_ptr<ClientConn> conn, std::unique_ptr<ResponseParser> parser,
                                    std::optional<nlohmann::json> request_id) {
    auto self = shared_from_this();
    SseReader reader;
    bool any = false;
    bool answered = co_await read_stream(*conn, *parser, reader, request_id, any);
    conn.reset();
    std::uint32_t attempt = 0;
    while (request_id && !answered && !closing_) {
      if (!streams_.reconnect_sse_stream || attempt >= streams_.max_resume_attempts) {
        note("stream.closed", {{"stream", "post"}, {"resumed", false}, {"attempts", attempt}});
        co_return;
      }
      const auto delay = resume_delay(reader, attempt);
      ++attempt;
      const bool open = co_await pause(delay);
      if (!open) co_return;
      int status = 0;
      auto [get_conn, get_parser] = co_await open_get(reader.decoder.last_event_id(), status);
      note("stream.resume", {{"stream", "post"}, {"attempt", attempt}, {"delay_ms", delay.count()},
                             {"last_event_id", reader.decoder.last_event_id()}, {"status", status}});
      if (!get_conn) continue;
      answered = co_await read_stream(*get_conn, *get_parser, reader, request_id, any);
    }
  }

  // The standalone GET stream of server notifications, kept open.
  asio::awaitable<void> get_stream() {
    auto self = shared_from_this();
    SseReader reader;
    std::uint32_t attempt = 0;
    while (!closing_) {
      int status = 0;
      auto [conn, parser] = co_await open_get(reader.decoder.last_event_id(), status);
      if (closing_) co_return;
      if (!conn && status != 0) {
        // 405: the server offers no GET stream, which is allowed.
        note("stream.unavailable", {{"stream", "get"}, {"status", status}});
        co_return;
      }
      if (conn) {
        bool any = false;
        const std::optional<nlohmann::json> no_request;
        co_await read_stream(*conn, *parser, reader, no_request, any);
        if (any) attempt = 0;
      }
      if (closing_) co_return;
      if (!streams_.reconnect_sse_stream || attempt >= streams_.max_resume_attempts) {
        note("stream.closed", {{"stream", "get"}, {"resumed", false}, {"attempts", attempt}});
        co_return;
      }
      const auto delay = resume_delay(reader, attempt);
      ++attempt;
      const bool open = co_await pause(delay);
      if (!open) co_return;
      note("stream.resume", {{"stream", "get"}, {"attempt", attempt}, {"delay_ms", delay.count()},
                             {"last_event_id", reader.decoder.last_event_id()}});
    }
  }

  HttpPeer peer_;
  StreamPolicy streams_;
  std::string session_id_;
  std::string protocol_version_;
  bool closing_ = false;
  bool get_stream_started_ = false;
  std::set<tcp::socket*> live_;           // sockets of open streams, closed by close()
  std::set<asio::steady_timer*> timers_;  // waits before a resume, cut short by close()
};

}  // namespace

std::shared_ptr<ClientTransport> make_streamable_http_transport(asio::any_io_executor ex, const Target& target,
                                                                const StreamPolicy& streams) {
  return std::make_shared<StreamableHttp>(ex, target, streams);
}

}  // namespace faultline::sim
