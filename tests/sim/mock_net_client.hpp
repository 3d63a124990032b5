#pragma once
// A small blocking HTTP and WebSocket client for the mock server's network
// tests, and an in-process mock (hub, transport, control endpoint) running on
// its own thread. Every read has a deadline, so a mock that never answers
// fails a check instead of hanging the test.

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "core/event_log.hpp"
#include "sim/mock_hub.hpp"
#include "sim/mock_net.hpp"

namespace mocktest {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;

// The mock on a thread of its own: `transport` is "http", "sse" or "ws".
struct InProcessMock {
  explicit InProcessMock(const std::string& transport, faultline::sim::MockBehaviour b = {}) {
    events.add_sink([this](const faultline::Event& e) {
      std::lock_guard lock(mutex);
      recorded.push_back(e);
    });
    hub = std::make_unique<faultline::sim::MockHub>(io.get_executor(), b, 1, &events);
    const faultline::HostPort any{"127.0.0.1", 0};
    listener = transport == "http"  ? faultline::sim::serve_mock_http(*hub, any)
               : transport == "sse" ? faultline::sim::serve_mock_sse(*hub, any)
                                    : faultline::sim::serve_mock_ws(*hub, any);
    control = faultline::sim::serve_mock_control(*hub, any);
    port = listener->local().port();
    control_port = control->local().port();
    hub->start([this](int code, const std::string&) {
      exit_code = code;
      io.stop();
    });
    thread = std::thread([this] { io.run(); });
  }
  ~InProcessMock() {
    asio::post(io, [this] { io.stop(); });
    thread.join();
  }
  // The events of that kind recorded so far.
  std::vector<faultline::Event> of(const std::string& kind) {
    std::lock_guard lock(mutex);
    std::vector<faultline::Event> out;
    for (const auto& e : recorded)
      if (e.kind == kind) out.push_back(e);
    return out;
  }

  asio::io_context io;
  faultline::EventLog events;
  std::mutex mutex;
  std::vector<faultline::Event> recorded;
  std::unique_ptr<faultline::sim::MockHub> hub;
  std::unique_ptr<faultline::sim::MockListener> listener;
  std::unique_ptr<faultline::sim::MockListener> control;
  std::uint16_t port = 0;
  std::uint16_t control_port = 0;
  std::atomic<int> exit_code{-1};
  std::thread thread;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  json parsed() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One client connection; reads give up after `deadline`.
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds deadline = 5000ms)
      : socket_(io_), port_(port), deadline_(deadline) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  // A whole request and its whole response (an SSE response until it ends).
  Response request(http::verb method, const std::string& target, const std::string& body = {},
                   const std::map<std::string, std::string>& headers = {}) {
    send(method, target, body, headers);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    boost::system::error_code ec;
    bounded([&](auto done) { http::async_read(socket_, buffer_, parser, done); }, ec);
    Response r;
    if (ec) return r;  // status 0: no (whole) answer in time
    r.status = static_cast<int>(parser.get().result_int());
    for (const auto& f : parser.get()) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = parser.get().body();
    return r;
  }

  void send(http::verb method, const std::string& target, const std::string& body = {},
            const std::map<std::string, std::string>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
  }

  // Raw bytes until `needle` shows up, the peer closes, or the deadline passes.
  std::string read_until(const std::string& needle) {
    std::string got(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    char chunk[4096];
    while (got.find(needle) == std::string::npos) {
      boost::system::error_code ec;
      const auto n = bounded([&](auto done) { socket_.async_read_some(asio::buffer(chunk), done); }, ec);
      if (ec) break;
      got.append(chunk, n);
    }
    return got;
  }
  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  tcp::socket& socket() { return socket_; }

 private:
  // Runs one asynchronous read for at most the deadline (a blocking read with
  // SO_RCVTIMEO would not do: Asio polls again after the timeout).
  template <class Start>
  std::size_t bounded(Start start, boost::system::error_code& ec) {
    bool finished = false;
    std::size_t bytes = 0;
    start([&](const boost::system::error_code& e, std::size_t n) {
      finished = true;
      ec = e;
      bytes = n;
    });
    io_.restart();
    io_.run_for(deadline_);
    if (!finished) {
      socket_.cancel();
      io_.restart();
      io_.run();
      ec = asio::error::timed_out;
    }
    return bytes;
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::uint16_t port_;
  std::chrono::milliseconds deadline_;
  boost::beast::flat_buffer buffer_;
};

inline std::map<std::string, std::string> mcp_headers(const std::string& session = {}) {
  std::map<std::string, std::string> h = {{"Content-Type", "application/json"},
                                          {"Accept", "application/json, text/event-stream"}};
  if (!session.empty()) h["Mcp-Session-Id"] = session;
  return h;
}

inline std::string rpc(int id, const std::string& method, json params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump();
}

inline std::string initialize_body(int id = 1) {
  return rpc(id, "initialize", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()},
                                {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
}

inline std::string call_body(int id, const std::string& tool, json arguments = json::object(), json meta = nullptr) {
  json params = {{"name", tool}, {"arguments", std::move(arguments)}};
  if (!meta.is_null()) params["_meta"] = std::move(meta);
  return rpc(id, "tools/call", params);
}

// A fresh Streamable HTTP session: its id.
inline std::string open_session(std::uint16_t port) {
  Client c(port);
  return c.request(http::verb::post, "/mcp", initialize_body(), mcp_headers()).header("mcp-session-id");
}

}  // namespace mocktest
