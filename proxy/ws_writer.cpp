// A websocket direction's output: WebSocket frames encoded (masked toward
// the server) into an outbox, which one writer at a time passes through the
// byte chain to the peer's socket (WsWire).

#include "proxy/ws_direction.hpp"

#include <boost/asio/write.hpp>

#include "proxy/link.hpp"
#include "proxy/session_socket.hpp"
#include "proxy/ws_session_impl.hpp"

namespace faultline::ws {

asio::awaitable<void> WsWire::write(Chunk chunk) {
  if (session_.closing() || chunk.bytes.empty()) co_return;
  auto [ec, n] = co_await asio::async_write(to_, asio::buffer(chunk.bytes), use_tuple);
  bytes_ += n;
  auto& stats = session_.link().stats();
  (dir_ == Direction::upstream ? stats.bytes_upstream : stats.bytes_downstream) += n;
  if (ec && !session_.closing())
    session_.close(CloseMode::rst, receiver_of(dir_), is_reset(ec) ? "rst" : "error",
                   "write to " + std::string(by_name(receiver_of(dir_))) + ": " + ec.message());
}

asio::awaitable<void> WsWire::end(StreamEnd end) {
  if (session_.closing()) co_return;
  if (end.kind == StreamEnd::fin) {
    boost::system::error_code ignored;
    to_.shutdown(tcp::socket::shutdown_send, ignored);
    session_.stream_ended();
  } else {
    // A reset or an error on one side is passed on as a reset to the other.
    session_.close(CloseMode::rst, sender_of(dir_), std::string(to_string(end.kind)),
                   std::string(by_name(sender_of(dir_))) + ": " + end.ec.message());
  }
  co_return;
}

std::string WsDirection::encode(WsOpcode opcode, bool fin, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 14);
  mcp::append_ws_frame(out, opcode, fin, payload, next_mask());
  return out;
}

std::optional<std::uint32_t> WsDirection::next_mask() {
  if (dir_ != Direction::upstream) return std::nullopt;
  return static_cast<std::uint32_t>(mask_rng_());  // a client's frames are masked
}

asio::awaitable<void> WsDirection::send_raw(std::string_view bytes, Clock::time_point arrival) {
  if (outbox_.empty()) outbox_arrival_ = arrival;
  outbox_.append(bytes);
  co_await kick_writer();
}

asio::awaitable<void> WsDirection::send_frame(WsOpcode opcode, bool fin, std::string_view payload,
                                              Clock::time_point arrival) {
  if (outbox_.empty()) outbox_arrival_ = arrival;
  mcp::append_ws_frame(outbox_, opcode, fin, payload, next_mask());
  co_await kick_writer();
}

asio::awaitable<void> WsDirection::kick_writer() {
  if (!writing_) {
    writing_ = true;
    session_.spawn(write_loop());
  }
  while (outbox_.size() >= kOutboxLimit && writing_ && !session_.closing()) co_await written_.wait();
}

// One write in flight: it takes everything queued so far, so a burst of
// messages costs one write, and passes it through the byte chain.
asio::awaitable<void> WsDirection::write_loop() {
  auto self = session_.shared_from_this();
  while (!outbox_.empty() && !session_.closing()) {
    Chunk chunk;
    chunk.bytes.assign(outbox_.begin(), outbox_.end());
    chunk.arrival = outbox_arrival_;
    outbox_.clear();
    if (outbox_.capacity() > kOutboxLimit) outbox_.shrink_to_fit();
    auto chain = byte_chain_;
    co_await chain->data(0, std::move(chunk));
    written_.notify();
  }
  writing_ = false;
  written_.notify();
  if (stream_end_ && !end_sent_) co_await deliver_end();
}

asio::awaitable<void> WsDirection::flushed() {
  while (writing_ && !session_.closing()) co_await written_.wait();
}

asio::awaitable<void> WsDirection::end_stream(StreamEnd end) {
  if (stream_end_) co_return;
  stream_end_ = end;
  if (!writing_) co_await deliver_end();
}

asio::awaitable<void> WsDirection::deliver_end() {
  if (end_sent_ || session_.closing()) co_return;
  end_sent_ = true;
  auto chain = byte_chain_;
  co_await chain->end(0, *stream_end_);
}

}  // namespace faultline::ws
