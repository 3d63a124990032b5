// The WebSocket client transport: one JSON-RPC message per text message,
// subprotocol "mcp", writes queued (one write in flight at a time).

#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "core/errors.hpp"
#include "sim/client/ws_transport.hpp"

namespace faultline::sim {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class WsTransport : public ClientTransport, public std::enable_shared_from_this<WsTransport> {
 public:
  WsTransport(asio::any_io_executor ex, Target target) : ex_(ex), target_(std::move(target)), ws_(ex) {}

  const char* name() const override { return "ws"; }

  asio::awaitable<void> connect() override {
    tcp::resolver resolver(ex_);
    const std::string port = std::to_string(target_.address.port);
    auto [ec, results] = co_await resolver.async_resolve(target_.address.host, port,
                                                         asio::as_tuple(asio::use_awaitable));
    if (ec) throw StartupError("cannot resolve " + target_.address.host + ": " + ec.message());
    std::vector<tcp::endpoint> endpoints;
    for (const auto& r : results)
      if (r.endpoint().address().is_v4()) endpoints.push_back(r.endpoint());
    for (const auto& r : results)
      if (!r.endpoint().address().is_v4()) endpoints.push_back(r.endpoint());
    auto [connect_ec, endpoint] =
        co_await asio::async_connect(ws_.next_layer(), endpoints, asio::as_tuple(asio::use_awaitable));
    (void)endpoint;
    if (connect_ec) throw StartupError("cannot connect to " + target_.address.to_string() + ": " + connect_ec.message());
    boost::system::error_code ignored;  // small messages go out at once, not after a delayed ACK
    ws_.next_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::sec_websocket_protocol, "mcp");
      req.set(beast::http::field::user_agent, "faultline-simulate");
    }));
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    websocket::response_type response;
    auto [hs_ec] = co_await ws_.async_handshake(response, target_.host_header, target_.path,
                                                asio::as_tuple(asio::use_awaitable));
    if (hs_ec)
      throw StartupError("WebSocket handshake with " + target_.text + " failed: " + hs_ec.message() +
                         (response.result_int() ? " (HTTP " + std::to_string(response.result_int()) + ")" : ""));
    ws_.text(true);
    auto self = shared_from_this();
    asio::co_spawn(ex_, [self]() { return self->read_loop(); }, asio::detached);
  }

  asio::awaitable<SendResult> send(nlohmann::json message) override {
    auto self = shared_from_this();
    if (closing_ || ended_) co_return SendResult{false, 0, "the WebSocket is closed"};
    queue_.push_back(message.dump());
    if (writing_) co_return SendResult{};
    writing_ = true;
    SendResult result;
    while (!queue_.empty()) {
      const std::string next = std::move(queue_.front());
      queue_.pop_front();
      auto [ec, n] = co_await ws_.async_write(asio::buffer(next), asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec) {
        result = SendResult{false, 0, ec.message()};
        queue_.clear();
      }
    }
    writing_ = false;
    co_return result;
  }

  asio::awaitable<void> close() override {
    auto self = shared_from_this();
    closing_ = true;
    closed_reported_ = true;
    if (!ended_ && ws_.is_open()) {
      const websocket::close_reason normal(websocket::close_code::normal);
      auto [ec] = co_await ws_.async_close(normal, asio::as_tuple(asio::use_awaitable));
      (void)ec;
    }
    boost::system::error_code ignored;
    ws_.next_layer().close(ignored);
  }

 private:
  asio::awaitable<void> read_loop() {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    boost::system::error_code error;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec) {
        error = ec;
        break;
      }
      const auto text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      auto message = nlohmann::json::parse(text, nullptr, false);
      if (!message.is_discarded()) deliver(std::move(message));
    }
    ended_ = true;
    if (closing_) co_return;
    if (error == websocket::error::closed)
      closed(Disconnect{"the server closed the WebSocket (" + std::to_string(ws_.reason().code) + ")", "EOF", 0});
    else
      closed(Disconnect{"reading the WebSocket: " + error.message(), noticed_by(error), 0});
  }

  asio::any_io_executor ex_;
  Target target_;
  websocket::stream<tcp::socket> ws_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool ended_ = false;
};

}  // namespace

std::shared_ptr<ClientTransport> make_ws_transport(asio::any_io_executor ex, const Target& target) {
  return std::make_shared<WsTransport>(ex, target);
}

}  // namespace faultline::sim
