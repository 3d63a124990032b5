// The legacy HTTP+SSE transport (protocol 2024-11-05): GET the SSE URL, wait
// for the `endpoint` event naming where to POST, then POST each message there;
// every answer comes back on the GET stream, whose end is the end of the session.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/errors.hpp"
#include "mcp/http_body.hpp"
#include "sim/client/http_common.hpp"
#include "sim/client/http_transport.hpp"

namespace faultline::sim {
namespace {

constexpr auto kEndpointWait = std::chrono::seconds(10);

class LegacySse : public ClientTransport, public std::enable_shared_from_this<LegacySse> {
 public:
  LegacySse(asio::any_io_executor ex, const Target& target) : peer_(ex, target), endpoint_ready_(ex) {}

  const char* name() const override { return "sse"; }

  asio::awaitable<void> connect() override {
    co_await peer_.start();
    auto req = peer_.request(http::verb::get, peer_.target().path);
    req.set(http::field::accept, "text/event-stream");
    auto parser = std::make_unique<ResponseParser>();
    const auto ec = co_await http_exchange(peer_, stream_, req, *parser);
    if (ec) throw StartupError("GET " + peer_.target().text + ": " + ec.message());
    const int status = static_cast<int>(parser->get().result_int());
    if (status != 200 || mcp::body_type(parser->get()[http::field::content_type]) != mcp::BodyType::event_stream)
      throw StartupError("GET " + peer_.target().text + ": HTTP " + std::to_string(status) + ", not an SSE stream");
    endpoint_ready_.expires_after(kEndpointWait);
    auto self = shared_from_this();
    asio::co_spawn(peer_.executor(), [self, p = std::move(parser)]() mutable { return self->read(std::move(p)); },
                   asio::detached);
    auto [wait_ec] = co_await endpoint_ready_.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)wait_ec;
    if (endpoint_.empty())
      throw StartupError("GET " + peer_.target().text + ": the stream sent no endpoint event" +
                         (ended_ ? " before it ended" : " within 10 s"));
  }

  asio::awaitable<SendResult> send(nlohmann::json message) override {
    auto self = shared_from_this();
    if (closing_ || ended_) co_return SendResult{false, 0, "the SSE stream has ended"};
    auto req = peer_.request(http::verb::post, endpoint_);
    req.set(http::field::content_type, "application/json");
    req.body() = message.dump();
    std::unique_ptr<ClientConn> conn;
    ResponseParser parser;
    const auto ec = co_await http_exchange(peer_, conn, req, parser);
    if (ec) {
      if (!closing_) closed(Disconnect{"POST " + endpoint_ + ": " + ec.message(), noticed_by(ec)});
      co_return SendResult{false, 0, ec.message()};
    }
    const int status = static_cast<int>(parser.get().result_int());
    const std::function<bool(std::string_view)> discard = [](std::string_view) { return true; };
    const auto body_ec = co_await http_read_body(*conn, parser, discard);
    if (!body_ec && parser.get().keep_alive()) peer_.give_back(std::move(conn));
    if (status >= 400) co_return SendResult{false, status, "HTTP " + std::to_string(status)};
    co_return SendResult{};
  }

  asio::awaitable<void> close() override {
    closing_ = true;
    closed_reported_ = true;
    boost::system::error_code ignored;
    if (stream_) stream_->socket.close(ignored);
    peer_.close_all();
    co_return;
  }

 private:
  asio::awaitable<void> read(std::unique_ptr<ResponseParser> parser) {
    auto self = shared_from_this();
    SseReader reader;
    const std::function<bool(std::string_view)> on_chunk = [&](std::string_view chunk) {
      reader.events.clear();
      reader.decoder.feed(chunk, reader.events);
      for (const auto& event : reader.events) {
        if (event.event_type() == "endpoint" && event.complete) {
          endpoint_ = relative_endpoint(event.data);
          endpoint_ready_.cancel();
          continue;
        }
        reader.frames.clear();
        mcp::decode_sse_frames(event, reader.frames);
        for (auto& f : reader.frames)
          if (f.valid()) deliver(std::move(mcp::ensure_message(f)));
      }
      return !closing_;
    };
    const auto ec = co_await http_read_body(*stream_, *parser, on_chunk);
    ended_ = true;
    endpoint_ready_.cancel();
    if (!closing_) closed(Disconnect{ec ? "the SSE stream failed: " + ec.message() : "the SSE stream ended",
                                     ec ? noticed_by(ec) : "EOF", 0});
  }

  // The endpoint event names a path (or a full URL on the same server).
  static std::string relative_endpoint(const std::string& data) {
    if (auto scheme = data.find("://"); scheme != std::string::npos) {
      auto slash = data.find('/', scheme + 3);
      return slash == std::string::npos ? "/" : data.substr(slash);
    }
    return data.empty() || data[0] != '/' ? "/" + data : data;
  }

  HttpPeer peer_;
  std::unique_ptr<ClientConn> stream_;
  asio::steady_timer endpoint_ready_;
  std::string endpoint_;
  bool closing_ = false;
  bool ended_ = false;
};

}  // namespace

std::shared_ptr<ClientTransport> make_legacy_sse_transport(asio::any_io_executor ex, const Target& target) {
  return std::make_shared<LegacySse>(ex, target);
}

}  // namespace faultline::sim
