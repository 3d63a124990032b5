#pragma once
// Real WebSocket peers for the websocket link tests, on Boost.Beast: a server
// on its own thread that answers each text message as a script says and
// records what it saw (messages, pings, the close code), and a client whose
// every wait has a limit (the hang guard). Plus a raw client that speaks the
// upgrade by hand and sends any bytes, for bad input.

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "mcp/ws_codec.hpp"
#include "tests/proxy/harness.hpp"

namespace faultline::test {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Ws = websocket::stream<tcp::socket>;

// Answers JSON-RPC requests with {"result":{"method":M,"params":P}}; other messages get no answer.
inline std::vector<std::string> jsonrpc_echo(const std::string& text) {
  auto msg = nlohmann::json::parse(text, nullptr, false);
  if (!msg.is_object() || !msg.contains("id") || !msg.contains("method")) return {};
  nlohmann::json result = {{"method", msg["method"]}};
  if (msg.contains("params")) result["params"] = msg["params"];
  if (msg["method"] == "initialize")
    result = {{"protocolVersion", "2025-06-18"}, {"serverInfo", {{"name", "ws-test-server"}, {"version", "1"}}},
              {"capabilities", {{"tools", nlohmann::json::object()}}}};
  return {nlohmann::json{{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"result", result}}.dump()};
}

class WsServer {
 public:
  using Script = std::function<std::vector<std::string>(const std::string&)>;
  explicit WsServer(Script script = jsonrpc_echo)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), script_(std::move(script)) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~WsServer() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto* ws : open_) beast::get_lowest_layer(*ws).close(ec);
    });
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<std::string> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  int pings() const { return pings_; }
  int accepted() const { return accepted_; }
  std::optional<int> close_code() {
    std::lock_guard lock(mutex_);
    return close_code_;
  }
  std::string last_ping() {
    std::lock_guard lock(mutex_);
    return last_ping_;
  }
  // Waits until `pred` holds, at most `limit`.
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3000ms) {
    return eventually(pred, limit);
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> serve(tcp::socket socket) {
    Ws ws(std::move(socket));
    open_.push_back(&ws);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::sec_websocket_protocol, "mcp"); }));
    ws.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind != websocket::frame_type::ping) return;
      std::lock_guard lock(mutex_);
      ++pings_;
      last_ping_ = std::string(payload);
    });
    auto [aec] = co_await ws.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!aec) {
      ++accepted_;
      for (;;) {
        beast::flat_buffer buffer;
        auto [ec, n] = co_await ws.async_read(buffer, asio::as_tuple(asio::use_awaitable));
        if (ec) {
          std::lock_guard lock(mutex_);
          if (ec == websocket::error::closed) close_code_ = static_cast<int>(ws.reason().code);
          break;
        }
        auto text = beast::buffers_to_string(buffer.data());
        {
          std::lock_guard lock(mutex_);
          received_.push_back(text);
        }
        for (auto& reply : script_(text)) {
          {
            std::lock_guard lock(mutex_);
            sent_.push_back(reply);
          }
          ws.text(true);
          auto [wec, wn] = co_await ws.async_write(asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
          if (wec) break;
        }
      }
    }
    open_.erase(std::find(open_.begin(), open_.end(), &ws));
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  Script script_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::vector<Ws*> open_;
  std::mutex mutex_;
  std::vector<std::string> received_;
  std::vector<std::string> sent_;
  std::atomic<int> pings_{0};
  std::atomic<int> accepted_{0};
  std::string last_ping_;
  std::optional<int> close_code_;
};

// A Beast client driven from the test thread: each call runs the io_context
// until its operation completes or its limit passes.
class WsClient {
 public:
  explicit WsClient(std::uint16_t port, const std::string& target = "/mcp") : ws_(io_) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::sec_websocket_protocol, "mcp"); }));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::pong) pongs_.emplace_back(payload);
    });
    bool done = false;
    ws_.async_handshake("127.0.0.1:" + std::to_string(port), target, [&](beast::error_code ec) {
      handshake_ec_ = ec;
      done = true;
    });
    run_until([&] { return done; }, 3000ms);
    REQUIRE_MESSAGE(done, "handshake timed out");
    if (!handshake_ec_) read_next();
  }
  bool open() const { return !handshake_ec_ && !ended_; }
  const beast::error_code& handshake_error() const { return handshake_ec_; }

  void send(const std::string& text) {
    bool done = false;
    ws_.text(true);
    ws_.async_write(asio::buffer(text), [&](beast::error_code ec, std::size_t) {
      write_ec_ = ec;
      done = true;
    });
    run_until([&] { return done; }, 3000ms);
    REQUIRE_MESSAGE(done, "write timed out");
  }
  void ping(const std::string& payload) {
    bool done = false;
    ws_.async_ping(websocket::ping_data(payload.c_str()), [&](beast::error_code) { done = true; });
    run_until([&] { return done; }, 3000ms);
  }
  void close(int code, const std::string& reason) {
    bool done = false;
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason.c_str()),
                    [&](beast::error_code) { done = true; });
    run_until([&] { return done; }, 3000ms);
  }
  // The next message, or nullopt when none arrived within `limit` or the socket ended.
  std::optional<std::string> next(std::chrono::milliseconds limit = 3000ms) {
    run_until([&] { return !inbox_.empty() || ended_; }, limit);
    if (inbox_.empty()) return std::nullopt;
    auto m = std::move(inbox_.front());
    inbox_.pop_front();
    return m;
  }
  // Runs until the connection ended (a close frame or the socket), at most `limit`.
  bool wait_closed(std::chrono::milliseconds limit = 3000ms) {
    run_until([&] { return ended_; }, limit);
    return ended_;
  }
  // Lets the client process what arrives (pongs) for `d`.
  void pump(std::chrono::milliseconds d) { run_until([] { return false; }, d); }
  std::optional<int> close_code() const { return close_code_; }
  std::string close_reason() const { return close_reason_; }
  const beast::error_code& read_error() const { return read_ec_; }
  const std::vector<std::string>& pongs() const { return pongs_; }

 private:
  void read_next() {
    ws_.async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        read_ec_ = ec;
        ended_ = true;
        if (ec == websocket::error::closed) {
          close_code_ = static_cast<int>(ws_.reason().code);
          close_reason_ = std::string(ws_.reason().reason.c_str());
        }
        return;
      }
      inbox_.push_back(beast::buffers_to_string(buffer_.data()));
      buffer_.consume(buffer_.size());
      read_next();
    });
  }
  template <class Pred>
  void run_until(Pred pred, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    io_.restart();
    while (!pred() && std::chrono::steady_clock::now() < until)
      io_.run_one_for(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
  }

  asio::io_context io_;
  Ws ws_;
  beast::flat_buffer buffer_;
  beast::error_code handshake_ec_, write_ec_, read_ec_;
  std::deque<std::string> inbox_;
  std::vector<std::string> pongs_;
  bool ended_ = false;
  std::optional<int> close_code_;
  std::string close_reason_;
};

// Speaks the upgrade by hand, then sends whatever bytes a test wants and
// decodes what comes back as a server's frames.
class RawWsClient {
 public:
  explicit RawWsClient(std::uint16_t port) : client_(port) {}
  // Returns the server's answer to the upgrade (the status line and headers).
  std::string upgrade() {
    client_.send(
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: mcp\r\n\r\n");
    std::string head;
    boost::system::error_code ec;
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto got = client_.read_some(ec, 1);  // one byte at a time: what follows the head is a frame
      if (ec) break;
      head += got;
    }
    return head;
  }
  void send(const std::string& bytes) { client_.send(bytes); }
  void send_frame(mcp::WsOpcode op, std::string_view payload, bool masked = true, bool fin = true) {
    std::string out;
    mcp::append_ws_frame(out, op, fin, payload, masked ? std::optional<std::uint32_t>(0x01020304) : std::nullopt);
    client_.send(out);
  }
  // Reads and decodes until an event of `kind` arrives, the stream ends, or `limit` passes.
  std::optional<mcp::WsEvent> next(mcp::WsEvent::Kind kind, std::chrono::milliseconds limit = 3000ms) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (std::size_t i = 0; i < events_.size(); ++i) {
        if (events_[i].kind != kind) continue;
        auto e = events_[i];
        events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(i));
        return e;
      }
      if (ended_ || std::chrono::steady_clock::now() > until) return std::nullopt;
      boost::system::error_code ec;
      client_.set_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()) + 1ms);
      auto got = client_.read_some(ec);
      if (ec) {
        ended_ = !is_timeout(ec);
        continue;
      }
      decoder_.feed(got, events_);
    }
  }
  bool ended() const { return ended_; }
  // Reads until the stream ends (true) or `limit` passes.
  bool wait_end(std::chrono::milliseconds limit = 3000ms) {
    next(mcp::WsEvent::violation, limit);  // never comes from a correct proxy: reads to the end
    return ended_;
  }
  Client& socket() { return client_; }

 private:
  Client client_;
  mcp::WsDecoder decoder_{mcp::WsDecoderOptions{false}};
  std::vector<mcp::WsEvent> events_;
  bool ended_ = false;
};

// A websocket link to `upstream_port` with the given faults; returns its port.
inline std::uint16_t ws_link(ProxyHarness& h, const std::string& name, std::uint16_t upstream_port,
                             const nlohmann::json& faults = nlohmann::json::array()) {
  return h.link(name, upstream_port, faults.get<std::vector<nlohmann::json>>(), "websocket");
}

inline std::string request(int id, const std::string& method, nlohmann::json params = nlohmann::json::object()) {
  return nlohmann::json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
}

}  // namespace faultline::test
