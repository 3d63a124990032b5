#include "proxy/stdio_link.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <deque>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "faults/attribute_reader.hpp"
#include "faults/byte_chain.hpp"
#include "faults/frame_chain.hpp"
#include "mcp/ndjson_codec.hpp"
#include "mcp/session.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/stdio_child.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline {

using asio::posix::stream_descriptor;
namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadBytes = 64 * 1024;
// Bytes waiting to be written to one side, past which a writer waits for the
// write in flight (the first writer drains the outbox, later ones append).
constexpr std::size_t kOutboxWaitBytes = 1 << 20;

mcp::Peer sender_of(Direction d) { return d == Direction::upstream ? mcp::Peer::client : mcp::Peer::server; }

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("stdio {}: {}", what, ex.what());
  }
}

// Takes over one of the caller's descriptors: 0/1/2 are duplicated (close-on-exec)
// and replaced by /dev/null, so closing ours is what the caller sees.
int take_over(int fd) {
  if (fd > 2) return fd;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw StartupError("cannot use descriptor " + std::to_string(fd) + ": " + std::strerror(errno));
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, fd);
    ::close(null);
  }
  return copy;
}

}  // namespace

class StdioDirection;
class AttachedFrameFault;

// ---------------------------------------------------------------- StdioRun

class StdioRun : public FaultHost, public std::enable_shared_from_this<StdioRun> {
 public:
  StdioRun(asio::any_io_executor ex, EventLog& events, StdioLinkOptions o);
  ~StdioRun();

  void start();
  void forward_signal(int signo);
  bool signal_server(int signo, std::string_view why);
  void end_server();

  void emit(std::string kind, nlohmann::json fields) { events_.emit(source_, std::move(kind), std::move(fields)); }
  std::string observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected);

  // A direction's output closed (end of its stream, a fault, a write error).
  void output_closed(Direction d, std::string_view why);
  void begin_shutdown(std::string reason);
  bool finished() const { return finished_; }

  asio::any_io_executor executor() const { return ex_; }
  const StdioLinkOptions& options() const { return o_; }

  // FaultHost, for byte faults. The run is one connection; a fault that closes
  // it closes both outputs (the server's stdin and the client's stdout).
  std::uint64_t run_seed() override { return o_.seed; }
  const std::string& link_name() override { return o_.name; }
  std::uint64_t number() const override { return 1; }
  asio::any_io_executor executor() override { return ex_; }
  bool closing() const override { return finished_; }
  std::shared_ptr<FaultCounters> fault_counters(const std::string& name, const std::string& type) override {
    return byte_stats_.fault(name, type);
  }
  void emit_fault_event(std::string kind, nlohmann::json fields) override { emit(std::move(kind), std::move(fields)); }
  void close_for_fault(CloseMode mode, std::string reason) override;
  // Injections per fault name, frame and byte faults.
  std::map<std::string, std::uint64_t> all_injections() const {
    auto all = injections;
    for (const auto& [name, c] : byte_stats_.faults()) all[name] += c.injections;
    return all;
  }
  StdioDirection& dir(Direction d) { return d == Direction::upstream ? *up_ : *down_; }
  std::map<std::string, std::uint64_t> injections;
  std::function<void(int)> on_exit;

 private:
  asio::awaitable<void> watch_child();
  asio::awaitable<void> stderr_loop();
  asio::awaitable<void> escalate(asio::steady_timer& timer, std::string why);
  asio::awaitable<void> end_remnants();
  void on_child_exit(int status);
  void record_stderr_line(std::string_view line);
  void check_finished();
  void spawn(std::function<asio::awaitable<void>()> f, const char* what);

  asio::any_io_executor ex_;
  EventLog& events_;
  StdioLinkOptions o_;
  std::string source_;
  std::string server_source_;
  asio::signal_set sigchld_;
  std::unique_ptr<StdioChild> child_;
  stream_descriptor client_in_, client_out_, child_in_, child_out_, child_err_;
  std::unique_ptr<StdioDirection> up_, down_;
  LinkStats byte_stats_;
  mcp::Session session_;
  asio::steady_timer shutdown_timer_;
  asio::steady_timer signal_timer_;   // escalation after a SIGINT/SIGTERM was passed on
  asio::steady_timer remnant_timer_;  // what the exited server left: SIGTERM, then SIGKILL
  asio::steady_timer drain_timer_;
  Clock::time_point started_at_;
  std::optional<int> child_status_;
  bool shutting_down_ = false;
  bool signalled_ = false;
  bool stderr_done_ = false;
  bool finished_ = false;
  // stderr record: line assembly and rate limit
  std::string stderr_line_;
  Clock::time_point stderr_window_;
  int stderr_in_window_ = 0;
  std::uint64_t stderr_suppressed_ = 0;
};

// ---------------------------------------------------------------- AttachedFrameFault

// A frame fault attached to one direction of the link: its stage, its seeded
// random source, and its waits in progress (cut short on removal, flush, close).
class AttachedFrameFault final : public AttachedFrameStage, public FrameStageContext {
 public:
  AttachedFrameFault(StdioRun& run, StdioDirection& dir, const FrameFaultSpec& spec)
      : run_(run), dir_(dir), spec_(spec), stage_(spec.fault->instantiate()),
        rng_(derive_seed(run.options().seed, run.options().name, spec.name, 0)) {}

  // AttachedFrameStage
  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  const FrameMatch& match() const override { return spec_.match; }
  double probability() const override { return spec_.probability; }
  bool active() const override { return !removed_; }

  // FrameStageContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_.direction; }
  void injected(nlohmann::json detail) override {
    ++run_.injections[spec_.name];
    if (detail.is_null()) return;
    nlohmann::json fields = {{"fault", spec_.name}, {"type", spec_.type}, {"direction", to_string(spec_.direction)}};
    if (detail.is_object()) fields.update(detail);
    run_.emit("fault.inject", std::move(fields));
  }
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int signo) override { return run_.signal_server(signo, "fault " + spec_.name); }
  void close_output(std::string_view reason) override;

  const FrameFaultSpec& spec() const { return spec_; }
  void cancel_waits() { waits_.cancel_all(); }

 private:
  StdioRun& run_;
  StdioDirection& dir_;
  FrameFaultSpec spec_;
  std::unique_ptr<FrameStage> stage_;
  Rng rng_;
  bool removed_ = false;
  FaultWaits waits_;
};

// ---------------------------------------------------------------- StdioDirection

// One direction: reader -> decoder -> queue -> pump -> frame chain -> this sink -> writer.
//
// A line longer than max_message is not decoded past that size: it is recorded
// as one invalid frame and then passed on whole, bypassing the frame faults,
// as it arrives (its first max_message bytes, then the rest piece by piece up
// to its newline), so it is never held in memory all at once.
class StdioDirection final : public FrameSink {
 public:
  StdioDirection(StdioRun& run, Direction dir, stream_descriptor& from, stream_descriptor& to)
      : run_(run), dir_(dir), from_(from), to_(to),
        decoder_(mcp::NdjsonOptions{.max_frame_bytes = run.options().max_message,
                                    .limits = {.defer_message = true}}),  // DOM built only when needed
        data_ready_(run.executor()), space_ready_(run.executor()), tasks_done_(run.executor()),
        written_(run.executor()), long_line_done_(run.executor()) {}

  void attach(const FrameFaultSpec& spec) {
    auto fault = std::make_shared<AttachedFrameFault>(run_, *this, spec);
    attached_.push_back(fault);
    chain_ = std::make_shared<FrameChain>(std::vector<std::shared_ptr<AttachedFrameStage>>(attached_.begin(), attached_.end()), *this);
    run_.emit("fault.attach", spec.to_json());
    // A fault acting on time (after_ms) is rolled once, here; frames are rolled one by one.
    const bool selected = spec.probability >= 1.0 || fault->rng().chance(spec.probability);
    if (!selected) return;
    auto self = run_.shared_from_this();
    asio::co_spawn(run_.executor(), [self, fault]() -> asio::awaitable<void> { co_await fault->stage().on_attach(*fault); },
                   [](std::exception_ptr e) { log_exception(e, "fault"); });
  }
  void start_chain() {
    if (!chain_) chain_ = std::make_shared<FrameChain>(std::vector<std::shared_ptr<AttachedFrameStage>>{}, *this);
  }
  // A byte fault on the bytes this direction writes.
  void attach_bytes(const FaultSpec& spec) {
    auto fault = std::make_shared<AttachedByteFault>(run_, dir_, std::make_shared<const FaultSpec>(spec));
    byte_faults_.push_back(fault);
    byte_chain_ = std::make_shared<FaultChain>(
        std::vector<std::shared_ptr<AttachedStage>>(byte_faults_.begin(), byte_faults_.end()), byte_out_);
    run_.emit("fault.attach", spec.to_json());
    AttachedByteFault::start(fault, run_.shared_from_this());
  }

  asio::awaitable<void> read_loop();
  asio::awaitable<void> pump_loop();

  // FrameSink
  asio::awaitable<void> write(WireFrame frame) override;
  asio::awaitable<void> end() override;

  void close_output(std::string_view reason);
  // Writes what is already on its way, then closes; later writes are dropped.
  void close_after_flush(std::string_view reason);
  void spawn_task(std::function<asio::awaitable<void>()> task);
  bool flushing() const { return flushing_; }
  bool input_done() const { return input_done_; }
  bool output_closed() const { return output_closed_; }
  Direction direction() const { return dir_; }
  void wake() {
    for (auto& f : attached_) f->cancel_waits();
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
  std::vector<std::shared_ptr<AttachedFrameFault>> attached_;
  std::shared_ptr<FrameChain> chain_;
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

asio::awaitable<bool> AttachedFrameFault::wait_until(Clock::time_point deadline) {
  if (removed_ || dir_.flushing() || run_.finished()) co_return false;
  const bool on_time = co_await waits_.wait(run_.executor(), deadline);
  co_return on_time && !removed_ && !dir_.flushing() && !run_.finished();
}

asio::awaitable<void> AttachedFrameFault::emit(WireFrame frame) { co_await dir_.write(std::move(frame)); }

asio::awaitable<void> AttachedFrameFault::reply(WireFrame frame) {
  const Direction back = spec_.direction == Direction::upstream ? Direction::downstream : Direction::upstream;
  run_.observe(sender_of(back), frame.frame, Clock::now(), true);
  co_await run_.dir(back).write(std::move(frame));
}

void AttachedFrameFault::spawn(std::function<asio::awaitable<void>()> task) { dir_.spawn_task(std::move(task)); }

void AttachedFrameFault::close_output(std::string_view reason) { dir_.close_output(reason); }

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
}

void StdioDirection::push(Item item) {
  queued_bytes_ += item.size();
  queue_.push_back(std::move(item));
  data_ready_.notify();
}

StdioDirection::Item StdioDirection::pop() {
  Item item = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= std::min(queued_bytes_, item.size());
  space_ready_.notify();
  return item;
}

asio::awaitable<void> StdioDirection::pump_loop() {
  auto self = run_.shared_from_this();
  start_chain();
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
        end_long_line();  // the input ended inside it
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

asio::awaitable<void> StdioDirection::flush_batch() {
  if (batch_.empty()) co_return;
  std::string bytes;
  mcp::append_ndjson_batch(batch_, bytes);
  batch_.clear();
  co_await write_line(std::move(bytes), batch_arrival_);
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

asio::awaitable<void> StdioDirection::end() {
  auto self = run_.shared_from_this();
  // Never lose bytes by accident: what faults still hold is let go now.
  flushing_ = true;
  for (auto& f : attached_) f->cancel_waits();
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

void StdioDirection::spawn_task(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  auto self = run_.shared_from_this();
  asio::co_spawn(run_.executor(), std::move(task), [self, this](std::exception_ptr e) {
    log_exception(e, "fault task");
    --pending_tasks_;
    tasks_done_.notify();
  });
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

// ---------------------------------------------------------------- StdioRun

StdioRun::StdioRun(asio::any_io_executor ex, EventLog& events, StdioLinkOptions o)
    : ex_(ex), events_(events), o_(std::move(o)), source_("proxy:" + o_.name), server_source_("server:" + o_.name),
      sigchld_(ex, SIGCHLD), client_in_(ex), client_out_(ex), child_in_(ex), child_out_(ex), child_err_(ex),
      shutdown_timer_(ex), signal_timer_(ex), remnant_timer_(ex), drain_timer_(ex) {}

StdioRun::~StdioRun() = default;

void StdioRun::spawn(std::function<asio::awaitable<void>()> f, const char* what) {
  asio::co_spawn(ex_, std::move(f), [what](std::exception_ptr e) { log_exception(e, what); });
}

void StdioRun::start() {
  started_at_ = Clock::now();
  nlohmann::json command = o_.command;
  // SIGCHLD is watched before the fork.
  child_ = std::make_unique<StdioChild>(o_.command, StdioChildOptions{o_.shutdown_step, o_.adopt_orphans});
  emit("server.start", {{"pid", child_->pid()}, {"command", command}});
  child_in_.assign(child_->release_stdin());
  child_out_.assign(child_->release_stdout());
  child_err_.assign(child_->release_stderr());
  client_in_.assign(take_over(o_.client_in));
  client_out_.assign(take_over(o_.client_out));

  up_ = std::make_unique<StdioDirection>(*this, Direction::upstream, client_in_, child_in_);
  down_ = std::make_unique<StdioDirection>(*this, Direction::downstream, child_out_, client_out_);
  for (const auto& spec : o_.faults) dir(spec.direction).attach(spec);
  for (const auto& spec : o_.byte_faults) dir(spec.direction).attach_bytes(spec);

  auto self = shared_from_this();
  spawn([self]() { return self->watch_child(); }, "child watch");
  spawn([self]() { return self->stderr_loop(); }, "stderr");
  for (auto* d : {up_.get(), down_.get()}) {
    spawn([self, d]() { return d->pump_loop(); }, "pump");
    spawn([self, d]() { return d->read_loop(); }, "reader");
  }
}

std::string StdioRun::observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected) {
  // Without a sink the session keeps its state but builds no event fields.
  auto obs = session_.observe(from, frame, at, injected, events_.has_sinks());
  for (auto& e : obs.events) emit(std::move(e.kind), std::move(e.fields));
  return obs.method;
}

bool StdioRun::signal_server(int signo, std::string_view why) {
  const bool sent = child_ && child_->signal(signo, true);
  emit("server.signal", {{"signal", signal_name(signo)}, {"group", true}, {"reason", why}, {"sent", sent}});
  return sent;
}

void StdioRun::forward_signal(int signo) {
  const bool sent = child_ && child_->signal(signo, false);
  emit("server.signal", {{"signal", signal_name(signo)}, {"group", false}, {"reason", "forwarded"}, {"sent", sent}});
  if ((signo != SIGINT && signo != SIGTERM) || signalled_ || child_status_ || !child_) return;
  signalled_ = true;
  auto self = shared_from_this();
  spawn([self]() { return self->escalate(self->signal_timer_, "signalled: server still running"); },
        "signal escalation");
}

void StdioRun::end_server() {
  if (!child_) return;
  const std::size_t killed = child_->end_group();
  if (killed > 0)
    emit("server.group_killed", {{"processes", killed}, {"reason", "still running a grace period after SIGTERM"}});
}

asio::awaitable<void> StdioRun::watch_child() {
  auto self = shared_from_this();
  while (!child_status_) {
    if (auto status = child_->try_reap()) {
      on_child_exit(*status);
      co_return;
    }
    auto [ec, signo] = co_await sigchld_.async_wait(use_tuple);
    if (ec) co_return;
  }
}

void StdioRun::on_child_exit(int status) {
  child_status_ = status;
  const double uptime = std::chrono::duration<double>(Clock::now() - started_at_).count();
  nlohmann::json fields = {{"pid", child_->pid()}, {"exit_code", exit_code_of(status)}, {"uptime_s", uptime},
                           {"during_shutdown", shutting_down_}};
  if (WIFSIGNALED(status)) fields["signal"] = signal_name(WTERMSIG(status));
  else fields["status"] = WEXITSTATUS(status);
  events_.emit(server_source_, "server.exit", std::move(fields));
  shutdown_timer_.cancel();
  signal_timer_.cancel();
  spawn([self = shared_from_this()]() { return self->end_remnants(); }, "remnants");
  // The server is gone: its stdin is useless, and its pipes get a bounded time to drain.
  up_->close_output("server exited");
  drain_timer_.expires_after(o_.drain_after_exit);
  drain_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    self->child_out_.cancel(ignored);
    self->child_err_.cancel(ignored);
  });
  check_finished();
}

void StdioRun::output_closed(Direction d, std::string_view why) {
  if (d == Direction::upstream) {
    emit("server.stdin_closed", {{"reason", why}});
    if (!child_status_) begin_shutdown("server stdin closed: " + std::string(why));
  } else {
    emit("client.stdout_closed", {{"reason", why}});
    // The caller stopped reading (a write failed): it is gone, shut the server down.
    if (why.starts_with("write to")) begin_shutdown(std::string(why));
  }
  check_finished();
}

void StdioRun::begin_shutdown(std::string reason) {
  if (shutting_down_ || child_status_) return;
  shutting_down_ = true;
  emit("server.shutdown", {{"reason", reason}, {"step_ms", o_.shutdown_step.count()}});
  up_->close_output("shutdown");
  auto self = shared_from_this();
  spawn([self]() { return self->escalate(self->shutdown_timer_, "shutdown: server still running"); }, "shutdown");
}

// The MCP stdio order once stdin is closed (or a signal was passed on): wait;
// SIGTERM to the group; wait; SIGKILL.
asio::awaitable<void> StdioRun::escalate(asio::steady_timer& timer, std::string why) {
  auto self = shared_from_this();
  for (int signo : {SIGTERM, SIGKILL}) {
    timer.expires_after(o_.shutdown_step);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec || child_status_) co_return;
    signal_server(signo, why);
    if (signo == SIGTERM) child_->signal(SIGCONT, true);  // a stopped server could not act on it
  }
}

// The server has exited: what it started and left running (in its group, or
// orphaned to us) gets SIGTERM now and SIGKILL a shutdown step later, so
// nothing outlives it or holds its pipes open.
asio::awaitable<void> StdioRun::end_remnants() {
  auto self = shared_from_this();
  for (int signo : {SIGTERM, SIGKILL}) {
    const std::size_t n = child_->signal_remnants(signo);
    if (n == 0) co_return;
    emit("server.signal", {{"signal", signal_name(signo)}, {"group", true}, {"processes", n},
                           {"reason", "server exited, what it started still runs"}, {"sent", true}});
    if (signo == SIGKILL) co_return;
    remnant_timer_.expires_after(o_.shutdown_step);
    auto [ec] = co_await remnant_timer_.async_wait(use_tuple);
    if (ec) co_return;
  }
}

asio::awaitable<void> StdioRun::stderr_loop() {
  auto self = shared_from_this();
  std::vector<char> buffer(16 * 1024);
  for (;;) {
    auto [ec, n] = co_await child_err_.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec) break;
    // Pass through first, then record.
    std::size_t done = 0;
    while (done < n) {
      const auto w = ::write(o_.client_err, buffer.data() + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
    std::string_view chunk(buffer.data(), n);
    while (!chunk.empty()) {
      const auto nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        if (stderr_line_.size() < o_.stderr_line_bytes + 1) stderr_line_.append(chunk.substr(0, o_.stderr_line_bytes + 1 - stderr_line_.size()));
        break;
      }
      if (stderr_line_.size() < o_.stderr_line_bytes + 1) stderr_line_.append(chunk.substr(0, std::min(nl, o_.stderr_line_bytes + 1 - stderr_line_.size())));
      record_stderr_line(stderr_line_);
      stderr_line_.clear();
      chunk.remove_prefix(nl + 1);
    }
  }
  if (!stderr_line_.empty()) record_stderr_line(stderr_line_);
  if (stderr_suppressed_ > 0) events_.emit(server_source_, "server.stderr_suppressed", {{"lines", stderr_suppressed_}});
  stderr_suppressed_ = 0;
  stderr_done_ = true;
  check_finished();
}

void StdioRun::record_stderr_line(std::string_view line) {
  const auto now = Clock::now();
  if (now - stderr_window_ >= std::chrono::seconds(1)) {
    if (stderr_suppressed_ > 0) events_.emit(server_source_, "server.stderr_suppressed", {{"lines", stderr_suppressed_}});
    stderr_window_ = now;
    stderr_in_window_ = 0;
    stderr_suppressed_ = 0;
  }
  if (stderr_in_window_++ >= o_.stderr_lines_per_second) {
    ++stderr_suppressed_;
    return;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const bool cut = line.size() > o_.stderr_line_bytes;
  nlohmann::json fields = {{"line", mcp::printable(line.substr(0, o_.stderr_line_bytes), o_.stderr_line_bytes)}};
  if (cut) fields["truncated"] = true;
  events_.emit(server_source_, "server.stderr", std::move(fields));
}

void StdioRun::check_finished() {
  if (finished_ || !child_status_ || !stderr_done_ || !down_->input_done() || !down_->output_closed()) return;
  finished_ = true;
  const auto now = Clock::now();
  for (auto& e : session_.unanswered(now)) emit(std::move(e.kind), std::move(e.fields));
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [name, n] : all_injections()) counts[name] = n;
  const int code = exit_code_of(*child_status_);
  emit("stdio.end", {{"exit_code", code},
                     {"injections", counts},
                     {"discarded_downstream", down_->frames_discarded()},
                     {"discarded_upstream", up_->frames_discarded()}});
  boost::system::error_code ignored;
  for (auto* d : {&client_in_, &client_out_, &child_in_, &child_out_, &child_err_}) d->close(ignored);
  sigchld_.cancel();
  shutdown_timer_.cancel();
  signal_timer_.cancel();
  remnant_timer_.cancel();
  drain_timer_.cancel();
  up_->wake();
  down_->wake();
  if (on_exit) {
    auto cb = std::move(on_exit);
    asio::post(ex_, [cb, code] { cb(code); });
  }
}

void StdioRun::close_for_fault(CloseMode, std::string reason) {
  // Pipes have no reset: closing both outputs, once what was let through is
  // written, is how a stdio "connection" ends.
  up_->close_after_flush(reason);
  down_->close_after_flush(reason);
}

// ---------------------------------------------------------------- StdioLink

StdioLink::StdioLink(asio::any_io_executor ex, EventLog& events, StdioLinkOptions options)
    : run_(std::make_shared<StdioRun>(ex, events, std::move(options))) {}
StdioLink::~StdioLink() = default;
void StdioLink::start() { run_->start(); }
void StdioLink::forward_signal(int signo) { run_->forward_signal(signo); }
void StdioLink::end_server() { run_->end_server(); }
void StdioLink::on_exit(std::function<void(int)> callback) { run_->on_exit = std::move(callback); }
std::map<std::string, std::uint64_t> StdioLink::injections() const { return run_->all_injections(); }

}  // namespace faultline
