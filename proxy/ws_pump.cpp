// A websocket direction's pump: the queue, item by item, through the frame
// chain (messages), or straight on (binary, ping, pong, close); and the frame
// chain's end, where the messages that leave it are encoded again.

#include "proxy/ws_direction.hpp"

#include <algorithm>

#include "mcp/ndjson_codec.hpp"  // append_batch_text
#include "proxy/ws_session_impl.hpp"

namespace faultline::ws {

asio::awaitable<void> WsDirection::pump_loop() {
  auto self = session_.shared_from_this();
  while (!session_.closing()) {
    if (queue_.empty()) {
      co_await data_ready_.wait();
      continue;
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= std::min(queued_bytes_, item.bytes);
    space_ready_.notify();
    auto chain = frame_chain_;  // this message finishes its way through the chain it entered
    switch (item.kind) {
      case Item::message:
        co_await pump_message(item, chain);
        break;
      case Item::binary:
        if (!frames_ended_) co_await send_frame(WsOpcode::binary, true, item.payload, item.arrival);
        break;
      case Item::ping:
      case Item::pong: {
        const auto kind = item.kind == Item::ping ? WsControl::ping : WsControl::pong;
        if (frames_ended_ || !pass_control(kind)) break;
        co_await send_frame(kind == WsControl::ping ? WsOpcode::ping : WsOpcode::pong, true, item.payload,
                            item.arrival);
        break;
      }
      case Item::close: {
        const bool stream_ended = co_await pump_close(item, chain);
        if (stream_ended) co_return;
        break;
      }
      case Item::finish:
        pump_done_ = true;
        if (!frames_ended_ && item.stream_end.kind == StreamEnd::fin) co_await chain->end(0);
        co_await end_stream(item.stream_end);
        co_return;
    }
  }
  pump_done_ = true;
}

// A message (or a batch's members) through the frame chain; a batch's members
// that the faults let through leave as one message.
asio::awaitable<void> WsDirection::pump_message(Item& item, const std::shared_ptr<FrameChain>& chain) {
  if (frames_ended_) {
    discarded_ += item.frames.size();
    co_return;
  }
  batch_open_ = item.frames.size() > 1 || item.frames.front().frame.batch.has_value();
  for (auto& f : item.frames) co_await chain->frame(0, std::move(f));
  batch_open_ = false;
  co_await flush_batch();
}

// A close frame: what faults hold goes out first, then the close frame
// (nothing may follow it). True when the stream to the peer ended after it.
asio::awaitable<bool> WsDirection::pump_close(Item& item, const std::shared_ptr<FrameChain>& chain) {
  pending_close_ = std::move(item.payload);
  if (!frames_ended_) co_await chain->end(0);
  co_await write_pending_close();
  if (!item.end_after) co_return false;
  pump_done_ = true;
  co_await end_stream(StreamEnd{});
  co_return true;
}

asio::awaitable<void> WsDirection::write(WireFrame frame) {
  if (frames_ended_ || close_sent_ || session_.closing()) {
    ++discarded_;
    co_return;
  }
  const auto& batch = frame.frame.batch;
  if (batch_open_ && batch && (batch_.empty() || batch_.front().batch->text == batch->text)) {
    batch_.push_back(std::move(frame.frame));
    co_return;
  }
  co_await send_frame(WsOpcode::text, true, frame.frame.raw, frame.arrival);
}

asio::awaitable<void> WsDirection::flush_batch() {
  if (batch_.empty()) co_return;
  std::string text;
  mcp::append_batch_text(batch_, text);  // the original bytes when the batch is whole and unchanged
  batch_.clear();
  co_await send_frame(WsOpcode::text, true, text, Clock::now());
}

asio::awaitable<void> WsDirection::write_fragmented(WireFrame frame, std::vector<std::size_t> sizes) {
  if (frames_ended_ || close_sent_ || session_.closing()) {
    ++discarded_;
    co_return;
  }
  std::string_view rest = frame.frame.raw;
  std::string out;
  auto opcode = WsOpcode::text;
  for (const auto size : sizes) {
    const auto piece = rest.substr(0, std::min(size, rest.size()));
    out += encode(opcode, false, piece);
    rest.remove_prefix(piece.size());
    opcode = WsOpcode::continuation;
  }
  out += encode(opcode, true, rest);
  co_await send_raw(out, frame.arrival);
}

asio::awaitable<void> WsDirection::end() {
  auto self = session_.shared_from_this();
  // Never lose bytes by accident: what faults still hold is let go now.
  flushing_ = true;
  for (auto& f : frame_faults_) f->slot().cancel_waits();
  while (pending_tasks_ > 0 && !session_.closing()) co_await tasks_done_.wait();
  co_await flush_batch();
  frames_ended_ = true;
}

asio::awaitable<void> WsDirection::write_pending_close() {
  if (!pending_close_) co_return;
  auto payload = std::move(*pending_close_);
  pending_close_.reset();
  if (close_sent_ || session_.closing()) co_return;
  close_sent_ = true;
  frames_ended_ = true;
  co_await send_frame(WsOpcode::close, true, payload, Clock::now());
}

void WsDirection::close_with(int code, std::string reason, bool drop_queued) {
  if (close_queued_) return;
  close_queued_ = true;
  input_stopped_ = true;
  if (drop_queued) {
    for (const auto& item : queue_) discarded_ += item.frames.size();
    queue_.clear();
    queued_bytes_ = 0;
  }
  push(Item{.kind = Item::close,
            .payload = mcp::ws_close_payload(code, reason),
            .arrival = Clock::now(),
            .end_after = true});
}

}  // namespace faultline::ws
