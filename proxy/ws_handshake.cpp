// A websocket session's start: the HTTP upgrade relayed between the client
// and the server, then both directions' pumps and readers.

#include "proxy/ws_session_impl.hpp"

#include <optional>
#include <sstream>

#include <boost/asio/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "proxy/link.hpp"
#include "proxy/session_socket.hpp"

namespace faultline::ws {

namespace {
constexpr std::uint32_t kHandshakeHeaderLimit = 16 * 1024;
constexpr std::uint64_t kHandshakeBodyLimit = 1 << 20;
}  // namespace

asio::awaitable<void> WsSession::run() {
  auto self = shared_from_this();
  boost::system::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  for (const auto& spec : initial_faults_) attach(spec);
  initial_faults_.clear();
  const bool upgraded = co_await upgrade();
  if (!upgraded || closing_) co_return;
  upgraded_ = true;
  // What came right behind the handshake is the first WebSocket data.
  const auto now = Clock::now();
  const auto leftover = [](beast::flat_buffer& b) {
    const auto data = b.data();
    return std::string_view(static_cast<const char*>(data.data()), data.size());
  };
  up_.feed(leftover(client_buffer_), now);
  down_.feed(leftover(server_buffer_), now);
  client_buffer_ = beast::flat_buffer();
  server_buffer_ = beast::flat_buffer();
  if (closing_) co_return;
  for (auto* d : {&up_, &down_}) {
    spawn(d->pump_loop());
    spawn(d->read_loop());
  }
}

// Relays the HTTP upgrade: the client's request to the server (without
// extensions, so frames stay plain), the server's answer back. True when the
// server switched protocols.
asio::awaitable<bool> WsSession::upgrade() {
  std::optional<UpgradeRequest> request = co_await read_upgrade_request();
  if (!request) co_return false;
  const auto target = std::string(request->target());
  const auto arrival = Clock::now();
  const bool connected = co_await open_upstream();
  if (!connected) co_return false;

  request->erase(http::field::sec_websocket_extensions);
  std::ostringstream request_text;
  request_text << *request;
  co_await up_.send_raw(request_text.str(), arrival);
  if (closing_) co_return false;
  const bool switched = co_await relay_upgrade_answer(target);
  co_return switched;
}

// The client's request, when it is a WebSocket upgrade; otherwise the client
// is answered (or was gone) and the session closes.
asio::awaitable<std::optional<WsSession::UpgradeRequest>> WsSession::read_upgrade_request() {
  http::request_parser<http::string_body> request;
  request.header_limit(kHandshakeHeaderLimit);
  request.body_limit(kHandshakeBodyLimit);
  auto [rec, rn] = co_await http::async_read(client_, client_buffer_, request, use_tuple);
  if (closing_) co_return std::nullopt;
  if (rec) {
    if (rec == http::error::end_of_stream && client_buffer_.size() == 0) {
      close(CloseMode::fin, By::client, "fin", "closed before the WebSocket upgrade");
    } else {
      co_await refuse(http::status::bad_request, "the client's upgrade request is not valid HTTP: " + rec.message(),
                      By::client);
    }
    co_return std::nullopt;
  }
  auto req = request.release();
  if (!beast::websocket::is_upgrade(req)) {
    co_await refuse(http::status::bad_request,
                    "this link speaks WebSocket: the request must be a GET with Upgrade: websocket", By::client);
    co_return std::nullopt;
  }
  co_return req;
}

// Connects to the server, after the faults that act before the upstream
// connection opens (slow_open). False when the session closes instead.
asio::awaitable<bool> WsSession::open_upstream() {
  for (auto* d : {&up_, &down_}) {
    auto faults = d->byte_faults();
    for (auto& f : faults)
      if (f->active() && !closing_) co_await f->stage().before_connect(*f);
  }
  if (closing_) co_return false;

  tcp::resolver resolver(client_.get_executor());
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(upstream_.host, std::to_string(upstream_.port), use_tuple);
  if (closing_) co_return false;
  boost::system::error_code connect_ec = resolve_ec;
  if (!resolve_ec) {
    connect_ec = co_await connect_upstream(server_, endpoints);
  }
  if (closing_) co_return false;
  if (connect_ec) {
    ++link_->stats().connections_failed;
    spdlog::warn("{}: connection {}: upstream {}: {}", link_->name(), number_, upstream_.to_string(),
                 connect_ec.message());
    co_await refuse(http::status::bad_gateway, "upstream " + upstream_.to_string() + ": " + connect_ec.message(),
                    By::proxy);
    co_return false;
  }
  boost::system::error_code ignored;
  server_.set_option(tcp::no_delay(true), ignored);
  emit("conn.upstream", {{"upstream", endpoint_text(server_, true)}});
  co_return true;
}

// Reads the server's answer to the upgrade and passes it to the client. True
// when the server switched protocols.
asio::awaitable<bool> WsSession::relay_upgrade_answer(const std::string& target) {
  http::response_parser<http::string_body> response;
  response.header_limit(kHandshakeHeaderLimit);
  response.body_limit(kHandshakeBodyLimit);
  auto [sec, sn] = co_await http::async_read(server_, server_buffer_, response, use_tuple);
  if (closing_) co_return false;
  if (sec) {
    co_await refuse(http::status::bad_gateway, "the server's answer to the upgrade is not valid HTTP: " + sec.message(),
                    By::server);
    co_return false;
  }
  auto res = response.release();
  if (res.result() == http::status::switching_protocols && res.count(http::field::sec_websocket_extensions)) {
    co_await refuse(http::status::bad_gateway, "the server chose a WebSocket extension that was not offered",
                    By::server);
    co_return false;
  }
  std::ostringstream response_text;
  response_text << res;
  co_await down_.send_raw(response_text.str(), Clock::now());
  co_await down_.flushed();
  if (closing_) co_return false;
  if (res.result() != http::status::switching_protocols) {
    emit("ws.refused", {{"target", target}, {"status", res.result_int()}});
    close(CloseMode::fin, By::server, "refused", "the server answered the upgrade with " +
                                                     std::to_string(res.result_int()));
    co_return false;
  }
  emit("ws.open", {{"target", target},
                   {"subprotocol", std::string(res[http::field::sec_websocket_protocol])},
                   {"upstream", upstream_.to_string()}});
  co_return true;
}

// Answers the client's upgrade with an HTTP error, records why, and closes.
asio::awaitable<void> WsSession::refuse(http::status status, std::string why, By by) {
  emit("ws.handshake_error", {{"from", by_name(by)}, {"status", static_cast<int>(status)}, {"problem", why}});
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "faultline");
  res.set(http::field::content_type, "text/plain");
  res.set(http::field::connection, "close");
  res.body() = "faultline: " + why + "\n";
  res.prepare_payload();
  std::ostringstream text;
  text << res;
  auto bytes = text.str();
  co_await asio::async_write(client_, asio::buffer(bytes), use_tuple);  // best effort: the client may be gone
  close(CloseMode::fin, by, "handshake", why);
}

}  // namespace faultline::ws
