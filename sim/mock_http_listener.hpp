#pragma once
// What the mock's HTTP endpoints share (Streamable HTTP, the legacy SSE
// transport, the control endpoint): an acceptor bound where asked, every
// request handed to handle(), and stop() closing the acceptor.

#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "sim/mock_http_conn.hpp"
#include "sim/mock_net.hpp"

namespace faultline::sim {

class HttpListener : public MockListener {
 public:
  tcp::endpoint local() const override { return acceptor_.local_endpoint(); }
  void stop() override {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 protected:
  // Binds `where`; `option` names it in the error when it cannot be bound.
  HttpListener(MockHub& hub, const HostPort& where, const char* option)
      : hub_(hub),
        acceptor_(bind_mock_acceptor(hub.executor(), where, option)),
        loopback_(acceptor_.local_endpoint().address().is_loopback()) {}
  // Starts serving; the subclass calls it once it is constructed.
  void serve(HttpConn::Limits limits, const char* name) {
    asio::co_spawn(
        hub_.executor(),
        serve_http(acceptor_, [this](std::shared_ptr<HttpConn> c, HttpRequest& r) { return handle(std::move(c), r); },
                   limits, name),
        asio::detached);
  }
  virtual asio::awaitable<void> handle(std::shared_ptr<HttpConn> conn, HttpRequest& req) = 0;

  MockHub& hub_;
  tcp::acceptor acceptor_;
  bool loopback_;  // bound to loopback: refuse other Hosts (DNS rebinding)
};

}  // namespace faultline::sim
