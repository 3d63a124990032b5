#pragma once
// The admin HTTP API, compatible with Toxiproxy's: /proxies, /proxies/{name},
// /proxies/{name}/toxics[/{toxic}], /populate, /reset, /version, with the same
// field names, status codes and error bodies ({"error": ..., "status": ...}),
// plus /metrics in Prometheus text format. faultline's own fault types go
// through the same endpoints. A thin layer over the Runtime: links through its
// LinkRegistry, faults through its FaultApi; the HTTP status of each error
// kind is chosen here.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace faultline {

class Runtime;

class AdminApi {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  // A non-empty token is required of every request (Authorization: Bearer TOKEN).
  AdminApi(Runtime& runtime, std::string token);

  // Throws StartupError when the address can't be bound.
  void listen(const std::string& address);
  void stop();
  std::string address() const { return address_; }

  // Answers one request; public so that tests can call it without a socket.
  // Refused with 403: a request with an Origin that is not a loopback page, and,
  // while the API listens on loopback, one whose Host is not a loopback name or
  // address (DNS rebinding). Then the token, when there is one.
  Response handle(const Request& request);

 private:
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor);
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
  // After answering a request it could not read: stop sending, read and drop
  // what the client still sends (bounded in bytes and time), close.
  static boost::asio::awaitable<void> drain_and_close(boost::beast::tcp_stream& stream);
  std::optional<Response> refuse_foreign(const Request& request) const;

  Response route(const Request& request);

  Runtime& runtime_;
  boost::asio::any_io_executor ex_;
  std::string token_;
  std::string address_;
  bool loopback_ = true;  // listening on a loopback address (until listen() says otherwise)
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace faultline
