#pragma once
// What the two HTTP client transports share: the server's resolved address,
// a pool of kept-alive connections, one request/response exchange whose body
// is read as it arrives (an SSE stream can last the whole session).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "mcp/sse_codec.hpp"
#include "sim/client/transport.hpp"

namespace faultline::sim {

namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct ClientConn {
  explicit ClientConn(asio::any_io_executor ex) : socket(ex) {}
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
};

using ResponseParser = http::response_parser<http::buffer_body>;

// Resolves once (connect), then opens and pools connections to the server.
class HttpPeer {
 public:
  HttpPeer(asio::any_io_executor ex, Target target) : ex_(ex), target_(std::move(target)) {}

  // Resolves the address and opens the first connection. Throws StartupError
  // naming the target when it does not resolve or refuses.
  asio::awaitable<void> start();
  // A pooled connection, or a new one; null with `ec` set when none could be opened.
  asio::awaitable<std::unique_ptr<ClientConn>> take(boost::system::error_code& ec);
  void give_back(std::unique_ptr<ClientConn> conn);
  void close_all();
  // A new connection, never a pooled one.
  asio::awaitable<std::unique_ptr<ClientConn>> open(boost::system::error_code& ec);

  http::request<http::string_body> request(http::verb verb, const std::string& path) const;
  const Target& target() const { return target_; }
  asio::any_io_executor executor() const { return ex_; }

 private:
  asio::any_io_executor ex_;
  Target target_;
  std::vector<tcp::endpoint> endpoints_;
  std::vector<std::unique_ptr<ClientConn>> idle_;
};

// Writes `req` and reads the response header into `parser` (whose body limit
// is lifted). A reused connection the server had closed is retried once on a
// new one, so `conn` may be replaced.
asio::awaitable<boost::system::error_code> http_exchange(HttpPeer& peer, std::unique_ptr<ClientConn>& conn,
                                                         http::request<http::string_body>& req, ResponseParser& parser);

// Reads the body to its end, handing each chunk to `chunk`. Stops early (with
// operation_aborted) when `chunk` returns false.
asio::awaitable<boost::system::error_code> http_read_body(ClientConn& conn, ResponseParser& parser,
                                                          const std::function<bool(std::string_view)>& chunk);

// An SSE stream being read: its decoder and the JSON-RPC messages of its events.
struct SseReader {
  mcp::SseDecoder decoder;
  std::vector<mcp::SseEvent> events;
  std::vector<mcp::Frame> frames;
};

}  // namespace faultline::sim
