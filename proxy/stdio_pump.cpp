// A stdio direction's pump: the queue, item by item, through the frame chain
// (messages, batches) or straight on (the pieces of a line over max_message);
// and the frame chain's end, where the messages that leave it become lines.

#include "proxy/stdio_direction.hpp"

#include <algorithm>

namespace faultline::stdio {

StdioDirection::Item StdioDirection::pop() {
  Item item = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= std::min(queued_bytes_, item.size());
  space_ready_.notify();
  return item;
}

asio::awaitable<void> StdioDirection::pump_loop() {
  auto self = run_.shared_from_this();
  while (!run_.finished()) {
    if (queue_.empty()) {
      co_await data_ready_.wait();
      continue;
    }
    Item item = pop();
    switch (item.kind) {
      case Item::decoded:
        co_await pump_frame(std::move(item));
        break;
      case Item::long_line:
        co_await pass_on(std::move(item));
        break;
      case Item::input_end: {
        end_long_line();  // had the input ended inside a long line, that line is over
        auto chain = chain_;
        co_await chain->end(0);
        co_return;
      }
    }
  }
}

asio::awaitable<void> StdioDirection::pump_frame(Item item) {
  if (item.frame.frame.batch) {
    co_await pump_batch(std::move(item));
    co_return;
  }
  auto chain = chain_;
  co_await chain->frame(0, std::move(item.frame));
}

// A batch's members were queued together: what the faults let through of them
// leaves as one line, the original bytes when nothing changed.
asio::awaitable<void> StdioDirection::pump_batch(Item first) {
  const auto batch = first.frame.frame.batch;
  auto chain = chain_;
  batch_open_ = true;
  co_await chain->frame(0, std::move(first.frame));
  while (!queue_.empty() && queue_.front().kind == Item::decoded && queue_.front().frame.frame.batch &&
         queue_.front().frame.frame.batch->text == batch->text) {
    Item member = pop();
    co_await chain->frame(0, std::move(member.frame));
  }
  batch_open_ = false;
  co_await flush_batch();
}

// A piece of a long line goes straight to the writer: the frame faults cannot
// act on a message that was not decoded. Until its newline, other writes
// (frames that faults held, replies a fault sends) wait, so none lands inside it.
asio::awaitable<void> StdioDirection::pass_on(Item piece) {
  if (piece.starts_line) long_line_open_ = true;
  if (output_closed_ || closing_after_flush_) {
    if (piece.starts_line) ++discarded_;
  } else {
    co_await write_bytes(std::move(piece.bytes), piece.arrival);
  }
  if (piece.ends_line) end_long_line();
}

void StdioDirection::end_long_line() {
  long_line_open_ = false;
  long_line_done_.notify();
}

asio::awaitable<void> StdioDirection::write(WireFrame frame) {
  if (output_closed_) {
    ++discarded_;
    co_return;
  }
  const auto& batch = frame.frame.batch;
  if (batch_open_ && batch && (batch_.empty() || batch_.front().batch->text == batch->text)) {
    if (batch_.empty()) batch_arrival_ = frame.arrival;
    batch_.push_back(std::move(frame.frame));
    co_return;
  }
  std::string bytes;
  mcp::append_ndjson_line(frame.frame, bytes);
  co_await write_line(std::move(bytes), frame.arrival);
}

asio::awaitable<void> StdioDirection::flush_batch() {
  if (batch_.empty()) co_return;
  std::string bytes;
  mcp::append_ndjson_batch(batch_, bytes);
  batch_.clear();
  co_await write_line(std::move(bytes), batch_arrival_);
}

asio::awaitable<void> StdioDirection::end() {
  auto self = run_.shared_from_this();
  // Never lose bytes by accident: what faults still hold is let go now.
  flushing_ = true;
  for (auto& f : frame_faults_) f->slot().cancel_waits();
  while (pending_tasks_ > 0 && !run_.finished()) co_await tasks_done_.wait();
  if (byte_chain_) {
    auto chain = byte_chain_;  // slow_close delays the end, half_open swallows it
    StreamEnd fin;
    fin.kind = StreamEnd::fin;
    co_await chain->end(0, fin);
    co_return;
  }
  request_end();
}

}  // namespace faultline::stdio
