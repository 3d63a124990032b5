#include "sim/mock_stdio.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "mcp/ndjson_codec.hpp"

namespace faultline::sim {
namespace {

// Writes a whole line to stdout; a client that went away ends the server.
void write_line(const std::string& text) {
  std::string line = text + "\n";
  std::string_view rest(line);
  while (!rest.empty()) {
    const auto n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::info("mock-server: stdout closed ({}); exiting", std::strerror(errno));
      std::_Exit(0);
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

asio::awaitable<void> read_loop(asio::posix::stream_descriptor& in, MockServer& server) {
  mcp::NdjsonDecoder decoder;
  std::vector<mcp::Frame> frames;
  std::array<char, 65536> buffer;
  for (;;) {
    auto [ec, n] = co_await in.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    frames.clear();
    if (ec) {
      decoder.finish(frames);
    } else {
      decoder.feed(std::string_view(buffer.data(), n), frames);
    }
    for (const auto& f : frames) server.receive(f);
    if (ec) break;
  }
}

}  // namespace

int run_mock_stdio(const MockBehaviour& behaviour, std::uint64_t seed) {
  asio::io_context io;
  asio::posix::stream_descriptor in(io);
  boost::system::error_code ec;
  in.assign(::dup(STDIN_FILENO), ec);
  if (ec) throw StartupError("mock-server: cannot read stdin: " + ec.message());
  auto server = std::make_shared<MockServer>(io.get_executor(), behaviour, seed, write_line, [] { std::_Exit(1); });
  server->start();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await read_loop(in, *server);
    // stdin ended: the client is gone. What was asked last is answered (it is
    // queued ahead of this), what still waits (a sleep) goes with the process.
    asio::post(io, [&io] { io.stop(); });
  }, asio::detached);
  io.run();
  spdlog::info("mock-server: stdin ended after {} requests", server->requests());
  return 0;
}

}  // namespace faultline::sim
