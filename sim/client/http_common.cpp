#include "sim/client/http_common.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "core/errors.hpp"

namespace faultline::sim {

asio::awaitable<void> HttpPeer::start() {
  tcp::resolver resolver(ex_);
  const std::string port = std::to_string(target_.address.port);
  auto [ec, results] = co_await resolver.async_resolve(target_.address.host, port,
                                                       asio::as_tuple(asio::use_awaitable));
  if (ec) throw StartupError("cannot resolve " + target_.address.host + ": " + ec.message());
  // IPv4 first: "localhost" stays on 127.0.0.1.
  for (const auto& r : results)
    if (r.endpoint().address().is_v4()) endpoints_.push_back(r.endpoint());
  for (const auto& r : results)
    if (!r.endpoint().address().is_v4()) endpoints_.push_back(r.endpoint());
  boost::system::error_code open_ec;
  auto first = co_await open(open_ec);
  if (!first) throw StartupError("cannot connect to " + target_.address.to_string() + ": " + open_ec.message());
  give_back(std::move(first));
}

asio::awaitable<std::unique_ptr<ClientConn>> HttpPeer::open(boost::system::error_code& ec) {
  auto conn = std::make_unique<ClientConn>(ex_);
  auto [connect_ec, endpoint] = co_await asio::async_connect(conn->socket, endpoints_, asio::as_tuple(asio::use_awaitable));
  (void)endpoint;
  ec = connect_ec;
  if (ec) co_return nullptr;
  conn->socket.set_option(tcp::no_delay(true), ec);
  ec = {};
  co_return conn;
}

asio::awaitable<std::unique_ptr<ClientConn>> HttpPeer::take(boost::system::error_code& ec) {
  ec = {};
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    if (conn->socket.is_open()) co_return conn;
  }
  auto opened = co_await open(ec);
  co_return opened;
}

void HttpPeer::give_back(std::unique_ptr<ClientConn> conn) {
  if (conn && conn->socket.is_open()) idle_.push_back(std::move(conn));
}

void HttpPeer::close_all() {
  boost::system::error_code ignored;
  for (auto& c : idle_) c->socket.close(ignored);
  idle_.clear();
}

http::request<http::string_body> HttpPeer::request(http::verb verb, const std::string& path) const {
  http::request<http::string_body> req{verb, path, 11};
  req.set(http::field::host, target_.host_header);
  req.set(http::field::user_agent, "faultline-simulate");
  req.keep_alive(true);
  return req;
}

asio::awaitable<boost::system::error_code> http_exchange(HttpPeer& peer, std::unique_ptr<ClientConn>& conn,
                                                         http::request<http::string_body>& req,
                                                         ResponseParser& parser) {
  req.prepare_payload();
  boost::system::error_code ec;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn) {
      // The retry goes on a new connection: the other pooled ones may be as stale.
      if (attempt == 0) conn = co_await peer.take(ec);
      else conn = co_await peer.open(ec);
      if (!conn) co_return ec;
    }
    auto [write_ec, written] = co_await http::async_write(conn->socket, req, asio::as_tuple(asio::use_awaitable));
    (void)written;
    ec = write_ec;
    if (!ec) {
      parser.body_limit(boost::none);
      parser.header_limit(64 * 1024);
      auto [read_ec, n] = co_await http::async_read_header(conn->socket, conn->buffer, parser,
                                                          asio::as_tuple(asio::use_awaitable));
      (void)n;
      ec = read_ec;
      if (!ec) co_return ec;
    }
    // A kept-alive connection the server closed meanwhile fails at once: one more try on a new one.
    const bool stale = ec == http::error::end_of_stream || ec == asio::error::eof ||
                       ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
    conn.reset();
    if (!stale || parser.got_some()) break;
  }
  co_return ec;
}

asio::awaitable<boost::system::error_code> http_read_body(ClientConn& conn, ResponseParser& parser,
                                                          const std::function<bool(std::string_view)>& chunk) {
  std::array<char, 16384> buffer;
  while (!parser.is_done()) {
    parser.get().body().data = buffer.data();
    parser.get().body().size = buffer.size();
    auto [ec, n] = co_await http::async_read_some(conn.socket, conn.buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    const std::size_t got = buffer.size() - parser.get().body().size;
    if (got > 0 && !chunk(std::string_view(buffer.data(), got))) co_return asio::error::operation_aborted;
    if (ec == http::error::need_buffer) continue;
    if (ec) co_return ec;
  }
  co_return boost::system::error_code{};
}

}  // namespace faultline::sim
