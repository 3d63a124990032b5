#include "sim/client/stdio_transport.hpp"

#include <sys/wait.h>

#include <array>
#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "core/stdio_child.hpp"
#include "mcp/ndjson_codec.hpp"

namespace faultline::sim {
namespace {

constexpr auto kExitWait = std::chrono::milliseconds(1500);  // for the server to leave after stdin closes

class StdioTransport : public ClientTransport, public std::enable_shared_from_this<StdioTransport> {
 public:
  StdioTransport(asio::any_io_executor ex, std::vector<std::string> command)
      : ex_(ex), command_(std::move(command)), in_(ex), out_(ex), err_(ex), exited_(ex) {}

  ~StdioTransport() override { end_child(); }

  const char* name() const override { return "stdio"; }

  asio::awaitable<void> connect() override {
    StdioChildOptions options;
    options.grace = std::chrono::milliseconds(500);
    child_ = std::make_unique<StdioChild>(command_, options);  // StartupError when it cannot run
    in_.assign(child_->release_stdin());
    out_.assign(child_->release_stdout());
    err_.assign(child_->release_stderr());
    exited_.expires_at(asio::steady_timer::time_point::max());
    auto self = shared_from_this();
    asio::co_spawn(ex_, [self]() { return self->read_stdout(); }, asio::detached);
    asio::co_spawn(ex_, [self]() { return self->drain_stderr(); }, asio::detached);
    co_return;
  }

  asio::awaitable<SendResult> send(nlohmann::json message) override {
    if (!in_.is_open() || eof_) co_return SendResult{false, 0, "the server's stdin is closed"};
    std::string line = message.dump();
    line += '\n';
    queue_.push_back(std::move(line));
    if (writing_) co_return SendResult{};
    writing_ = true;
    auto self = shared_from_this();
    SendResult result;
    while (!queue_.empty()) {
      const std::string next = std::move(queue_.front());
      queue_.pop_front();
      auto [ec, n] = co_await asio::async_write(in_, asio::buffer(next), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        result = SendResult{false, 0, "writing to the server: " + ec.message()};
        queue_.clear();
      }
    }
    writing_ = false;
    co_return result;
  }

  asio::awaitable<void> close() override {
    closed_reported_ = true;  // an end we asked for is not reported
    boost::system::error_code ignored;
    in_.close(ignored);
    if (!eof_) {
      // Give the server a moment to leave on its own (stdin closed) before the group is ended.
      exited_.expires_after(kExitWait);
      auto [ec] = co_await exited_.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
    }
    end_child();
  }

 private:
  asio::awaitable<void> read_stdout() {
    auto self = shared_from_this();
    mcp::NdjsonDecoder decoder;
    std::vector<mcp::Frame> frames;
    std::array<char, 16384> buffer;
    boost::system::error_code error;
    for (;;) {
      auto [ec, n] = co_await out_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      frames.clear();
      if (ec) decoder.finish(frames);
      else decoder.feed(std::string_view(buffer.data(), n), frames);
      for (auto& f : frames)
        if (f.valid()) deliver(std::move(mcp::ensure_message(f)));
      if (ec) {
        error = ec;
        break;
      }
    }
    eof_ = true;
    exited_.cancel();
    if (closed_reported_) co_return;
    // stdout ended: the server exited (or closed it). Its status says which, once it is reaped.
    std::string reason = error == asio::error::eof ? "the server closed its stdout" : "reading the server: " + error.message();
    for (int i = 0; i < 50 && child_; ++i) {
      if (auto status = child_->try_reap()) {
        reason = "the server exited with code " + std::to_string(exit_code_of(*status));
        break;
      }
      asio::steady_timer wait(ex_, std::chrono::milliseconds(10));
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    closed(Disconnect{reason, "EOF", 0});
  }

  asio::awaitable<void> drain_stderr() {
    auto self = shared_from_this();
    std::array<char, 4096> buffer;
    for (;;) {
      auto [ec, n] = co_await err_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
  }

  void end_child() {
    boost::system::error_code ignored;
    in_.close(ignored);
    out_.close(ignored);
    err_.close(ignored);
    child_.reset();  // ends what is left of the server's process group
  }

  asio::any_io_executor ex_;
  std::vector<std::string> command_;
  std::unique_ptr<StdioChild> child_;
  asio::posix::stream_descriptor in_, out_, err_;
  asio::steady_timer exited_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool eof_ = false;
};

}  // namespace

std::shared_ptr<ClientTransport> make_stdio_transport(asio::any_io_executor ex, std::vector<std::string> command) {
  return std::make_shared<StdioTransport>(ex, std::move(command));
}

}  // namespace faultline::sim
