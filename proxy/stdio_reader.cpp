// A stdio direction's input: reading what one side writes, decoding it line
// by line into messages (recorded as they arrive), and queueing them for the
// pump; a line over max_message is queued as it is, piece by piece.

#include "proxy/stdio_direction.hpp"

#include <algorithm>
#include <vector>

namespace faultline::stdio {

namespace {
constexpr std::size_t kReadBytes = 64 * 1024;
}  // namespace

asio::awaitable<void> StdioDirection::read_loop() {
  auto self = run_.shared_from_this();
  std::vector<char> buffer(kReadBytes);
  while (!run_.finished()) {
    if (queued_bytes_ >= run_.options().max_queued_bytes) {
      co_await space_ready_.wait();
      continue;
    }
    auto [ec, n] = co_await from_.async_read_some(asio::buffer(buffer), use_tuple);
    if (run_.finished()) break;
    if (ec) {
      end_input(ec);
      co_return;
    }
    take(std::string_view(buffer.data(), n), Clock::now());
    data_ready_.notify();
  }
}

// Decodes what arrived one piece at a time, each piece ending at a newline or
// at the end of the chunk: the decoder reports a line over max_message in the
// piece that takes it over, so that piece is where the rest of the line starts.
void StdioDirection::take(std::string_view chunk, Clock::time_point arrival) {
  while (!chunk.empty()) {
    const auto newline = chunk.find('\n');
    const bool ends_line = newline != std::string_view::npos;
    const std::size_t size = ends_line ? newline + 1 : chunk.size();
    take_piece(chunk.substr(0, size), ends_line, arrival);
    chunk.remove_prefix(size);
  }
}

void StdioDirection::take_piece(std::string_view piece, bool ends_line, Clock::time_point arrival) {
  frames_.clear();
  if (in_long_line_) {
    decoder_.feed(piece, frames_);  // skipped by the decoder (which counts its bytes) up to the newline
    queue_long_line(std::string(piece), false, ends_line, arrival);
  } else {
    const auto long_lines_before = decoder_.oversized_lines();
    decoder_.feed(piece, frames_);
    if (decoder_.oversized_lines() == long_lines_before) {
      queue_frames(arrival);
    } else {
      // The line just went over max_message. The decoder made one invalid frame
      // of its first max_message bytes (from earlier pieces and this one); they
      // are recorded and passed on, then the rest of the line as it comes.
      in_long_line_ = true;
      mcp::Frame& head = frames_.back();
      run_.observe(sender_of(dir_), head, arrival, false);
      const std::size_t head_here = std::min(piece.size(), head.raw.size() - line_bytes_);
      queue_long_line(std::move(head.raw), true, false, arrival);
      queue_long_line(std::string(piece.substr(head_here)), false, ends_line, arrival);
    }
  }
  line_bytes_ = ends_line ? 0 : line_bytes_ + piece.size();
  if (ends_line) in_long_line_ = false;
}

// Records what the decoder made of a piece and queues it for the pump.
void StdioDirection::queue_frames(Clock::time_point arrival) {
  for (auto& f : frames_) {
    Item item{.kind = Item::decoded, .arrival = arrival};
    item.frame.method = run_.observe(sender_of(dir_), f, arrival, false);
    item.frame.frame = std::move(f);
    item.frame.arrival = arrival;
    if (output_closed_) {
      ++discarded_;  // close_stdout: what comes afterwards is read and dropped
      continue;
    }
    push(std::move(item));
  }
}

void StdioDirection::queue_long_line(std::string bytes, bool starts_line, bool ends_line, Clock::time_point arrival) {
  if (output_closed_) {
    if (starts_line) ++discarded_;
    return;
  }
  push(Item{.kind = Item::long_line, .bytes = std::move(bytes), .starts_line = starts_line, .ends_line = ends_line,
            .arrival = arrival});
}

// The input ended (or failed): a last line without its newline is decoded too.
void StdioDirection::end_input(const boost::system::error_code& ec) {
  const auto arrival = Clock::now();
  frames_.clear();
  decoder_.finish(frames_);
  queue_frames(arrival);
  input_done_ = true;
  run_.emit("stdio.eof", {{"direction", to_string(dir_)},
                          {"from", mcp::to_string(sender_of(dir_))},
                          {"bytes", decoder_.bytes_fed()},
                          {"how", ec == asio::error::eof ? "eof" : ec.message()}});
  push(Item{.kind = Item::input_end, .arrival = arrival});
  // The run's other ends (the server's exit, stderr, the closed output) may all have come first.
  run_.check_finished();
}

void StdioDirection::push(Item item) {
  queued_bytes_ += item.size();
  queue_.push_back(std::move(item));
  data_ready_.notify();
}

}  // namespace faultline::stdio
