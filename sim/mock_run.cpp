#include "sim/mock_run.hpp"

#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "sim/mock_net.hpp"
#include "sim/mock_stdio.hpp"

namespace faultline::sim {

boost::asio::ip::tcp::acceptor bind_mock_acceptor(const boost::asio::any_io_executor& ex, const HostPort& where,
                                                  const std::string& what) {
  namespace ip = boost::asio::ip;
  boost::system::error_code ec;
  ip::address address;
  if (where.host == "localhost" || where.host.empty()) {
    address = ip::address_v4::loopback();
  } else {
    address = ip::make_address(where.host, ec);
    if (ec) throw ConfigError(what, "\"" + where.to_string() + "\": the host must be an IP address or localhost");
  }
  const ip::tcp::endpoint endpoint(address, where.port);
  ip::tcp::acceptor acceptor(ex);
  const auto fail = [&](const char* step) {
    throw StartupError("mock-server: cannot listen on " + where.to_string() + " (" + what + "): " + step + ": " +
                       ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  acceptor.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor.listen(ip::tcp::socket::max_listen_connections, ec);
  if (ec) fail("listen");
  return acceptor;
}

namespace {

std::string authority(const boost::asio::ip::tcp::endpoint& e) {
  const auto a = e.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
}

}  // namespace

int run_mock_server(const MockRunOptions& o) {
  boost::asio::io_context io;
  MockHub hub(io.get_executor(), o.behaviour, o.seed, o.events);
  int code = 0;
  std::unique_ptr<MockListener> control;
  if (o.control) {
    control = serve_mock_control(hub, *o.control);
    std::fprintf(stderr, "control on http://%s\n", authority(control->local()).c_str());
  }
  std::unique_ptr<MockListener> listener;
  std::shared_ptr<MockStdio> stdio;
  if (o.transport == "stdio") {
    stdio = serve_mock_stdio(hub, [&hub] { hub.exit(0, "stdin_closed"); });
  } else {
    std::string path;
    if (o.transport == "http") {
      listener = serve_mock_http(hub, o.listen);
      path = "http://" + authority(listener->local()) + "/mcp";
    } else if (o.transport == "sse") {
      listener = serve_mock_sse(hub, o.listen);
      path = "http://" + authority(listener->local()) + "/sse";
    } else if (o.transport == "ws") {
      listener = serve_mock_ws(hub, o.listen);
      path = "ws://" + authority(listener->local()) + "/mcp";
    } else {
      throw ConfigError("--transport", "unknown transport \"" + o.transport + "\" (stdio, http, sse, ws)");
    }
    std::fprintf(stderr, "listening on %s\n", path.c_str());
  }
  std::fflush(stderr);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&hub](const boost::system::error_code& ec, int signo) {
    if (!ec) hub.exit(0, signo == SIGINT ? "SIGINT" : "SIGTERM");
  });
  hub.start([&](int exit_code, const std::string&) {
    code = exit_code;
    if (listener) listener->stop();
    if (control) control->stop();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    io.stop();
  });
  io.run();
  return code;
}

}  // namespace faultline::sim
