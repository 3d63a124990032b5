// The mock server over WebSocket: one session per connection, one JSON-RPC
// message per text frame, subprotocol "mcp" when the client offers it. A
// restart closes the connection with 1012 (service restart), an expired
// session with 1008.
#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "sim/mock_http_conn.hpp"
#include "sim/mock_net.hpp"

namespace faultline::sim {
namespace {

namespace websocket = beast::websocket;

class WsConn : public std::enable_shared_from_this<WsConn> {
 public:
  WsConn(MockHub& hub, tcp::socket socket) : hub_(hub), ws_(std::move(socket)) {}

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    HttpRequest req;
    {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      auto [ec, n] = co_await http::async_read(ws_.next_layer(), buffer, parser, use_tuple);
      if (ec) co_return;
      req = parser.release();
    }
    hub_.touch();
    if (!websocket::is_upgrade(req)) {
      HttpResponse res{http::status::bad_request, req.version()};
      res.set(http::field::content_type, "text/plain");
      res.body() = "this mock server speaks WebSocket here (--transport ws)\n";
      res.keep_alive(false);
      res.prepare_payload();
      [[maybe_unused]] auto [ec, n] = co_await http::async_write(ws_.next_layer(), res, use_tuple);
      co_return;
    }
    const bool offers_mcp = std::string_view(req[http::field::sec_websocket_protocol]).find("mcp") != std::string_view::npos;
    ws_.set_option(websocket::stream_base::decorator([offers_mcp](websocket::response_type& res) {
      if (offers_mcp) res.set(http::field::sec_websocket_protocol, "mcp");
    }));
    ws_.read_message_max(16 * 1024 * 1024);
    auto [aec] = co_await ws_.async_accept(req, use_tuple);
    if (aec) co_return;
    std::weak_ptr<WsConn> weak = self;
    session_ = hub_.create([weak](const MockServer::Outgoing& o) {
      if (auto c = weak.lock()) c->queue(o.text);
      return std::string();
    });
    session_->on_close = [weak](const std::string& reason) {
      if (auto c = weak.lock())
        c->close(reason == "restart" ? websocket::close_code::service_restart : websocket::close_code::policy_error,
                 reason);
    };
    buffer.clear();
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
      if (ec) break;
      std::vector<mcp::Frame> frames;
      mcp::decode_json_text(beast::buffers_to_string(buffer.data()), 0, frames);
      buffer.consume(buffer.size());
      hub_.touch();
      if (session_->closed) break;
      for (const auto& f : frames) hub_.receive(*session_, f);
    }
    hub_.close(session_->id, "disconnected");
  }

 private:
  void queue(std::string text) {
    if (closing_) return;
    out_.push_back(std::move(text));
    kick();
  }
  void close(websocket::close_code code, const std::string& reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(code, reason);
    kick();
  }
  void kick() {
    if (writing_) return;
    writing_ = true;
    asio::co_spawn(ws_.get_executor(), write_all(shared_from_this()), asio::detached);
  }
  // The only writer: messages in order, then the close frame if one is due.
  static asio::awaitable<void> write_all(std::shared_ptr<WsConn> c) {
    while (!c->out_.empty()) {
      std::string text = std::move(c->out_.front());
      c->out_.pop_front();
      c->ws_.text(true);
      auto [ec, n] = co_await c->ws_.async_write(asio::buffer(text), use_tuple);
      if (ec) {
        c->out_.clear();
        break;
      }
    }
    if (c->closing_ && !c->closed_) {
      c->closed_ = true;
      [[maybe_unused]] auto [ec] = co_await c->ws_.async_close(c->close_reason_, use_tuple);
    }
    c->writing_ = false;
  }

  MockHub& hub_;
  websocket::stream<tcp::socket> ws_;
  std::shared_ptr<MockSession> session_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  websocket::close_reason close_reason_;
};

class WsListener : public MockListener {
 public:
  WsListener(MockHub& hub, const HostPort& where)
      : hub_(hub), acceptor_(bind_mock_acceptor(hub.executor(), where, "--listen")) {
    asio::co_spawn(hub_.executor(), accept_loop(), asio::detached);
  }
  tcp::endpoint local() const override { return acceptor_.local_endpoint(); }
  void stop() override {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      if (ec) {
        spdlog::warn("mock-server: ws: accept failed: {}", ec.message());
        asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
        [[maybe_unused]] auto [pec] = co_await pause.async_wait(use_tuple);
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto conn = std::make_shared<WsConn>(hub_, std::move(socket));
      asio::co_spawn(hub_.executor(), conn->run(), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("mock-server: ws connection: {}", ex.what());
        }
      });
    }
  }

  MockHub& hub_;
  tcp::acceptor acceptor_;
};

}  // namespace

std::unique_ptr<MockListener> serve_mock_ws(MockHub& hub, const HostPort& where) {
  return std::make_unique<WsListener>(hub, where);
}

}  // namespace faultline::sim
