// A stdio direction's output: lines through the byte faults to one writer at
// a time, and how the output closes (at the end, on a fault, on a write error).

#include "proxy/stdio_direction.hpp"

#include <boost/asio/write.hpp>

namespace faultline::stdio {

namespace {
// Bytes waiting to be written to one side, past which a writer waits for the
// write in flight (the first writer drains the outbox, later ones append).
constexpr std::size_t kOutboxWaitBytes = 1 << 20;
}  // namespace

asio::awaitable<void> StdioDirection::write_line(std::string bytes, Clock::time_point arrival) {
  while (long_line_open_ && !output_closed_ && !run_.finished()) co_await long_line_done_.wait();
  co_await write_bytes(std::move(bytes), arrival);
}

asio::awaitable<void> StdioDirection::write_bytes(std::string bytes, Clock::time_point arrival) {
  if (!byte_chain_) {
    co_await send(std::move(bytes));
    co_return;
  }
  Chunk chunk;
  chunk.bytes.assign(bytes.begin(), bytes.end());
  chunk.arrival = arrival;  // a latency fault measures from when the message arrived
  auto chain = byte_chain_;
  co_await chain->data(0, std::move(chunk));
}

// One write in flight: the first writer drains the outbox, later ones append to it.
asio::awaitable<void> StdioDirection::send(std::string bytes) {
  auto self = run_.shared_from_this();
  if (closing_after_flush_) {
    ++discarded_;
    co_return;
  }
  while (writing_ && outbox_.size() >= kOutboxWaitBytes && !output_closed_ && !run_.finished()) co_await written_.wait();
  outbox_ += bytes;
  if (writing_) co_return;
  writing_ = true;
  while (!outbox_.empty() && !output_closed_) {
    std::string out;
    out.swap(outbox_);
    auto [ec, n] = co_await asio::async_write(to_, asio::buffer(out), use_tuple);
    written_.notify();
    if (ec) {
      outbox_.clear();
      const std::string why = "write to " + std::string(mcp::to_string(mcp::other(sender_of(dir_)))) + ": " + ec.message();
      if (!output_closed_) run_.emit("stdio.write_error", {{"direction", to_string(dir_)}, {"error", ec.message()}});
      finish_output(why);
      break;
    }
  }
  writing_ = false;
  written_.notify();
  if (end_requested_) finish_output(end_reason_);
}

void StdioDirection::request_end() {
  end_requested_ = true;  // the writer closes the output once the outbox is empty
  if (!writing_) finish_output(end_reason_);
}

void StdioDirection::close_after_flush(std::string_view reason) {
  if (output_closed_ || closing_after_flush_) return;
  run_.emit("stdio.close_output", {{"direction", to_string(dir_)}, {"reason", reason}});
  closing_after_flush_ = true;
  end_reason_ = std::string(reason);
  request_end();
}

void StdioDirection::close_output(std::string_view reason) {
  if (output_closed_) return;
  run_.emit("stdio.close_output", {{"direction", to_string(dir_)}, {"reason", reason}});
  finish_output(reason);
}

void StdioDirection::finish_output(std::string_view why) {
  if (output_closed_) return;
  output_closed_ = true;
  outbox_.clear();
  boost::system::error_code ignored;
  to_.close(ignored);
  run_.output_closed(dir_, why);
}

}  // namespace faultline::stdio
