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
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "mcp/ndjson_codec.hpp"

namespace faultline::sim {

namespace {

// Writes a whole line to stdout; a client that went away ends the server.
std::string write_line(const MockServer::Outgoing& o) {
  std::string line = o.text + "\n";
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
  return {};
}

}  // namespace

class MockStdio : public std::enable_shared_from_this<MockStdio> {
 public:
  MockStdio(MockHub& hub, std::function<void()> ended) : hub_(hub), in_(hub.executor()), ended_(std::move(ended)) {
    boost::system::error_code ec;
    in_.assign(::dup(STDIN_FILENO), ec);
    if (ec) throw StartupError("mock-server: cannot read stdin: " + ec.message());
  }

  void start() {
    open(true);
    asio::co_spawn(hub_.executor(), read_loop(shared_from_this()), asio::detached);
  }

 private:
  void open(bool banner) {
    session_ = hub_.create(write_line, "stdio", banner);
    session_->expires = false;
    std::weak_ptr<MockStdio> weak = shared_from_this();
    session_->on_close = [weak](const std::string& reason) {
      auto self = weak.lock();
      if (!self || reason != "restart") return;
      // Same pipes, fresh state: the process "restarted" under its client.
      asio::post(self->hub_.executor(), [self] { self->open(false); });
    };
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<MockStdio> self) {
    mcp::NdjsonDecoder decoder;
    std::vector<mcp::Frame> frames;
    std::array<char, 65536> buffer;
    for (;;) {
      auto [ec, n] = co_await self->in_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      frames.clear();
      if (ec) {
        decoder.finish(frames);
      } else {
        decoder.feed(std::string_view(buffer.data(), n), frames);
      }
      for (const auto& f : frames) {
        auto session = self->hub_.find("stdio");
        if (session) self->hub_.receive(*session, f);
      }
      if (ec) break;
    }
    spdlog::info("mock-server: stdin ended after {} requests", self->session_ ? self->session_->server->requests() : 0);
    // stdin ended: the client is gone. What was asked last is answered (it is
    // queued ahead of this), what still waits (a sleep) goes with the process.
    asio::post(self->hub_.executor(), self->ended_);
  }

  MockHub& hub_;
  asio::posix::stream_descriptor in_;
  std::function<void()> ended_;
  std::shared_ptr<MockSession> session_;
};

std::shared_ptr<MockStdio> serve_mock_stdio(MockHub& hub, std::function<void()> ended) {
  auto stdio = std::make_shared<MockStdio>(hub, std::move(ended));
  stdio->start();
  return stdio;
}

}  // namespace faultline::sim
