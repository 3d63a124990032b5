#pragma once
// One direction of a stdio run (stdio_run.hpp): the lines one side writes,
// read, decoded, queued, pumped through the faults and written to the other
// side. Its parts live in stdio_reader.cpp (reading and decoding),
// stdio_pump.cpp (the queue through the frame chain), stdio_writer.cpp (the
// output) and stdio_fault_attachment.cpp (the faults, and what a frame fault
// may do: the direction is its FrameOutlet).

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faults/byte_chain.hpp"
#include "faults/frame_chain.hpp"
#include "mcp/ndjson_codec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/attached_frame_fault.hpp"
#include "proxy/stdio_run.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline::stdio {

// One direction: reader -> decoder -> queue -> pump -> frame chain -> this sink -> writer.
//
// A line longer than max_message is not decoded past that size: it is recorded
// as one invalid frame and then passed on whole, bypassing the frame faults,
// as it arrives (its first max_message bytes, then the rest piece by piece up
// to its newline), so it is never held in memory all at once.
class StdioDirection final : public FrameSink, public FrameOutlet {
 public:
  StdioDirection(StdioRun& run, Direction dir, stream_descriptor& from, stream_descriptor& to)
      : run_(run), dir_(dir), from_(from), to_(to),
        decoder_(mcp::NdjsonOptions{.max_frame_bytes = run.options().max_message,
                                    .limits = {.defer_message = true}}),  // DOM built only when needed
        data_ready_(run.executor()), space_ready_(run.executor()), tasks_done_(run.executor()),
        written_(run.executor()), long_line_done_(run.executor()) {}

  // Faults (stdio_fault_attachment.cpp): a frame fault on this direction's
  // messages, or a byte fault on the bytes it writes; at `position` in its
  // chain (the end when not given). detach returns the position it had.
  void attach(const FaultPtr& spec, std::optional<std::size_t> position = std::nullopt);
  std::optional<std::size_t> detach(const FaultSpec& spec);

  asio::awaitable<void> read_loop();
  asio::awaitable<void> pump_loop();

  // FrameSink
  asio::awaitable<void> write(WireFrame frame) override;
  asio::awaitable<void> end() override;

  // FrameOutlet: what a frame fault may do (stdio_fault_attachment.cpp)
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame, const FaultSpec& fault) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int signo, const FaultSpec& fault) override;
  void close_output(std::string_view reason, const FaultSpec& fault) override;
  bool flushing() const override { return flushing_; }

  void close_output(std::string_view reason);
  // Writes what is already on its way, then closes; later writes are dropped.
  void close_after_flush(std::string_view reason);
  bool input_done() const { return input_done_; }
  bool output_closed() const { return output_closed_; }
  Direction direction() const { return dir_; }
  void wake() {
    for (auto& f : frame_faults_) f->slot().cancel_waits();
    for (auto& f : byte_faults_) f->cancel_waits();
    data_ready_.notify();
    space_ready_.notify();
    tasks_done_.notify();
    written_.notify();
    long_line_done_.notify();
  }
  std::uint64_t frames_discarded() const { return discarded_; }

 private:
  // What the reader queues for the pump, in the order it was read.
  struct Item {
    enum Kind {
      decoded,     // a message (or one member of a batch): through the frame chain
      long_line,   // a piece of a line longer than max_message: passed on as it is
      input_end,   // the end of the input
    } kind = decoded;
    WireFrame frame;           // decoded
    std::string bytes;         // long_line
    bool starts_line = false;  // long_line: its first max_message bytes (the invalid frame's)
    bool ends_line = false;    // long_line: ends with the line's newline
    Clock::time_point arrival{};
    std::size_t size() const { return kind == decoded ? frame.frame.raw.size() : bytes.size(); }
  };
  // Where the byte chain delivers: the writer.
  class ByteOut final : public ChainSink {
   public:
    explicit ByteOut(StdioDirection& d) : d_(d) {}
    asio::awaitable<void> write(Chunk chunk) override {
      co_await d_.send(std::string(chunk.bytes.data(), chunk.bytes.size()));
    }
    asio::awaitable<void> end(StreamEnd) override {
      d_.request_end();
      co_return;
    }

   private:
    StdioDirection& d_;
  };
  // Reading: what arrived is split at newlines, each piece decoded and queued.
  void take(std::string_view chunk, Clock::time_point arrival);
  void take_piece(std::string_view piece, bool ends_line, Clock::time_point arrival);
  void queue_frames(Clock::time_point arrival);
  void queue_long_line(std::string bytes, bool starts_line, bool ends_line, Clock::time_point arrival);
  void end_input(const boost::system::error_code& ec);
  void push(Item item);
  Item pop();
  // Pumping: one message, a batch's members, a piece of a long line.
  asio::awaitable<void> pump_frame(Item item);
  asio::awaitable<void> pump_batch(Item first);
  asio::awaitable<void> pass_on(Item piece);
  void end_long_line();

  asio::awaitable<void> send(std::string bytes);
  // Writes a whole line's bytes, once no long line is being passed on.
  asio::awaitable<void> write_line(std::string bytes, Clock::time_point arrival);
  // Writes bytes through this direction's byte faults.
  asio::awaitable<void> write_bytes(std::string bytes, Clock::time_point arrival);
  asio::awaitable<void> flush_batch();
  void request_end();
  void finish_output(std::string_view why);

  StdioRun& run_;
  Direction dir_;
  stream_descriptor& from_;
  stream_descriptor& to_;
  mcp::NdjsonDecoder decoder_;
  std::vector<mcp::Frame> frames_;  // what the decoder made of one piece
  std::size_t line_bytes_ = 0;      // read of the current line so far (before this piece)
  bool in_long_line_ = false;       // reading a line past max_message, up to its newline
  std::deque<Item> queue_;
  std::size_t queued_bytes_ = 0;
  WakeSignal data_ready_;
  WakeSignal space_ready_;
  WakeSignal tasks_done_;
  Broadcast written_;         // the writer wrote (some of) the outbox
  Broadcast long_line_done_;  // the long line being passed on ended
  bool long_line_open_ = false;  // its first bytes were written, its newline not yet
  void rebuild_chains();
  std::vector<std::shared_ptr<AttachedFrameFault>> frame_faults_;
  std::shared_ptr<FrameChain> chain_ = std::make_shared<FrameChain>(std::vector<std::shared_ptr<AttachedFrameStage>>{}, *this);
  ByteOut byte_out_{*this};
  std::vector<std::shared_ptr<AttachedByteFault>> byte_faults_;
  std::shared_ptr<FaultChain> byte_chain_;  // null without byte faults
  std::vector<mcp::Frame> batch_;  // members of the batch being pumped, written as one line
  Clock::time_point batch_arrival_{};
  bool batch_open_ = false;
  std::string outbox_;
  bool writing_ = false;
  bool end_requested_ = false;
  bool closing_after_flush_ = false;
  std::string end_reason_ = "end of input";
  bool flushing_ = false;
  bool output_closed_ = false;
  bool input_done_ = false;
  int pending_tasks_ = 0;
  std::uint64_t discarded_ = 0;
};

}  // namespace faultline::stdio
