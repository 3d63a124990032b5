#include "proxy/ws_session.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <random>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "core/rng.hpp"
#include "faults/byte_chain.hpp"
#include "faults/frame_chain.hpp"
#include "faults/ws_frame_fault.hpp"
#include "mcp/ndjson_codec.hpp"
#include "mcp/session.hpp"
#include "mcp/ws_codec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/session_socket.hpp"
#include "proxy/link.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline {

using asio::ip::tcp;
namespace beast = boost::beast;
namespace http = beast::http;
using mcp::WsOpcode;

namespace {
// Messages are classified in one validating pass; the DOM is built only for
// what needs it (a fault that edits the message, the session's handshake records).
constexpr mcp::DecodeLimits kDecodeLimits{.defer_message = true};

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadBytes = 256 * 1024;
constexpr std::uint32_t kHandshakeHeaderLimit = 16 * 1024;
constexpr std::uint64_t kHandshakeBodyLimit = 1 << 20;
// After faultline closes a WebSocket (bad input, a fault), how long the peers
// get to end their TCP streams before the sockets are closed.
constexpr auto kCloseTimeout = std::chrono::seconds(5);

enum class By { client, server, proxy };

std::string_view by_name(By by) {
  switch (by) {
    case By::client: return "client";
    case By::server: return "server";
    case By::proxy: return "proxy";
  }
  return "proxy";
}

By sender_of(Direction d) { return d == Direction::upstream ? By::client : By::server; }
By receiver_of(Direction d) { return d == Direction::upstream ? By::server : By::client; }
mcp::Peer peer_of(Direction d) { return d == Direction::upstream ? mcp::Peer::client : mcp::Peer::server; }
Direction other(Direction d) { return d == Direction::upstream ? Direction::downstream : Direction::upstream; }

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("websocket {}: {}", what, ex.what());
  }
}

}  // namespace

class WsSession;
class WsDirection;

// ---------------------------------------------------------------- attached faults

// A frame fault on one direction's messages; the chain rolls its probability
// per matched message.
class WsFrameFault final : public AttachedFrameStage, public FrameStageContext, public WsStageContext {
 public:
  WsFrameFault(WsSession& session, WsDirection& dir, std::shared_ptr<const FaultSpec> spec);

  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  const FrameMatch& match() const override { return spec_->frame->match; }
  double probability() const override { return spec_->frame->probability; }
  bool active() const override { return !removed_; }

  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_->direction; }
  void injected(nlohmann::json detail) override;
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int) override { return false; }  // no server process on a network link
  void close_output(std::string_view reason) override;

  void close_websocket(int code, std::string_view reason) override;
  asio::awaitable<void> emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) override;

  const FaultSpec& spec() const { return *spec_; }
  void cancel_waits() { waits_.cancel_all(); }
  void remove() {
    removed_ = true;
    cancel_waits();
  }

 private:
  WsSession& session_;
  WsDirection& dir_;
  std::shared_ptr<const FaultSpec> spec_;
  std::unique_ptr<FrameStage> stage_;
  Rng rng_;
  std::shared_ptr<FaultCounters> counters_;
  bool removed_ = false;
  FaultWaits waits_;
};

// ---------------------------------------------------------------- WsDirection

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
class WsDirection final : public FrameSink {
 public:
  // `max_message`: the largest message decoded (unset: the decoder's default); a larger one is a 1009 violation.
  WsDirection(WsSession& session, Direction dir, tcp::socket& from, tcp::socket& to,
              std::optional<std::uint64_t> max_message);

  void attach(const std::shared_ptr<const FaultSpec>& spec, std::optional<std::size_t> position = std::nullopt);
  std::optional<std::size_t> detach(const std::string& name);
  std::vector<std::string> fault_names() const;

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
  void spawn_task(std::function<asio::awaitable<void>()> task);
  void wake();

  bool flushing() const { return flushing_; }
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
  std::vector<std::shared_ptr<WsFrameFault>> frame_faults_;
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

// ---------------------------------------------------------------- WsSession

class WsSession final : public LinkSession, public LinkFaultHost, public std::enable_shared_from_this<WsSession> {
 public:
  explicit WsSession(SessionStart start);

  asio::any_io_executor executor() override { return client_.get_executor(); }
  void start(std::vector<std::shared_ptr<const FaultSpec>> faults) override;
  void attach(const std::shared_ptr<const FaultSpec>& spec) override;
  void detach(const std::string& name) override;
  void replace(const std::string& name, const std::shared_ptr<const FaultSpec>& spec) override;
  void shut_down(const std::string& reason) override;
  void drain(std::chrono::milliseconds grace, const std::string& reason) override;

  // FaultHost
  Link& link() override { return *link_; }
  std::uint64_t number() const override { return number_; }
  bool closing() const override { return closing_; }
  void close_for_fault(CloseMode mode, std::string reason) override {
    close(mode, By::proxy, "fault", std::move(reason));
  }

  WsDirection& dir(Direction d) { return d == Direction::upstream ? up_ : down_; }
  void spawn(asio::awaitable<void> work);
  void emit(std::string kind, nlohmann::json fields);
  // Records a frame in the session; returns the method it belongs to.
  std::string observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected);

  void close(CloseMode mode, By by, std::string how, std::string reason);
  void note_end(Direction dir, const StreamEnd& end);
  void note_close_frame(Direction dir, const mcp::WsEvent& e);
  void reader_done();
  void stream_ended();
  // A peer broke the protocol: it gets the close code, the other peer 1001.
  void violation(Direction dir, const mcp::WsEvent& e);
  // A fault closes the WebSocket toward `dir`'s peer with `code`.
  void close_by_fault(Direction dir, int code, std::string_view reason, const std::string& fault);

 private:
  asio::awaitable<void> run();
  asio::awaitable<bool> upgrade();
  asio::awaitable<void> refuse(http::status status, std::string why, By by);
  void arm_close_timer(std::chrono::milliseconds after, std::string reason);
  void check_done();
  void emit_close();

  std::shared_ptr<Link> link_;
  tcp::socket client_;
  tcp::socket server_;
  std::uint64_t number_;
  HostPort upstream_;
  WsDirection up_;
  WsDirection down_;
  mcp::Session session_;
  std::vector<std::shared_ptr<const FaultSpec>> initial_faults_;
  Clock::time_point opened_at_;
  std::string client_address_;
  beast::flat_buffer client_buffer_;
  beast::flat_buffer server_buffer_;
  bool upgraded_ = false;
  bool closing_ = false;
  bool draining_ = false;
  bool close_emitted_ = false;
  int readers_done_ = 0;
  int streams_ended_ = 0;
  std::unique_ptr<asio::steady_timer> close_timer_;
  std::optional<By> first_by_;
  std::string first_how_;
  std::string close_reason_;
  std::optional<int> close_code_;  // the first close frame's code
};

// ---------------------------------------------------------------- WsFrameFault

WsFrameFault::WsFrameFault(WsSession& session, WsDirection& dir, std::shared_ptr<const FaultSpec> spec)
    : session_(session),
      dir_(dir),
      spec_(std::move(spec)),
      stage_(spec_->frame->fault->instantiate()),
      rng_(derive_seed(session.link().env().seed, session.link().name(), spec_->name, session.number())),
      counters_(session.link().stats().fault(spec_->name, spec_->type)) {}

asio::awaitable<bool> WsFrameFault::wait_until(Clock::time_point deadline) {
  if (removed_ || dir_.flushing() || session_.closing()) co_return false;
  const bool on_time = co_await waits_.wait(session_.executor(), deadline);
  co_return on_time && !removed_ && !dir_.flushing() && !session_.closing();
}

void WsFrameFault::injected(nlohmann::json detail) {
  ++counters_->injections;
  if (detail.is_null()) return;
  nlohmann::json fields = {{"fault", spec_->name}, {"type", spec_->type}, {"direction", to_string(spec_->direction)}};
  if (detail.is_object()) fields.update(detail);
  session_.emit("fault.inject", std::move(fields));
}

asio::awaitable<void> WsFrameFault::emit(WireFrame frame) { co_await dir_.write(std::move(frame)); }

asio::awaitable<void> WsFrameFault::reply(WireFrame frame) {
  const Direction back = other(dir_.direction());
  session_.observe(peer_of(back), frame.frame, Clock::now(), true);
  co_await session_.dir(back).write(std::move(frame));
}

void WsFrameFault::spawn(std::function<asio::awaitable<void>()> task) { dir_.spawn_task(std::move(task)); }

void WsFrameFault::close_output(std::string_view reason) {
  session_.close_by_fault(dir_.direction(), mcp::ws_close_code::going_away, reason, spec_->name);
}

void WsFrameFault::close_websocket(int code, std::string_view reason) {
  session_.close_by_fault(dir_.direction(), code, reason, spec_->name);
}

asio::awaitable<void> WsFrameFault::emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) {
  co_await dir_.write_fragmented(std::move(frame), std::move(sizes));
}

// ---------------------------------------------------------------- WsWire

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

// ---------------------------------------------------------------- WsDirection

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

void WsDirection::rebuild_chains() {
  frame_chain_ = std::make_shared<FrameChain>(
      std::vector<std::shared_ptr<AttachedFrameStage>>(frame_faults_.begin(), frame_faults_.end()), *this);
  byte_chain_ = std::make_shared<FaultChain>(
      std::vector<std::shared_ptr<AttachedStage>>(byte_faults_.begin(), byte_faults_.end()), wire_);
}

void WsDirection::attach(const std::shared_ptr<const FaultSpec>& spec, std::optional<std::size_t> position) {
  auto self = session_.shared_from_this();
  auto report = [](std::exception_ptr e) { log_exception(e, "fault"); };
  if (spec->is_frame()) {
    auto fault = std::make_shared<WsFrameFault>(session_, *this, spec);
    const auto at = position ? std::min(*position, frame_faults_.size()) : frame_faults_.size();
    frame_faults_.insert(frame_faults_.begin() + static_cast<std::ptrdiff_t>(at), fault);
    rebuild_chains();
    // A fault acting on time (after_ms) is rolled once, here; messages are rolled one by one.
    const double p = spec->frame->probability;
    if (p >= 1.0 || fault->rng().chance(p))
      asio::co_spawn(session_.executor(),
                     [self, fault]() -> asio::awaitable<void> { co_await fault->stage().on_attach(*fault); }, report);
    return;
  }
  // A byte fault on the raw bytes this direction writes to its peer (handshake
  // and WebSocket frames alike): as on a TCP link, rolled once per connection.
  auto fault = std::make_shared<AttachedByteFault>(session_, dir_, spec);
  const auto at = position ? std::min(*position, byte_faults_.size()) : byte_faults_.size();
  byte_faults_.insert(byte_faults_.begin() + static_cast<std::ptrdiff_t>(at), fault);
  rebuild_chains();
  AttachedByteFault::start(fault, self);
}

std::optional<std::size_t> WsDirection::detach(const std::string& name) {
  for (std::size_t i = 0; i < frame_faults_.size(); ++i) {
    if (frame_faults_[i]->spec().name != name) continue;
    frame_faults_[i]->remove();
    frame_faults_.erase(frame_faults_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chains();
    return i;
  }
  for (std::size_t i = 0; i < byte_faults_.size(); ++i) {
    if (byte_faults_[i]->spec().name != name) continue;
    byte_faults_[i]->remove();
    byte_faults_.erase(byte_faults_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chains();
    return i;
  }
  return std::nullopt;
}

std::vector<std::string> WsDirection::fault_names() const {
  std::vector<std::string> names;
  for (const auto& f : frame_faults_) names.push_back(f->spec().name);
  for (const auto& f : byte_faults_) names.push_back(f->spec().name);
  return names;
}

void WsDirection::wake() {
  for (auto& f : frame_faults_) f->cancel_waits();
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

bool WsDirection::pass_control(WsControl kind) {
  for (const auto& f : frame_faults_) {
    auto* control = dynamic_cast<WsControlStage*>(&f->stage());
    if (!control || !f->active()) continue;
    const double p = f->probability();
    if (p < 1.0 && !f->rng().chance(p)) continue;
    if (!control->pass_control(kind, *f)) return false;
  }
  return true;
}

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
        if (frames_ended_) {
          discarded_ += item.frames.size();
          break;
        }
        batch_open_ = item.frames.size() > 1 || item.frames.front().frame.batch.has_value();
        for (auto& f : item.frames) co_await chain->frame(0, std::move(f));
        batch_open_ = false;
        co_await flush_batch();
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
      case Item::close:
        // What faults hold goes out first, then the close frame (nothing may follow it).
        pending_close_ = std::move(item.payload);
        if (!frames_ended_) co_await chain->end(0);
        co_await write_pending_close();
        if (item.end_after) {
          pump_done_ = true;
          co_await end_stream(StreamEnd{});
          co_return;
        }
        break;
      case Item::finish:
        pump_done_ = true;
        if (!frames_ended_ && item.stream_end.kind == StreamEnd::fin) co_await chain->end(0);
        co_await end_stream(item.stream_end);
        co_return;
    }
  }
  pump_done_ = true;
}

std::string WsDirection::encode(WsOpcode opcode, bool fin, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 14);
  mcp::append_ws_frame(out, opcode, fin, payload, next_mask());
  return out;
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
  for (auto& f : frame_faults_) f->cancel_waits();
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

void WsDirection::spawn_task(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  auto self = session_.shared_from_this();
  asio::co_spawn(session_.executor(), std::move(task), [self, this](std::exception_ptr e) {
    log_exception(e, "fault task");
    --pending_tasks_;
    tasks_done_.notify();
  });
}

// ---------------------------------------------------------------- WsSession

std::shared_ptr<LinkSession> make_websocket_session(SessionStart start) {
  return std::make_shared<WsSession>(std::move(start));
}

WsSession::WsSession(SessionStart start)
    : link_(std::move(start.link)),
      client_(std::move(start.client)),
      server_(client_.get_executor()),
      number_(start.number),
      upstream_(std::move(start.upstream)),
      up_(*this, Direction::upstream, client_, server_, start.max_message),
      down_(*this, Direction::downstream, server_, client_, start.max_message),
      opened_at_(Clock::now()) {}

void WsSession::emit(std::string kind, nlohmann::json fields) {
  if (!fields.is_object()) fields = nlohmann::json::object();
  fields.emplace("conn", number_);  // a "conn" the caller set wins, as before
  link_->env().events.emit(link_->source(), std::move(kind), std::move(fields));
}

std::string WsSession::observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected) {
  // Without a sink the session keeps its state but builds no event fields.
  auto obs = session_.observe(from, frame, at, injected, link_->env().events.has_sinks());
  for (auto& e : obs.events) emit(std::move(e.kind), std::move(e.fields));
  return obs.method;
}

void WsSession::spawn(asio::awaitable<void> work) {
  asio::co_spawn(client_.get_executor(), std::move(work), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& err) {
      self->close(CloseMode::rst, By::proxy, "error", std::string("internal error: ") + err.what());
    }
  });
}

void WsSession::start(std::vector<std::shared_ptr<const FaultSpec>> faults) {
  client_address_ = endpoint_text(client_, true);
  ++link_->stats().connections_total;
  ++link_->stats().connections_open;
  emit("conn.open", {{"client", client_address_}, {"listen", endpoint_text(client_, false)}, {"protocol", "websocket"}});
  initial_faults_ = std::move(faults);
  spawn(run());
}

asio::awaitable<void> WsSession::run() {
  auto self = shared_from_this();
  boost::system::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  for (const auto& spec : initial_faults_) attach(spec);
  initial_faults_.clear();
  const bool upgraded = co_await upgrade();
  if (!upgraded || closing_) co_return;
  upgraded_ = true;
  // What came right behind the handshake is the first WebSocket data.
  const auto now = Clock::now();
  const auto leftover = [](beast::flat_buffer& b) {
    const auto data = b.data();
    return std::string_view(static_cast<const char*>(data.data()), data.size());
  };
  up_.feed(leftover(client_buffer_), now);
  down_.feed(leftover(server_buffer_), now);
  client_buffer_ = beast::flat_buffer();
  server_buffer_ = beast::flat_buffer();
  if (closing_) co_return;
  for (auto* d : {&up_, &down_}) {
    spawn(d->pump_loop());
    spawn(d->read_loop());
  }
}

// Relays the HTTP upgrade: the client's request to the server (without
// extensions, so frames stay plain), the server's answer back. True when the
// server switched protocols.
asio::awaitable<bool> WsSession::upgrade() {
  http::request_parser<http::string_body> request;
  request.header_limit(kHandshakeHeaderLimit);
  request.body_limit(kHandshakeBodyLimit);
  auto [rec, rn] = co_await http::async_read(client_, client_buffer_, request, use_tuple);
  if (closing_) co_return false;
  if (rec) {
    if (rec == http::error::end_of_stream && client_buffer_.size() == 0) {
      close(CloseMode::fin, By::client, "fin", "closed before the WebSocket upgrade");
    } else {
      co_await refuse(http::status::bad_request, "the client's upgrade request is not valid HTTP: " + rec.message(),
                      By::client);
    }
    co_return false;
  }
  auto req = request.release();
  if (!beast::websocket::is_upgrade(req)) {
    co_await refuse(http::status::bad_request,
                    "this link speaks WebSocket: the request must be a GET with Upgrade: websocket", By::client);
    co_return false;
  }
  const auto target = std::string(req.target());
  const auto arrival = Clock::now();

  // Faults that act before the upstream connection opens (slow_open).
  for (auto* d : {&up_, &down_}) {
    auto faults = d->byte_faults();
    for (auto& f : faults)
      if (f->active() && !closing_) co_await f->stage().before_connect(*f);
  }
  if (closing_) co_return false;

  tcp::resolver resolver(client_.get_executor());
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(upstream_.host, std::to_string(upstream_.port), use_tuple);
  if (closing_) co_return false;
  boost::system::error_code connect_ec = resolve_ec;
  if (!resolve_ec) {
    connect_ec = co_await connect_upstream(server_, endpoints);
  }
  if (closing_) co_return false;
  if (connect_ec) {
    ++link_->stats().connections_failed;
    spdlog::warn("{}: connection {}: upstream {}: {}", link_->name(), number_, upstream_.to_string(),
                 connect_ec.message());
    co_await refuse(http::status::bad_gateway, "upstream " + upstream_.to_string() + ": " + connect_ec.message(),
                    By::proxy);
    co_return false;
  }
  boost::system::error_code ignored;
  server_.set_option(tcp::no_delay(true), ignored);
  emit("conn.upstream", {{"upstream", endpoint_text(server_, true)}});

  req.erase(http::field::sec_websocket_extensions);
  std::ostringstream request_text;
  request_text << req;
  co_await up_.send_raw(request_text.str(), arrival);
  if (closing_) co_return false;

  http::response_parser<http::string_body> response;
  response.header_limit(kHandshakeHeaderLimit);
  response.body_limit(kHandshakeBodyLimit);
  auto [sec, sn] = co_await http::async_read(server_, server_buffer_, response, use_tuple);
  if (closing_) co_return false;
  if (sec) {
    co_await refuse(http::status::bad_gateway, "the server's answer to the upgrade is not valid HTTP: " + sec.message(),
                    By::server);
    co_return false;
  }
  auto res = response.release();
  if (res.result() == http::status::switching_protocols && res.count(http::field::sec_websocket_extensions)) {
    co_await refuse(http::status::bad_gateway, "the server chose a WebSocket extension that was not offered",
                    By::server);
    co_return false;
  }
  std::ostringstream response_text;
  response_text << res;
  co_await down_.send_raw(response_text.str(), Clock::now());
  co_await down_.flushed();
  if (closing_) co_return false;
  if (res.result() != http::status::switching_protocols) {
    emit("ws.refused", {{"target", target}, {"status", res.result_int()}});
    close(CloseMode::fin, By::server, "refused", "the server answered the upgrade with " +
                                                     std::to_string(res.result_int()));
    co_return false;
  }
  emit("ws.open", {{"target", target},
                   {"subprotocol", std::string(res[http::field::sec_websocket_protocol])},
                   {"upstream", upstream_.to_string()}});
  co_return true;
}

// Answers the client's upgrade with an HTTP error, records why, and closes.
asio::awaitable<void> WsSession::refuse(http::status status, std::string why, By by) {
  emit("ws.handshake_error", {{"from", by_name(by)}, {"status", static_cast<int>(status)}, {"problem", why}});
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "faultline");
  res.set(http::field::content_type, "text/plain");
  res.set(http::field::connection, "close");
  res.body() = "faultline: " + why + "\n";
  res.prepare_payload();
  std::ostringstream text;
  text << res;
  auto bytes = text.str();
  co_await asio::async_write(client_, asio::buffer(bytes), use_tuple);  // best effort: the client may be gone
  close(CloseMode::fin, by, "handshake", why);
}

void WsSession::attach(const std::shared_ptr<const FaultSpec>& spec) {
  if (closing_ || draining_) return;
  dir(spec->direction).attach(spec);
}

void WsSession::detach(const std::string& name) {
  up_.detach(name);
  down_.detach(name);
}

void WsSession::replace(const std::string& name, const std::shared_ptr<const FaultSpec>& spec) {
  std::optional<std::size_t> position;
  for (auto* d : {&up_, &down_}) {
    if (auto at = d->detach(name); at && d->direction() == spec->direction) position = at;
  }
  if (!closing_ && !draining_) dir(spec->direction).attach(spec, position);
}

void WsSession::shut_down(const std::string& reason) {
  // Best effort, without waiting: a close frame (1001) to each peer whose
  // stream is not in the middle of a write, then FIN.
  if (upgraded_ && !closing_) {
    for (auto* d : {&up_, &down_}) {
      if (d->writing() || d->close_sent()) continue;
      const auto frame = d->encode(WsOpcode::close, true, mcp::ws_close_payload(mcp::ws_close_code::going_away, reason));
      boost::system::error_code ec;
      d->to().non_blocking(true, ec);
      if (!ec) d->to().write_some(asio::buffer(frame), ec);
    }
  }
  close(CloseMode::fin, By::proxy, "shutdown", reason);
}

void WsSession::drain(std::chrono::milliseconds grace, const std::string& reason) {
  if (closing_ || draining_) return;
  draining_ = true;
  if (!first_by_) {
    first_by_ = By::proxy;
    first_how_ = "drain";
  }
  close_reason_ = reason;
  if (!upgraded_) {  // nothing relayed yet
    close(CloseMode::fin, By::proxy, "shutdown", reason);
    return;
  }
  // Faults go (what they hold is passed on); each peer gets what is queued, then 1001.
  for (auto* d : {&up_, &down_})
    for (const auto& name : d->fault_names()) d->detach(name);
  up_.close_with(mcp::ws_close_code::going_away, reason, false);
  down_.close_with(mcp::ws_close_code::going_away, reason, false);
  arm_close_timer(grace, reason + " (drain timed out)");
}

void WsSession::arm_close_timer(std::chrono::milliseconds after, std::string reason) {
  if (close_timer_) return;
  close_timer_ = std::make_unique<asio::steady_timer>(executor(), after);
  close_timer_->async_wait([self = shared_from_this(), reason](boost::system::error_code ec) {
    if (!ec) self->close(CloseMode::fin, By::proxy, "timeout", reason);
  });
}

void WsSession::note_end(Direction dir, const StreamEnd& end) {
  if (first_by_) return;
  first_by_ = sender_of(dir);
  first_how_ = std::string(to_string(end.kind));
}

void WsSession::note_close_frame(Direction dir, const mcp::WsEvent& e) {
  nlohmann::json fields = {{"from", by_name(sender_of(dir))}};
  if (e.code) fields["code"] = *e.code;
  fields["reason"] = e.reason;
  emit("ws.close", std::move(fields));
  if (first_by_) return;
  first_by_ = sender_of(dir);
  first_how_ = "close_frame";
  close_code_ = e.code;
  close_reason_ = e.reason;
}

void WsSession::violation(Direction d, const mcp::WsEvent& e) {
  const auto offender = sender_of(d);
  emit("ws.violation", {{"from", by_name(offender)},
                        {"code", e.violation_code},
                        {"problem", e.problem},
                        {"offset", e.offset}});
  if (!first_by_) {
    first_by_ = offender;
    first_how_ = "protocol_error";
    close_code_ = e.violation_code;
    close_reason_ = std::string(by_name(offender)) + " broke the WebSocket protocol: " + e.problem;
  }
  // The offender hears why; the other peer that its partner went away.
  dir(other(d)).close_with(e.violation_code, e.problem, true);
  dir(d).close_with(mcp::ws_close_code::going_away, "faultline: the " + std::string(by_name(offender)) +
                                                        " broke the WebSocket protocol", false);
  emit("ws.close", {{"from", "proxy"}, {"to", by_name(offender)}, {"code", e.violation_code}, {"reason", e.problem}});
  arm_close_timer(kCloseTimeout, "peers did not close after a protocol error");
}

void WsSession::close_by_fault(Direction d, int code, std::string_view reason, const std::string& fault) {
  const auto receiver = receiver_of(d);
  emit("ws.close", {{"from", "proxy"}, {"to", by_name(receiver)}, {"code", code}, {"reason", reason}, {"fault", fault}});
  if (!first_by_) {
    first_by_ = By::proxy;
    first_how_ = "fault";
    close_code_ = code;
    close_reason_ = std::string(reason) + " (" + fault + ")";
  }
  dir(d).close_with(code, std::string(reason), true);
  dir(other(d)).close_with(mcp::ws_close_code::going_away, "faultline: " + std::string(reason), false);
  arm_close_timer(kCloseTimeout, "peers did not close after a ws_close fault");
}

void WsSession::reader_done() {
  ++readers_done_;
  check_done();
}

void WsSession::stream_ended() {
  ++streams_ended_;
  check_done();
}

// Both peers ended their streams and both got ours: the session is over.
void WsSession::check_done() {
  if (readers_done_ < 2 || streams_ended_ < 2) return;
  close(CloseMode::fin, first_by_.value_or(By::proxy), first_how_.empty() ? "fin" : first_how_,
        close_reason_.empty() ? "both sides closed" : close_reason_);
}

void WsSession::close(CloseMode mode, By by, std::string how, std::string reason) {
  if (closing_) return;
  closing_ = true;
  if (!first_by_) {
    first_by_ = by;
    first_how_ = std::move(how);
  }
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  if (close_timer_) close_timer_->cancel();
  for (auto* s : {&client_, &server_}) close_socket(*s, mode);
  up_.wake();
  down_.wake();
  emit_close();
}

void WsSession::emit_close() {
  if (close_emitted_) return;
  close_emitted_ = true;
  for (auto& e : session_.unanswered(Clock::now())) emit(std::move(e.kind), std::move(e.fields));
  const double duration = std::chrono::duration<double>(Clock::now() - opened_at_).count();
  nlohmann::json fields = {{"client", client_address_},
                           {"closed_by", by_name(first_by_.value_or(By::proxy))},
                           {"how", first_how_},
                           {"reason", close_reason_},
                           {"bytes_upstream", up_.bytes()},
                           {"bytes_downstream", down_.bytes()},
                           {"duration_s", duration}};
  if (close_code_) fields["ws_code"] = *close_code_;
  if (up_.discarded() + down_.discarded() > 0)
    fields["discarded_messages"] = {{"upstream", up_.discarded()}, {"downstream", down_.discarded()}};
  emit("conn.close", std::move(fields));
  --link_->stats().connections_open;
  link_->session_closed(number_);
}

}  // namespace faultline
