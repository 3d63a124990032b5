// A websocket direction's input: reading the sender's socket, decoding
// WebSocket frames into messages (recorded as they arrive), and queueing them
// for the pump.

#include "proxy/ws_direction.hpp"

#include "proxy/link.hpp"
#include "proxy/session_socket.hpp"
#include "proxy/ws_session_impl.hpp"

namespace faultline::ws {

namespace {
// Messages are classified in one validating pass; the DOM is built only for
// what needs it (a fault that edits the message, the session's handshake records).
constexpr mcp::DecodeLimits kDecodeLimits{.defer_message = true};

constexpr std::size_t kReadBytes = 256 * 1024;
}  // namespace

WsDirection::WsDirection(WsSession& session, Direction dir, tcp::socket& from, tcp::socket& to,
                         std::optional<std::uint64_t> max_message)
    : session_(session),
      dir_(dir),
      from_(from),
      to_(to),
      wire_(session, dir, to),
      decoder_(mcp::WsDecoderOptions{dir == Direction::upstream,
                                     max_message.value_or(mcp::WsDecoderOptions{}.max_message_bytes)}),
      data_ready_(from.get_executor()),
      space_ready_(from.get_executor()),
      tasks_done_(from.get_executor()),
      written_(from.get_executor()),
      mask_rng_(dir == Direction::upstream ? std::random_device{}() : 0) {
  rebuild_chains();
}

void WsDirection::wake() {
  for (auto& f : frame_faults_) f->slot().cancel_waits();
  for (auto& f : byte_faults_) f->cancel_waits();
  data_ready_.notify();
  space_ready_.notify();
  tasks_done_.notify();
  written_.notify();
}

void WsDirection::push(Item item) {
  queued_bytes_ += item.bytes;
  queue_.push_back(std::move(item));
  data_ready_.notify();
}

// Waits for readability, then reads what is there into the worker thread's
// scratch buffer and decodes it before the next wait: an idle connection
// holds no read buffer.
asio::awaitable<void> WsDirection::read_loop() {
  auto self = session_.shared_from_this();
  static thread_local Bytes scratch(kReadBytes);
  boost::system::error_code ignored;
  from_.non_blocking(true, ignored);
  while (!session_.closing()) {
    if (queued_bytes_ >= session_.link().env().max_queued_bytes && !input_stopped_) {
      co_await space_ready_.wait();
      continue;
    }
    auto [ec] = co_await from_.async_wait(tcp::socket::wait_read, use_tuple);
    if (session_.closing()) break;
    std::size_t n = 0;
    if (!ec) n = from_.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) {
      StreamEnd end;
      end.kind = ec == asio::error::eof ? StreamEnd::fin : is_reset(ec) ? StreamEnd::rst : StreamEnd::error;
      end.ec = ec;
      session_.note_end(dir_, end);
      if (!pump_done_) push(Item{.kind = Item::finish, .arrival = Clock::now(), .stream_end = end});
      session_.reader_done();
      co_return;
    }
    feed(std::string_view(scratch.data(), n), Clock::now());
  }
}

void WsDirection::feed(std::string_view bytes, Clock::time_point arrival) {
  if (input_stopped_ || bytes.empty()) return;  // after a close: read and dropped
  events_.clear();
  decoder_.feed(bytes, events_);
  for (auto& e : events_) {
    on_event(e, arrival);
    if (session_.closing()) return;
  }
}

void WsDirection::on_event(mcp::WsEvent& e, Clock::time_point arrival) {
  const auto from = peer_of(dir_);
  switch (e.kind) {
    case mcp::WsEvent::message: {
      if (e.opcode == WsOpcode::binary) {  // not JSON-RPC text: relayed as it is, not decoded
        session_.emit("ws.binary", {{"from", mcp::to_string(from)}, {"bytes", e.payload.size()}});
        const auto size = e.payload.size();
        push(Item{.kind = Item::binary, .payload = std::move(e.payload), .arrival = arrival, .bytes = size});
        return;
      }
      Item item{.kind = Item::message, .arrival = arrival, .bytes = e.payload.size()};
      frames_.clear();
      mcp::decode_owned_json_text(std::move(e.payload), e.offset, frames_, kDecodeLimits);  // e.payload is not read again
      item.frames.reserve(frames_.size());
      for (auto& f : frames_) {
        WireFrame& wf = item.frames.emplace_back();
        wf.method = session_.observe(from, f, arrival, false);
        wf.frame = std::move(f);
        wf.arrival = arrival;
      }
      if (e.frames > 1) session_.emit("ws.fragmented", {{"from", mcp::to_string(from)}, {"frames", e.frames}});
      push(std::move(item));
      return;
    }
    case mcp::WsEvent::ping:
    case mcp::WsEvent::pong:
      push(Item{.kind = e.kind == mcp::WsEvent::ping ? Item::ping : Item::pong,
                .payload = std::move(e.payload),
                .arrival = arrival});
      return;
    case mcp::WsEvent::close:
      session_.note_close_frame(dir_, e);
      input_stopped_ = true;  // nothing may follow a close frame
      push(Item{.kind = Item::close, .payload = std::move(e.payload), .arrival = arrival});
      return;
    case mcp::WsEvent::violation:
      session_.violation(dir_, e);
      return;
  }
}

}  // namespace faultline::ws
