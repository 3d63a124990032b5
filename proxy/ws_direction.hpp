#pragma once
// One direction of a websocket session (see ws_session.hpp): the frames one
// peer sends, read, decoded, queued, pumped through the faults and written to
// the other peer. Its parts live in ws_direction.cpp (reading), ws_pump.cpp
// (the queue through the frame chain), ws_writer.cpp (encoding and writing)
// and ws_fault_attachment.cpp (the faults, and what a frame fault may do: the
// direction is its FrameOutlet).

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "faults/byte_chain.hpp"
#include "faults/frame_chain.hpp"
#include "mcp/ws_codec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/attached_frame_fault.hpp"
#include "proxy/wake_signal.hpp"
#include "proxy/ws_common.hpp"

namespace faultline::ws {

using boost::asio::ip::tcp;
using mcp::WsOpcode;

class WsSession;

// The end of a direction's byte chain: the peer's socket.
class WsWire final : public ChainSink {
 public:
  WsWire(WsSession& session, Direction dir, tcp::socket& to) : session_(session), dir_(dir), to_(to) {}
  asio::awaitable<void> write(Chunk chunk) override;
  asio::awaitable<void> end(StreamEnd end) override;
  std::uint64_t bytes() const { return bytes_; }

 private:
  WsSession& session_;
  Direction dir_;
  tcp::socket& to_;
  std::uint64_t bytes_ = 0;
};

// One direction: reader -> decoder -> queue -> pump -> frame chain -> this
// sink -> encoder -> writer -> byte chain -> wire.
class WsDirection final : public FrameSink, public FrameOutlet, public WsOutlet {
 public:
  // `max_message`: the largest message decoded (unset: the decoder's default); a larger one is a 1009 violation.
  WsDirection(WsSession& session, Direction dir, tcp::socket& from, tcp::socket& to,
              std::optional<std::uint64_t> max_message);

  void attach(const FaultPtr& spec, std::optional<std::size_t> position = std::nullopt);
  // Returns the position the fault had, if it was attached here.
  std::optional<std::size_t> detach(const FaultSpec& spec);
  void detach_all();

  // Bytes from the sender after the upgrade (the reader's, or what came with the handshake).
  void feed(std::string_view bytes, Clock::time_point arrival);
  asio::awaitable<void> read_loop();
  asio::awaitable<void> pump_loop();
  // Queue bytes (or one frame) for the peer: the writer takes all that is
  // queued through the byte chain in one go. Waits only while too much is queued.
  asio::awaitable<void> send_raw(std::string_view bytes, Clock::time_point arrival);
  asio::awaitable<void> send_frame(WsOpcode opcode, bool fin, std::string_view payload, Clock::time_point arrival);
  // Until everything queued was written.
  asio::awaitable<void> flushed();
  // Ends the byte stream to the peer (after what is being written).
  asio::awaitable<void> end_stream(StreamEnd end);

  // FrameSink
  asio::awaitable<void> write(WireFrame frame) override;
  asio::awaitable<void> end() override;
  asio::awaitable<void> write_fragmented(WireFrame frame, std::vector<std::size_t> sizes);

  // Stops taking input, then sends a close frame (code, reason) and ends the
  // stream: after what is queued, or at once (`drop_queued`: what is queued is lost).
  void close_with(int code, std::string reason, bool drop_queued);
  void wake();

  // FrameOutlet, WsOutlet: what a frame fault may do (ws_fault_attachment.cpp)
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame, const FaultSpec& fault) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  void close_output(std::string_view reason, const FaultSpec& fault) override;
  bool flushing() const override { return flushing_; }
  WsOutlet* ws() override { return this; }
  void close_websocket(int code, std::string_view reason, const FaultSpec& fault) override;
  asio::awaitable<void> emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) override;

  Direction direction() const { return dir_; }
  std::uint64_t bytes() const { return wire_.bytes(); }
  // A copy: before_connect may run while faults change.
  std::vector<std::shared_ptr<AttachedByteFault>> byte_faults() const { return byte_faults_; }
  std::uint64_t discarded() const { return discarded_; }
  bool writing() const { return writing_; }
  bool close_sent() const { return close_sent_; }
  tcp::socket& to() { return to_; }
  std::string encode(WsOpcode opcode, bool fin, std::string_view payload);

 private:
  struct Item {
    enum Kind { message, binary, ping, pong, close, finish } kind = message;
    std::vector<WireFrame> frames;  // message: one, or a batch's members
    std::string payload;            // binary, ping, pong, close
    Clock::time_point arrival;
    std::size_t bytes = 0;          // counted against the queue limit
    bool end_after = false;         // close: end the stream after it (faultline closed)
    StreamEnd stream_end;           // end
  };
  void push(Item item);
  void on_event(mcp::WsEvent& e, Clock::time_point arrival);
  bool pass_control(WsControl kind);
  asio::awaitable<void> pump_message(Item& item, const std::shared_ptr<FrameChain>& chain);
  asio::awaitable<bool> pump_close(Item& item, const std::shared_ptr<FrameChain>& chain);
  asio::awaitable<void> flush_batch();
  asio::awaitable<void> write_pending_close();
  asio::awaitable<void> deliver_end();
  asio::awaitable<void> kick_writer();
  asio::awaitable<void> write_loop();
  std::optional<std::uint32_t> next_mask();
  void rebuild_chains();

  WsSession& session_;
  Direction dir_;
  tcp::socket& from_;
  tcp::socket& to_;
  WsWire wire_;
  mcp::WsDecoder decoder_;
  std::vector<mcp::WsEvent> events_;
  std::vector<mcp::Frame> frames_;
  std::deque<Item> queue_;
  std::size_t queued_bytes_ = 0;
  WakeSignal data_ready_;
  WakeSignal space_ready_;
  WakeSignal tasks_done_;
  Broadcast written_;
  std::vector<std::shared_ptr<AttachedFrameFault>> frame_faults_;
  std::vector<std::shared_ptr<AttachedByteFault>> byte_faults_;
  std::shared_ptr<FrameChain> frame_chain_;
  std::shared_ptr<FaultChain> byte_chain_;
  std::vector<mcp::Frame> batch_;  // members of the batch being pumped, written as one message
  bool batch_open_ = false;
  std::string outbox_;
  Clock::time_point outbox_arrival_;
  bool writing_ = false;
  std::optional<StreamEnd> stream_end_;
  bool end_sent_ = false;
  std::optional<std::string> pending_close_;
  bool close_queued_ = false;
  bool close_sent_ = false;
  bool input_stopped_ = false;
  bool frames_ended_ = false;
  bool flushing_ = false;
  bool pump_done_ = false;
  int pending_tasks_ = 0;
  std::uint64_t discarded_ = 0;
  std::mt19937 mask_rng_;
};

}  // namespace faultline::ws
