#pragma once
// One HTTP/1.1 connection of the mock server (Streamable HTTP, the legacy SSE
// transport, the control endpoint): reads requests one at a time with
// Beast's parser, hands each to the transport's handler, and writes either a
// whole response or a text/event-stream (chunked) fed by an SseStream. While a
// stream is open it keeps reading, so that a client that goes away ends it
// (bytes of a next request are kept for later).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

namespace faultline::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// Completion token of the mock's network code: errors as values, never thrown.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// A JSON-RPC error body as the SDK's server sends it ({"jsonrpc","error","id":null}).
HttpResponse json_error_response(const HttpRequest& req, http::status status, int code, const std::string& message);
HttpResponse json_response(const HttpRequest& req, http::status status, const nlohmann::json& body);
HttpResponse empty_response(const HttpRequest& req, http::status status);
// DNS rebinding protection for a listener bound to loopback: a request whose
// Host (or Origin, when sent) names another host gets this 403.
std::optional<HttpResponse> refuse_foreign_host(const HttpRequest& req);

class HttpConn;

// The events of one SSE stream, with ids when `numbered` ("<stream>-<seq>"),
// the last `history` of them (at most 4 MiB) kept so a client that
// reconnects with Last-Event-ID gets what it missed. It outlives the
// connection that carries it; events sent while no connection carries it are
// kept, not written.
class SseStream {
 public:
  SseStream(std::string key, bool numbered, std::size_t history = 64);

  // Sends an event; returns its id ("" when not numbered).
  std::string send(const std::string& data, const std::string& type = {});
  // Ends the stream: the connection finishes its response after what is queued.
  void end();
  bool ended() const { return ended_; }
  bool attached() const { return !conn_.expired(); }
  const std::string& key() const { return key_; }
  // The connection that carries it from now on, after the events with a
  // sequence number above `after` (a resume) are replayed to it.
  void attach(const std::shared_ptr<HttpConn>& conn, std::optional<std::uint64_t> after);
  void detach(const HttpConn* conn);
  // Whether it still holds every event after `seq` (the older ones may be gone).
  bool can_resume_after(std::uint64_t seq) const;

 private:
  std::string render(std::uint64_t seq, const std::string& data, const std::string& type) const;

  std::string key_;
  bool numbered_;
  std::size_t history_limit_;
  std::uint64_t next_ = 1;
  std::deque<std::pair<std::uint64_t, std::string>> history_;  // rendered events
  std::size_t history_bytes_ = 0;
  std::weak_ptr<HttpConn> conn_;
  bool ended_ = false;
};

class HttpConn : public std::enable_shared_from_this<HttpConn> {
 public:
  using Handler = std::function<asio::awaitable<void>(std::shared_ptr<HttpConn>, HttpRequest&)>;
  struct Limits {
    std::uint64_t max_body = 4 * 1024 * 1024;
  };

  HttpConn(tcp::socket socket, Handler handler, Limits limits, std::string name);
  void start();

  // Writes a whole response (the handler's answer).
  asio::awaitable<void> respond(HttpResponse res);
  // Writes the head of a text/event-stream response with `headers` added,
  // then the stream's events until it ends or the client goes away.
  asio::awaitable<void> serve_stream(const HttpRequest& req, std::map<std::string, std::string> headers,
                                     std::shared_ptr<SseStream> stream, std::optional<std::uint64_t> resume_after,
                                     std::uint64_t retry_ms);
  // Queues bytes of the stream this connection carries (SseStream does this).
  void push(std::string bytes);
  void stream_ended();
  // Closes the connection now (a restart); its coroutine ends.
  void close();
  bool gone() const { return gone_; }

 private:
  asio::awaitable<void> run();
  void watch();

  tcp::socket socket_;
  Handler handler_;
  Limits limits_;
  std::string name_;
  beast::flat_buffer buffer_;
  asio::steady_timer wake_;
  std::deque<std::string> queue_;
  bool streaming_ = false;
  bool stream_done_ = false;
  bool watching_ = false;
  bool gone_ = false;  // the client closed, or a write failed
  bool keep_alive_ = true;
};

// Accepts on `acceptor` and serves each connection with `handler` until the acceptor closes.
asio::awaitable<void> serve_http(tcp::acceptor& acceptor, HttpConn::Handler handler, HttpConn::Limits limits,
                                 std::string name);

}  // namespace faultline::sim
