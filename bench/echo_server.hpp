#pragma once
// A loopback echo server for the benchmark tools: every byte a client sends comes
// back, straight away or after a fixed delay (the reference for the latency-fault runs:
// how closely this machine keeps a timer). Upstream for the round-trip and idle runs.

#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace faultline::bench {

namespace echo_detail {

namespace asio = boost::asio;
using asio::ip::tcp;

inline asio::awaitable<void> echo(tcp::socket socket, std::size_t buffer_size, bool lazy,
                                  std::chrono::microseconds delay) {
  socket.set_option(tcp::no_delay(true));
  // A lazy buffer is allocated on first data so that thousands of idle connections cost
  // little; an eager one saves the readiness wait on every round trip.
  std::vector<char> buffer(lazy ? 0 : buffer_size);
  for (;;) {
    if (buffer.empty()) {
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
      if (wait_ec) co_return;
      buffer.resize(buffer_size);
    }
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (read_ec) co_return;
    if (delay.count() > 0) {
      asio::steady_timer hold(socket.get_executor(), delay);
      co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    auto [write_ec, written] =
        co_await asio::async_write(socket, asio::buffer(buffer.data(), n), asio::as_tuple(asio::use_awaitable));
    if (write_ec) co_return;
  }
}

inline asio::awaitable<void> accept_loop(tcp::acceptor acceptor, std::size_t buffer_size, bool lazy,
                                         std::chrono::microseconds delay) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Out of descriptors or an aborted handshake: pause, then keep serving the others.
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket), buffer_size, lazy, delay), asio::detached);
  }
}

}  // namespace echo_detail

// Listens on `endpoint` and echoes on every accepted connection, on `io`'s thread(s).
inline void start_echo_server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                              std::size_t buffer_size, bool lazy_buffer,
                              std::chrono::microseconds delay = std::chrono::microseconds{0}) {
  using boost::asio::ip::tcp;
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(4096);
  boost::asio::co_spawn(io, echo_detail::accept_loop(std::move(acceptor), buffer_size, lazy_buffer, delay), boost::asio::detached);
}

}  // namespace faultline::bench
