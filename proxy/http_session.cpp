#include "proxy/http_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/rng.hpp"
#include "faults/byte_chain.hpp"
#include "faults/frame_chain.hpp"
#include "faults/http_fault.hpp"
#include "mcp/http_body.hpp"
#include "mcp/ndjson_codec.hpp"
#include "mcp/sse_codec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/http_framing.hpp"
#include "proxy/session_socket.hpp"
#include "proxy/http_sessions.hpp"
#include "proxy/link.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 64 * 1024;
// A larger request body is answered 413, a larger JSON body is one invalid frame
// (unless the link's max_message gives another limit).
constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxResponseBytes = 64 * 1024 * 1024;  // a larger non-SSE response ends the connection
constexpr std::size_t kReadPiece = 16 * 1024;
// Bytes read but not parsed yet, at most: a head of kHeaderLimit and a read
// more. Beast's own header limit misses a head that arrives over many reads.
constexpr std::size_t kUnparsedLimit = kHeaderLimit + kReadPiece;
constexpr std::size_t kKeptEvents = 64;  // SSE events remembered for frames a fault releases later
constexpr std::string_view kSessionHeader = "Mcp-Session-Id";

using Request = http::request<http::string_body>;
using ResponseParser = http::response_parser<http::buffer_body>;

// The value of `name` in the query of `target` ("/message?sessionId=abc" -> "abc").
std::string query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// The body for frames that leave a chain: one message, or a batch.
std::string encode_frames(std::vector<WireFrame> frames) {
  if (frames.size() == 1 && !frames.front().frame.batch) return std::move(frames.front().frame.raw);
  std::vector<mcp::Frame> members;
  members.reserve(frames.size());
  for (auto& f : frames) members.push_back(std::move(f.frame));
  std::string out;
  mcp::append_batch_text(members, out);
  return out;
}

// What a list of frames was before faults saw it: each one's stream offset and bytes.
using FramesSeen = std::vector<std::pair<std::uint64_t, std::string>>;

FramesSeen frames_seen(const std::vector<WireFrame>& frames) {
  FramesSeen seen;
  seen.reserve(frames.size());
  for (const auto& f : frames) seen.emplace_back(f.frame.offset, f.frame.raw);
  return seen;
}

bool same_frames(const std::vector<WireFrame>& frames, const FramesSeen& seen) {
  if (frames.size() != seen.size()) return false;
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (frames[i].frame.offset != seen[i].first || frames[i].frame.raw != seen[i].second) return false;
  return true;
}

// Whether a fault's match selects a request or an SSE event: one of its
// messages matches. One without messages (a GET, a DELETE, a priming event) is
// selected by an empty match, or by a match on its session alone.
bool any_match(const FrameMatch& match, const std::vector<WireFrame>& frames, const std::string& session) {
  if (match.empty()) return true;
  if (frames.empty()) return match.method.empty() && !match.id && match.kinds.empty() && match.session == session;
  return std::any_of(frames.begin(), frames.end(), [&](const WireFrame& f) { return match.matches(f); });
}

}  // namespace

class HttpSession;
class Flow;

// ---------------------------------------------------------------- FaultSlot

// A frame or HTTP fault attached to one connection: its seeded random source
// (drawn in exchange order, so a seed replays), its counters, its waits in
// progress, and for an HTTP fault its stage and link-wide memory.
class FaultSlot final : public HttpFaultContext {
 public:
  FaultSlot(HttpSession& session, std::shared_ptr<const FaultSpec> spec);

  // FaultContext / HttpFaultContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_->direction; }
  void injected(nlohmann::json detail) override;
  HttpFaultMemory& memory() override { return *memory_; }

  const FaultSpec& spec() const { return *spec_; }
  const FrameFaultSpec& frame_spec() const { return *spec_->frame; }
  HttpStage* http_stage() { return http_stage_.get(); }
  bool roll() { return frame_spec().probability >= 1.0 || rng_.chance(frame_spec().probability); }
  void remove() {
    removed_ = true;
    cancel_waits();
  }
  void cancel_waits() { waits_.cancel_all(); }

 private:
  HttpSession& session_;
  std::shared_ptr<const FaultSpec> spec_;
  std::unique_ptr<HttpStage> http_stage_;
  Rng rng_;
  std::shared_ptr<FaultCounters> counters_;
  HttpFaultMemory* memory_ = nullptr;
  bool removed_ = false;
  FaultWaits waits_;
};

// Where a direction's byte chain ends: the socket toward the peer. The end
// is the FIN the link sends when it closes the connection (see end_streams).
class SocketSink final : public ChainSink {
 public:
  SocketSink(HttpSession& session, Direction dir) : session_(session), dir_(dir) {}
  asio::awaitable<void> write(Chunk chunk) override;
  asio::awaitable<void> end(StreamEnd) override;

 private:
  HttpSession& session_;
  Direction dir_;
};

// ---------------------------------------------------------------- Flow

// The frame faults of one direction of one exchange (a request body, a JSON
// response) or of one SSE stream: a stage per fault made for it, the chain,
// and where the chain delivers. Faults' tasks (late_response) keep it alive.
class FlowStage final : public AttachedFrameStage, public FrameStageContext {
 public:
  FlowStage(Flow& flow, std::shared_ptr<FaultSlot> slot)
      : flow_(flow), slot_(std::move(slot)), stage_(slot_->frame_spec().fault->instantiate()) {}

  // AttachedFrameStage
  FrameStage& stage() override { return *stage_; }
  FrameStageContext& context() override { return *this; }
  const FrameMatch& match() const override { return slot_->frame_spec().match; }
  double probability() const override { return slot_->frame_spec().probability; }
  bool active() const override { return !slot_->removed(); }

  // FrameStageContext
  Clock::time_point now() const override { return Clock::now(); }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override;
  bool removed() const override { return slot_->removed(); }
  Rng& rng() override { return slot_->rng(); }
  Direction direction() const override { return slot_->direction(); }
  void injected(nlohmann::json detail) override { slot_->injected(std::move(detail)); }
  asio::awaitable<void> emit(WireFrame frame) override;
  asio::awaitable<void> reply(WireFrame frame) override;
  void spawn(std::function<asio::awaitable<void>()> task) override;
  bool signal_server(int) override { return false; }  // an http upstream is not our child
  void close_output(std::string_view reason) override;

 private:
  Flow& flow_;
  std::shared_ptr<FaultSlot> slot_;
  std::unique_ptr<FrameStage> stage_;
};

class Flow final : public FrameSink, public std::enable_shared_from_this<Flow> {
 public:
  using Deliver = std::function<asio::awaitable<void>(WireFrame)>;

  Flow(HttpSession& session, Direction dir, std::string key, Deliver deliver);
  void build();  // after construction: the stages need shared_from_this for tasks only

  bool empty() const { return stages_.empty(); }
  asio::awaitable<void> frame(WireFrame f) {
    auto chain = chain_;
    co_await chain->frame(0, std::move(f));
  }
  // The input is over: what faults hold is let go (reorder), and their
  // tasks (late_response) finish, each at its own time.
  asio::awaitable<void> finish() {
    auto chain = chain_;
    co_await chain->end(0);
  }

  // FrameSink
  asio::awaitable<void> write(WireFrame frame) override {
    auto self = shared_from_this();
    co_await deliver_(std::move(frame));
  }
  asio::awaitable<void> end() override;

  void spawn_task(std::function<asio::awaitable<void>()> task);

  HttpSession& session;
  Direction dir;
  std::string key;                  // the MCP session record the flow's frames go to
  std::vector<WireFrame> replies;   // answers faults gave in the server's place (upstream flows)

 private:
  Deliver deliver_;
  std::vector<std::shared_ptr<AttachedFrameStage>> stages_;
  std::shared_ptr<FrameChain> chain_;
  WakeSignal tasks_done_;
  int pending_tasks_ = 0;
};

// ---------------------------------------------------------------- HttpSession

class HttpSession final : public LinkSession, public LinkFaultHost, public std::enable_shared_from_this<HttpSession> {
 public:
  enum class By { client, server, proxy };

  explicit HttpSession(SessionStart start);
  ~HttpSession() override = default;

  asio::any_io_executor executor() override { return client_.get_executor(); }
  void start(std::vector<std::shared_ptr<const FaultSpec>> faults) override;
  void attach(const std::shared_ptr<const FaultSpec>& spec) override;
  void detach(const std::string& name) override;
  void replace(const std::string& name, const std::shared_ptr<const FaultSpec>& spec) override;
  void shut_down(const std::string& reason) override { close(CloseMode::fin, By::proxy, "shutdown", reason); }
  void drain(std::chrono::milliseconds grace, const std::string& reason) override;

  void close(CloseMode mode, By by, std::string how, std::string reason);
  // FaultHost
  bool closing() const override { return closing_; }
  Link& link() override { return *link_; }
  std::uint64_t number() const override { return number_; }
  void close_for_fault(CloseMode mode, std::string reason) override {
    close(mode, By::proxy, "fault", std::move(reason));
  }

  HttpLinkState& state() { return *state_; }
  const std::vector<std::shared_ptr<FaultSlot>>& slots() const { return slots_; }
  void emit(std::string kind, nlohmann::json fields) {
    fields["conn"] = number_;
    link_->env().events.emit(link_->source(), std::move(kind), std::move(fields));
  }
  // Queues bytes for the client: one writer takes all that is queued through
  // the downstream byte faults in one go, so the caller goes on reading (it
  // waits only while too much is queued) and a fault's delay is measured from
  // when the bytes were ready, not added once per write.
  asio::awaitable<void> send_client(std::string bytes);
  // Writes bytes to a socket, through the direction's byte faults; the error, if any.
  asio::awaitable<boost::system::error_code> write_out(Direction dir, std::string_view bytes,
                                                       Clock::time_point arrival);
  asio::awaitable<boost::system::error_code> write_socket(Direction dir, asio::const_buffer bytes);
  void spawn(std::function<asio::awaitable<void>()> work);

 private:
  // What one exchange is about.
  struct Exchange {
    std::string method;
    std::string target;
    std::string session;  // "" while unknown
    std::string key;      // the session, or a temporary record key
    std::string last_event_id;
    Clock::time_point started;
    std::size_t frames = 0;
    bool keep_alive = true;
  };
  // One SSE stream on its way to the client.
  struct SseStream {
    std::uint64_t number = 0;  // on the link
    std::string method;
    std::string target;
    std::string key;
    std::string session;
    bool chunked = true;
    bool first = true;
    bool legacy = false;  // the legacy transport's GET stream: it named its session in an endpoint event
    bool closed = false;  // sse.close was emitted
    std::uint64_t events = 0;
    std::uint64_t bytes = 0;
    std::map<std::uint64_t, std::pair<mcp::SseEvent, bool>> recent;  // by offset: the event, whether a fault edited it
  };

  asio::awaitable<void> run();
  // Reads from `socket` into `parser` until the message (or its head) is
  // complete, refusing a head over kHeaderLimit and framing a server could
  // read otherwise (http_framing.hpp); `problem` says why when it refuses.
  template <class Parser>
  asio::awaitable<boost::system::error_code> feed(tcp::socket& socket, beast::flat_buffer& buffer, Parser& parser,
                                                  bool head_only, std::string& problem);
  asio::awaitable<bool> exchange(Request req);
  asio::awaitable<bool> connect_upstream();
  // Moves frames through a direction's frame faults (never copied: a message
  // may nest deep) and leaves what came out in their place; true when that
  // differs from what went in. Answers faults gave in the server's place go to `replies`.
  asio::awaitable<bool> through_frame_faults(Direction dir, const std::string& key, std::vector<WireFrame>& frames,
                                             std::vector<WireFrame>& replies);
  asio::awaitable<void> answer(Exchange& x, const HttpAnswer& a, bool injected);
  asio::awaitable<void> answer_bad_request(int status, const std::string& why);
  asio::awaitable<bool> relay_body(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies, bool head);
  asio::awaitable<bool> relay_sse(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies);
  asio::awaitable<SseAction> deliver_event(SseStream& stream, Flow& flow, bool transparent, mcp::SseEvent event);
  asio::awaitable<void> write_event(SseStream& stream, const mcp::SseEvent& event, bool edited);
  asio::awaitable<void> write_sse_frame(SseStream& stream, WireFrame frame);
  std::shared_ptr<Flow> make_flow(Direction dir, std::string key, Flow::Deliver deliver);
  // The messages of a body, recorded under `key`; `session` is "" while unknown.
  std::vector<WireFrame> observe_body(std::string_view body, const std::string& key, const std::string& session,
                                      mcp::Peer from);
  std::shared_ptr<asio::cancellation_signal> watch_client();
  asio::awaitable<void> flush_client();
  asio::awaitable<void> write_loop();
  // Before the link closes both connections gracefully: what is queued goes
  // out, then the FIN toward each peer passes that direction's byte faults
  // (slow_close delays it, half_open holds it), `first` (where the close came
  // from) first.
  asio::awaitable<void> end_streams(Direction first);
  void finish_exchange(Exchange& x);
  // Records the end of an SSE stream once (sse.close, and for a legacy stream
  // that broke, the break). `how` is machine-readable: end, fault_end,
  // fault_close, server_cut, server_error, client_closed, link_stopping, fault, error.
  void close_stream(SseStream& stream, const std::string& how, const std::string& reason);
  std::string stream_end() const;
  std::string client_host() const;
  void close_upstream();
  bool has_http_faults(Direction dir) const;
  bool has_frame_faults(Direction dir) const;
  void emit_close();

  std::shared_ptr<Link> link_;
  std::shared_ptr<HttpLinkState> state_;
  tcp::socket client_;
  tcp::socket server_;
  std::uint64_t number_;
  HostPort upstream_;
  std::size_t max_body_;  // the link's max_message, or kMaxBodyBytes
  beast::flat_buffer client_buffer_{kUnparsedLimit};
  beast::flat_buffer server_buffer_{kUnparsedLimit};
  std::vector<std::shared_ptr<FaultSlot>> slots_;
  std::vector<std::shared_ptr<AttachedByteFault>> byte_slots_;
  SocketSink up_sink_{*this, Direction::upstream};
  SocketSink down_sink_{*this, Direction::downstream};
  std::shared_ptr<FaultChain> byte_chain_[2];
  boost::system::error_code sink_error_[2];
  void rebuild_byte_chains();
  std::vector<std::shared_ptr<const FaultSpec>> initial_faults_;
  std::string outbox_;
  Clock::time_point outbox_arrival_;
  bool writing_ = false;
  Broadcast written_;  // the relay and faults' tasks may both wait for the writer
  Clock::time_point opened_at_;
  std::string client_address_;
  std::uint64_t exchanges_ = 0;
  std::uint64_t bytes_up_ = 0;
  std::uint64_t bytes_down_ = 0;
  bool idle_ = false;  // waiting for a request with nothing of it read yet
  bool closing_ = false;
  bool draining_ = false;
  bool close_emitted_ = false;
  std::unique_ptr<asio::steady_timer> drain_timer_;
  std::optional<By> first_by_;
  std::string first_how_;
  std::string close_reason_;
  std::string drain_reason_;
  std::shared_ptr<SseStream> open_stream_;  // the SSE stream being relayed, if any

  friend class Flow;
  friend class SocketSink;
};

// ---------------------------------------------------------------- FaultSlot impl

FaultSlot::FaultSlot(HttpSession& session, std::shared_ptr<const FaultSpec> spec)
    : session_(session),
      spec_(std::move(spec)),
      rng_(derive_seed(session.link().env().seed, session.link().name(), spec_->name, session.number())),
      counters_(session.link().stats().fault(spec_->name, spec_->type)) {
  if (const auto* http_fault = dynamic_cast<const HttpFault*>(spec_->frame->fault.get())) {
    http_stage_ = http_fault->instantiate_http();
    memory_ = &session.state().memory(spec_->name);
  }
}

asio::awaitable<bool> FaultSlot::wait_until(Clock::time_point deadline) {
  if (removed_ || session_.closing()) co_return false;
  const bool on_time = co_await waits_.wait(session_.executor(), deadline);
  co_return on_time && !removed_ && !session_.closing();
}

void FaultSlot::injected(nlohmann::json detail) {
  ++counters_->injections;
  if (detail.is_null()) return;
  nlohmann::json fields = {{"fault", spec_->name}, {"type", spec_->type}, {"direction", to_string(spec_->direction)}};
  if (detail.is_object()) fields.update(detail);
  session_.emit("fault.inject", std::move(fields));
}

asio::awaitable<void> SocketSink::write(Chunk chunk) {
  const auto ec = co_await session_.write_socket(dir_, asio::buffer(chunk.bytes.data(), chunk.bytes.size()));
  if (ec) session_.sink_error_[dir_ == Direction::upstream ? 0 : 1] = ec;
}

asio::awaitable<void> SocketSink::end(StreamEnd) {
  auto& socket = dir_ == Direction::upstream ? session_.server_ : session_.client_;
  boost::system::error_code ignored;
  if (!session_.closing() && socket.is_open()) socket.shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}

// ---------------------------------------------------------------- Flow impl

asio::awaitable<bool> FlowStage::wait_until(Clock::time_point deadline) { return slot_->wait_until(deadline); }

asio::awaitable<void> FlowStage::emit(WireFrame frame) { co_await flow_.write(std::move(frame)); }

asio::awaitable<void> FlowStage::reply(WireFrame frame) {
  if (flow_.dir == Direction::downstream) {  // no frame fault answers the server; say so rather than lose it quietly
    flow_.session.emit("fault.unsupported", {{"fault", slot_->spec().name}, {"what", "a reply toward the server"}});
    co_return;
  }
  flow_.session.state().observe(flow_.key, flow_.session.number(), mcp::Peer::server, frame.frame, Clock::now(), true);
  flow_.replies.push_back(std::move(frame));
}

void FlowStage::spawn(std::function<asio::awaitable<void>()> task) { flow_.spawn_task(std::move(task)); }

void FlowStage::close_output(std::string_view reason) {
  flow_.session.close(CloseMode::fin, HttpSession::By::proxy, "fault",
                      std::string(reason) + " (" + slot_->spec().name + ")");
}

Flow::Flow(HttpSession& s, Direction d, std::string k, Deliver deliver)
    : session(s), dir(d), key(std::move(k)), deliver_(std::move(deliver)), tasks_done_(s.executor()) {}

void Flow::build() {
  for (const auto& slot : session.slots()) {
    if (slot->removed() || slot->direction() != dir || slot->http_stage()) continue;
    stages_.push_back(std::make_shared<FlowStage>(*this, slot));
  }
  chain_ = std::make_shared<FrameChain>(stages_, *this);
}

asio::awaitable<void> Flow::end() {
  auto self = shared_from_this();
  while (pending_tasks_ > 0 && !session.closing()) co_await tasks_done_.wait();
}

void Flow::spawn_task(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  asio::co_spawn(session.executor(), std::move(task), [self = shared_from_this()](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("http fault task: {}", ex.what());
      }
    }
    --self->pending_tasks_;
    self->tasks_done_.notify();
  });
}

// ---------------------------------------------------------------- HttpSession impl

std::shared_ptr<LinkSession> make_http_session(SessionStart start) {
  return std::make_shared<HttpSession>(std::move(start));
}

HttpSession::HttpSession(SessionStart start)
    : link_(std::move(start.link)),
      state_(http_link_state(link_)),
      client_(std::move(start.client)),
      server_(client_.get_executor()),
      number_(start.number),
      upstream_(std::move(start.upstream)),
      max_body_(start.max_message.value_or(kMaxBodyBytes)),
      written_(client_.get_executor()),
      opened_at_(Clock::now()) {}

void HttpSession::start(std::vector<std::shared_ptr<const FaultSpec>> faults) {
  client_address_ = endpoint_text(client_, true);
  ++link_->stats().connections_total;
  ++link_->stats().connections_open;
  emit("conn.open", {{"client", client_address_}, {"listen", endpoint_text(client_, false)}});
  initial_faults_ = std::move(faults);
  auto self = shared_from_this();
  spawn([self] { return self->run(); });
}

void HttpSession::spawn(std::function<asio::awaitable<void>()> work) {
  asio::co_spawn(client_.get_executor(), std::move(work), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& err) {
      self->close(CloseMode::rst, By::proxy, "error", std::string("internal error: ") + err.what());
    }
  });
}

void HttpSession::attach(const std::shared_ptr<const FaultSpec>& spec) {
  if (closing_ || draining_) return;
  if (!spec->is_frame()) {
    // A byte fault acts where bytes leave the link, since the link parses
    // HTTP: on what it writes to the server (upstream) or to the client
    // (downstream), chunk by chunk as written.
    auto slot = std::make_shared<AttachedByteFault>(*this, spec->direction, spec);
    byte_slots_.push_back(slot);
    rebuild_byte_chains();
    AttachedByteFault::start(slot, shared_from_this());
    return;
  }
  slots_.push_back(std::make_shared<FaultSlot>(*this, spec));
}

void HttpSession::rebuild_byte_chains() {
  for (auto dir : {Direction::upstream, Direction::downstream}) {
    std::vector<std::shared_ptr<AttachedStage>> stages;
    for (const auto& slot : byte_slots_)
      if (slot->direction() == dir && !slot->removed()) stages.push_back(slot);
    auto& sink = dir == Direction::upstream ? up_sink_ : down_sink_;
    byte_chain_[dir == Direction::upstream ? 0 : 1] = stages.empty() ? nullptr : std::make_shared<FaultChain>(std::move(stages), sink);
  }
}

void HttpSession::detach(const std::string& name) {
  for (auto it = byte_slots_.begin(); it != byte_slots_.end(); ++it) {
    if ((*it)->spec().name != name) continue;
    (*it)->remove();  // what it holds is passed on
    byte_slots_.erase(it);
    rebuild_byte_chains();
    return;
  }
  for (auto it = slots_.begin(); it != slots_.end(); ++it) {
    if ((*it)->spec().name != name) continue;
    (*it)->remove();  // held frames are passed on at once
    slots_.erase(it);
    return;
  }
}

void HttpSession::replace(const std::string& name, const std::shared_ptr<const FaultSpec>& spec) {
  if (std::any_of(byte_slots_.begin(), byte_slots_.end(), [&](const auto& b) { return b->spec().name == name; })) {
    detach(name);
    attach(spec);
    return;
  }
  for (auto& slot : slots_) {
    if (slot->spec().name != name) continue;
    slot->remove();
    if (spec->is_frame()) {
      slot = std::make_shared<FaultSlot>(*this, spec);
    } else {
      detach(name);
    }
    return;
  }
  attach(spec);
}

void HttpSession::drain(std::chrono::milliseconds grace, const std::string& reason) {
  if (closing_ || draining_) return;
  draining_ = true;
  drain_reason_ = reason;
  for (auto& slot : slots_) slot->remove();  // what faults hold goes now
  slots_.clear();
  for (auto& slot : byte_slots_) slot->remove();
  byte_slots_.clear();
  rebuild_byte_chains();
  if (idle_ && !writing_) {
    close(CloseMode::fin, By::proxy, "drain", reason);
    return;
  }
  if (idle_) {  // a response is still being written: it goes out first
    auto self = shared_from_this();
    spawn([self, reason]() -> asio::awaitable<void> {
      co_await self->flush_client();
      self->close(CloseMode::fin, By::proxy, "drain", reason);
    });
    return;
  }
  drain_timer_ = std::make_unique<asio::steady_timer>(executor(), grace);
  drain_timer_->async_wait([self = shared_from_this(), reason](boost::system::error_code ec) {
    if (!ec) self->close(CloseMode::fin, By::proxy, "shutdown", reason + " (drain timed out)");
  });
}

void HttpSession::close(CloseMode mode, By by, std::string how, std::string reason) {
  if (closing_) return;
  closing_ = true;
  if (!first_by_) {
    first_by_ = by;
    first_how_ = std::move(how);
  }
  close_reason_ = std::move(reason);
  if (drain_timer_) drain_timer_->cancel();
  for (auto* s : {&client_, &server_}) close_socket(*s, mode);
  for (auto& slot : slots_) slot->cancel_waits();
  for (auto& slot : byte_slots_) slot->cancel_waits();
  written_.notify();
  if (open_stream_) close_stream(*open_stream_, stream_end(), close_reason_);
  emit_close();
}

void HttpSession::close_stream(SseStream& stream, const std::string& how, const std::string& reason) {
  if (stream.closed) return;
  stream.closed = true;
  if (open_stream_.get() == &stream) open_stream_.reset();
  nlohmann::json f = {{"stream", stream.number}, {"method", stream.method}, {"path", stream.target},
                      {"session", stream.session}, {"events", stream.events}, {"bytes", stream.bytes},
                      {"how", how}};
  if (!reason.empty()) f["reason"] = reason;
  emit("sse.close", std::move(f));
  // The legacy client reconnects to a new session when its stream breaks; not when it closed the stream.
  if (stream.legacy && how != "client_closed" && how != "link_stopping")
    state_->note_legacy_break(stream.session, client_host());
}

// How an SSE stream ended that the connection's close cut short.
std::string HttpSession::stream_end() const {
  const auto by = first_by_.value_or(By::proxy);
  if (by == By::client) return "client_closed";
  if (by == By::server) return "server_cut";
  if (first_how_ == "shutdown" || first_how_ == "drain") return "link_stopping";
  return first_how_ == "fault" ? "fault" : "error";
}

std::string HttpSession::client_host() const {
  const auto colon = client_address_.rfind(':');
  return colon == std::string::npos ? client_address_ : client_address_.substr(0, colon);
}

void HttpSession::emit_close() {
  if (close_emitted_) return;
  close_emitted_ = true;
  const double duration = std::chrono::duration<double>(Clock::now() - opened_at_).count();
  const auto by = first_by_.value_or(By::proxy);
  emit("conn.close", {{"client", client_address_},
                      {"closed_by", by == By::client ? "client" : by == By::server ? "server" : "proxy"},
                      {"how", first_how_},
                      {"reason", close_reason_},
                      {"exchanges", exchanges_},
                      {"bytes_upstream", bytes_up_},
                      {"bytes_downstream", bytes_down_},
                      {"duration_s", duration}});
  --link_->stats().connections_open;
  link_->session_closed(number_);
}

void HttpSession::close_upstream() {
  boost::system::error_code ignored;
  if (server_.is_open()) {
    server_.shutdown(tcp::socket::shutdown_both, ignored);
    server_.close(ignored);
  }
  server_buffer_.clear();
}

asio::awaitable<void> HttpSession::send_client(std::string bytes) {
  auto self = shared_from_this();
  if (closing_) co_return;
  if (outbox_.empty()) outbox_arrival_ = Clock::now();
  outbox_ += bytes;
  if (!writing_) {
    writing_ = true;
    spawn([self] { return self->write_loop(); });
  }
  while (outbox_.size() >= kOutboxLimit && writing_ && !closing_) co_await written_.wait();
}

// One write in flight: it takes everything queued so far.
asio::awaitable<void> HttpSession::write_loop() {
  auto self = shared_from_this();
  while (!outbox_.empty() && !closing_) {
    std::string out;
    out.swap(outbox_);
    const auto ec = co_await write_out(Direction::downstream, out, outbox_arrival_);
    written_.notify();
    if (ec) {
      outbox_.clear();
      if (!closing_)
        close(CloseMode::rst, By::client, is_reset(ec) ? "rst" : "error", "write to client: " + ec.message());
      break;
    }
  }
  writing_ = false;
  written_.notify();
}

asio::awaitable<boost::system::error_code> HttpSession::write_out(Direction dir, std::string_view bytes,
                                                                  Clock::time_point arrival) {
  auto self = shared_from_this();
  const int d = dir == Direction::upstream ? 0 : 1;
  auto chain = byte_chain_[d];
  if (!chain) co_return co_await write_socket(dir, asio::buffer(bytes.data(), bytes.size()));
  sink_error_[d] = {};
  Chunk c;
  c.bytes.assign(bytes.begin(), bytes.end());
  c.arrival = arrival;
  co_await chain->data(0, std::move(c));
  co_return sink_error_[d];
}

asio::awaitable<boost::system::error_code> HttpSession::write_socket(Direction dir, asio::const_buffer bytes) {
  auto self = shared_from_this();
  auto& socket = dir == Direction::upstream ? server_ : client_;
  if (closing_ || !socket.is_open()) co_return asio::error::operation_aborted;
  auto [ec, n] = co_await asio::async_write(socket, bytes, use_tuple);
  if (dir == Direction::upstream) {
    bytes_up_ += n;
    link_->stats().bytes_upstream += n;
  } else {
    bytes_down_ += n;
    link_->stats().bytes_downstream += n;
  }
  co_return ec;
}

asio::awaitable<void> HttpSession::flush_client() {
  auto self = shared_from_this();
  while (writing_ && !closing_) co_await written_.wait();
}

asio::awaitable<void> HttpSession::end_streams(Direction first) {
  auto self = shared_from_this();
  co_await flush_client();
  const Direction second = first == Direction::upstream ? Direction::downstream : Direction::upstream;
  for (const auto dir : {first, second}) {
    auto chain = byte_chain_[dir == Direction::upstream ? 0 : 1];
    if (closing_ || !chain || (dir == Direction::upstream && !server_.is_open())) continue;
    co_await chain->end(0, StreamEnd{});
  }
}

asio::awaitable<void> HttpSession::run() {
  auto self = shared_from_this();
  boost::system::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  for (const auto& spec : initial_faults_) attach(spec);
  initial_faults_.clear();
  while (!closing_) {
    if (draining_) {
      co_await flush_client();
      close(CloseMode::fin, By::proxy, "drain", drain_reason_);
      break;
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(max_body_);
    std::string problem;
    idle_ = client_buffer_.size() == 0;
    const auto ec = co_await feed(client_, client_buffer_, parser, false, problem);
    idle_ = false;
    if (closing_) break;
    if (ec) {
      if (ec == http::error::end_of_stream || (ec == asio::error::eof && !parser.got_some())) {
        co_await end_streams(Direction::upstream);
        close(CloseMode::fin, By::client, "fin", "client closed the connection");
      } else if (is_reset(ec) || ec == asio::error::eof) {
        close(CloseMode::rst, By::client, is_reset(ec) ? "rst" : "fin", "client: " + ec.message() + " inside a request");
      } else {
        // A request a correct proxy refuses: the client gets 400 (413 for an oversized
        // body) and the connection closes, since its framing cannot be trusted.
        const int status = ec == http::error::body_limit                                      ? 413
                           : ec == http::error::header_limit || ec == http::error::buffer_overflow ? 431
                                                                                                   : 400;
        const std::string why = problem.empty() ? ec.message() : problem;
        emit("http.bad_request", {{"error", why}, {"status", status}, {"bytes_read", client_buffer_.size()}});
        co_await answer_bad_request(status, why);
        close(CloseMode::fin, By::proxy, "bad_request", "bad request from client: " + why);
      }
      break;
    }
    const bool keep = co_await exchange(parser.release());
    if (closing_) break;
    if (!keep) {
      co_await end_streams(Direction::downstream);
      close(CloseMode::fin, By::proxy, "fin", "connection: close");
      break;
    }
  }
}

template <class Parser>
asio::awaitable<boost::system::error_code> HttpSession::feed(tcp::socket& socket, beast::flat_buffer& buffer,
                                                             Parser& parser, bool head_only, std::string& problem) {
  // Beast's parser fed by hand (put), so that what it waits for can be judged
  // between reads. Beast takes each complete field as it comes and applies
  // its header limit only to what it has not taken yet, so the head is
  // counted here, whole.
  boost::system::error_code ec;
  std::size_t head_bytes = 0;
  bool head_checked = false;
  const auto finished = [&] { return head_only ? parser.is_header_done() : parser.is_done(); };
  for (;;) {
    if (buffer.size() > 0) {
      const bool in_head = !parser.is_header_done();
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (in_head) head_bytes += used;
      if (head_bytes > kHeaderLimit) {
        problem = "head over " + std::to_string(kHeaderLimit / 1024) + " KiB";
        co_return http::error::header_limit;
      }
      if (ec && ec != http::error::need_more) co_return ec;
      ec = {};
      if (parser.is_header_done() && !head_checked) {
        head_checked = true;
        if (auto why = framing_problem(parser.get().base(), parser.get().version())) {
          problem = *why;
          co_return http::error::bad_transfer_encoding;
        }
      }
      if (finished()) co_return ec;
      if (used > 0) continue;  // parse what is left before reading more
      if (parser.is_header_done() && parser.chunked()) {
        const auto* data = static_cast<const char*>(buffer.data().data());
        if (const auto at = bare_line_feed_at({data, buffer.size()}); at != std::string_view::npos) {
          problem = "chunked body: a line ends in a bare LF, " + std::to_string(at) + " bytes into the unparsed part";
          co_return http::error::bad_chunk;
        }
      }
    }
    if (buffer.size() >= buffer.max_size()) {
      problem = parser.is_header_done() ? "a chunk header or trailer too long" : "a head line too long";
      co_return parser.is_header_done() ? http::error::bad_chunk : http::error::header_limit;
    }
    const auto room = std::min(kReadPiece, buffer.max_size() - buffer.size());
    auto [rec, n] = co_await socket.async_read_some(buffer.prepare(room), use_tuple);
    buffer.commit(n);
    if (closing_) co_return rec;
    if (rec == asio::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      parser.put_eof(ec);
      co_return ec ? ec : http::error::partial_message;
    }
    if (rec) co_return rec;
  }
}

asio::awaitable<void> HttpSession::answer_bad_request(int status, const std::string& why) {
  const auto body = http_error_body(-32600, "faultline: bad HTTP request: " + why);
  std::string text = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)))) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n" + body;
  co_await send_client(std::move(text));
  co_await flush_client();
}

std::vector<WireFrame> HttpSession::observe_body(std::string_view body, const std::string& key,
                                                const std::string& session, mcp::Peer from) {
  std::vector<mcp::Frame> decoded;
  mcp::decode_http_body(body, decoded, mcp::HttpBodyOptions{max_body_, {}});
  std::vector<WireFrame> frames;
  const auto at = Clock::now();
  for (auto& f : decoded) {
    WireFrame wf;
    wf.method = state_->observe(key, number_, from, f, at, false);
    wf.frame = std::move(f);
    wf.arrival = at;
    wf.session = session;
    frames.push_back(std::move(wf));
  }
  return frames;
}

std::shared_ptr<Flow> HttpSession::make_flow(Direction dir, std::string key, Flow::Deliver deliver) {
  auto flow = std::make_shared<Flow>(*this, dir, std::move(key), std::move(deliver));
  flow->build();
  return flow;
}

asio::awaitable<bool> HttpSession::through_frame_faults(Direction dir, const std::string& key,
                                                       std::vector<WireFrame>& frames,
                                                       std::vector<WireFrame>& replies) {
  auto collected = std::make_shared<std::vector<WireFrame>>();
  auto flow = make_flow(dir, key, [collected](WireFrame f) -> asio::awaitable<void> {
    collected->push_back(std::move(f));
    co_return;
  });
  if (flow->empty()) co_return false;
  const FramesSeen before = frames_seen(frames);
  for (auto& f : frames) co_await flow->frame(std::move(f));
  co_await flow->finish();
  frames = std::move(*collected);
  replies = std::move(flow->replies);
  co_return !same_frames(frames, before);
}

bool HttpSession::has_frame_faults(Direction dir) const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [dir](const auto& s) { return !s->http_stage() && s->direction() == dir && !s->removed(); });
}

bool HttpSession::has_http_faults(Direction dir) const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [dir](const auto& s) { return s->http_stage() && s->direction() == dir && !s->removed(); });
}

void HttpSession::finish_exchange(Exchange& x) {
  if (x.key.starts_with("~")) state_->drop_temp(x.key);
}

asio::awaitable<void> HttpSession::answer(Exchange& x, const HttpAnswer& a, bool injected) {
  const auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(a.status)));
  std::string text = "HTTP/1.1 " + std::to_string(a.status) + " " + std::string(reason) + "\r\n";
  if (!a.content_type.empty()) text += "Content-Type: " + a.content_type + "\r\n";
  text += "Content-Length: " + std::to_string(a.body.size()) + "\r\n";
  if (!x.keep_alive) text += "Connection: close\r\n";
  text += "\r\n";
  text += a.body;
  nlohmann::json f = {{"method", x.method}, {"path", x.target}, {"status", a.status}, {"frames", x.frames},
                      {"ms", std::chrono::duration<double, std::milli>(Clock::now() - x.started).count()}};
  if (!x.session.empty()) f["session"] = x.session;
  if (injected) f["injected"] = true;
  emit("http.request", std::move(f));
  if (a.status == 404 && !x.session.empty()) state_->note_lost(x.session, number_, 404, injected);
  co_await send_client(std::move(text));
}

asio::awaitable<bool> HttpSession::connect_upstream() {
  const auto byte_slots = byte_slots_;  // faults acting before the upstream connection opens (slow_open)
  for (const auto& slot : byte_slots)
    if (slot->active() && !closing_) co_await slot->stage().before_connect(*slot);
  if (closing_) co_return false;
  tcp::resolver resolver(executor());
  auto [rec, endpoints] = co_await resolver.async_resolve(upstream_.host, std::to_string(upstream_.port), use_tuple);
  if (closing_) co_return false;
  if (rec) {
    ++link_->stats().connections_failed;
    emit("http.upstream_error", {{"upstream", upstream_.to_string()}, {"error", "does not resolve: " + rec.message()}});
    co_return false;
  }
  const auto cec = co_await faultline::connect_upstream(server_, endpoints);
  if (closing_) co_return false;
  if (cec) {
    ++link_->stats().connections_failed;
    boost::system::error_code ignored;
    server_.close(ignored);
    emit("http.upstream_error", {{"upstream", upstream_.to_string()}, {"error", cec.message()}});
    co_return false;
  }
  boost::system::error_code ignored;
  server_.set_option(tcp::no_delay(true), ignored);
  server_buffer_.clear();
  emit("conn.upstream", {{"upstream", endpoint_text(server_, true)}});
  co_return true;
}

std::shared_ptr<asio::cancellation_signal> HttpSession::watch_client() {
  auto signal = std::make_shared<asio::cancellation_signal>();
  auto self = shared_from_this();
  spawn([self, signal]() -> asio::awaitable<void> {
    auto [ec] = co_await self->client_.async_wait(tcp::socket::wait_read,
                                                  asio::bind_cancellation_slot(signal->slot(), use_tuple));
    if (ec || self->closing_) co_return;
    char c;
    const auto n = ::recv(self->client_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      self->close(CloseMode::fin, By::client, n == 0 ? "fin" : "rst", "client closed the connection during a response");
    // n > 0: the client's next request is waiting; it is read after this exchange.
  });
  return signal;
}

asio::awaitable<bool> HttpSession::exchange(Request req) {
  auto self = shared_from_this();
  Exchange x;
  x.started = Clock::now();
  x.method = std::string(req.method_string());
  x.target = std::string(req.target());
  x.session = std::string(req[kSessionHeader]);
  if (x.session.empty()) x.session = query_param(x.target, "sessionId");
  const auto exchange_no = ++exchanges_;
  x.key = x.session.empty() ? "~" + std::to_string(number_) + "." + std::to_string(exchange_no) : x.session;
  x.last_event_id = std::string(req["Last-Event-ID"]);
  x.keep_alive = req.keep_alive();
  if (!x.session.empty()) state_->note_connection(x.session, number_);

  // The request's messages, recorded as they arrived.
  std::vector<WireFrame> frames;
  if (req.method() == http::verb::post && !req.body().empty())
    frames = observe_body(req.body(), x.key, x.session, mcp::Peer::client);
  x.frames = frames.size();

  // HTTP faults on the request (forget_session, get_405, ...).
  const HttpRequestView view{x.method, x.target, x.session};
  const auto slots = slots_;
  for (const auto& slot : slots) {
    if (!slot->http_stage() || slot->removed() || slot->direction() != Direction::upstream) continue;
    const bool matched = any_match(slot->frame_spec().match, frames, x.session) && slot->roll();
    auto a = slot->http_stage()->on_request(view, matched, *slot);
    if (!a) continue;
    co_await answer(x, *a, true);
    finish_exchange(x);
    co_return x.keep_alive;
  }

  // Frame faults on the request's messages.
  std::vector<WireFrame> replies;
  bool changed = false;
  if (!frames.empty()) {
    changed = co_await through_frame_faults(Direction::upstream, x.key, frames, replies);
    if (closing_) co_return false;
  }
  if (x.frames > 0 && frames.empty()) {
    // Nothing left for the server: answer in its place, with what faults
    // answered, or 202 Accepted as for notifications.
    HttpAnswer a = replies.empty() ? HttpAnswer{202, "", ""} : HttpAnswer{200, "application/json", encode_frames(std::move(replies))};
    co_await answer(x, a, true);
    finish_exchange(x);
    co_return x.keep_alive;
  }
  for (const auto& f : frames) state_->note_relayed(x.key, f.frame);
  if (changed) req.body() = encode_frames(std::move(frames));
  if (changed || req.chunked()) {
    req.chunked(false);
    req.content_length(req.body().size());
  }
  const std::string head = request_head(req);

  // Forward; a kept-alive upstream connection the server closed meanwhile is opened again once.
  std::optional<ResponseParser> parser;
  std::string upstream_problem;  // framing the link refuses to relay
  for (int attempt = 0;; ++attempt) {
    const bool reused = server_.is_open();
    if (!reused) {
      const bool connected = co_await connect_upstream();
      if (closing_) co_return false;
      if (!connected) {
        // A named answer, not a temporary in the co_await: GCC 12 destroys
        // such a temporary twice (a double free on every 502).
        const HttpAnswer unreachable{502, "application/json",
                                     http_error_body(-32603, "faultline: upstream unreachable")};
        co_await answer(x, unreachable, true);
        finish_exchange(x);
        co_return x.keep_alive;
      }
    }
    const auto wec = co_await write_out(Direction::upstream, head + req.body(), Clock::now());
    if (closing_) co_return false;
    boost::system::error_code ec = wec;
    if (!ec) {
      // Skip interim 1xx answers (100 Continue) after passing them on.
      for (;;) {
        parser.emplace();
        parser->header_limit(kHeaderLimit);
        parser->body_limit(boost::none);
        if (req.method() == http::verb::head) parser->skip(true);
        const auto rec = co_await feed(server_, server_buffer_, *parser, true, upstream_problem);
        if (closing_) co_return false;
        ec = rec;
        if (ec) break;
        const int status = parser->get().result_int();
        if (status < 100 || status >= 200 || status == 101) break;
        co_await send_client(response_head(parser->get().base()));
      }
    }
    if (!ec) break;
    close_upstream();
    const bool stale = reused && attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::eof || is_reset(ec));
    if (stale) continue;
    const std::string why = upstream_problem.empty() ? ec.message() : upstream_problem;
    emit("http.upstream_error", {{"method", x.method}, {"path", x.target}, {"error", why}});
    const HttpAnswer failed{502, "application/json", http_error_body(-32603, "faultline: upstream: " + why)};
    co_await answer(x, failed, true);
    finish_exchange(x);
    co_return x.keep_alive;
  }

  auto& res = parser->get();
  const int status = res.result_int();
  const std::string response_session(res[kSessionHeader]);
  if (!response_session.empty() && x.session.empty()) {
    state_->adopt(x.key, response_session, number_);
    x.key = x.session = response_session;
  }
  if (status == 404 && !x.session.empty()) state_->note_lost(x.session, number_, status, false);
  const auto type = mcp::body_type(res[http::field::content_type]);
  nlohmann::json f = {{"method", x.method}, {"path", x.target}, {"status", status}, {"frames", x.frames},
                      {"ms", std::chrono::duration<double, std::milli>(Clock::now() - x.started).count()},
                      {"response", type == mcp::BodyType::event_stream ? "sse" : type == mcp::BodyType::json ? "json" : "other"}};
  if (!x.session.empty()) f["session"] = x.session;
  emit("http.request", std::move(f));

  const bool upstream_keep = parser->keep_alive();
  x.keep_alive = x.keep_alive && upstream_keep;
  auto watch = watch_client();
  bool keep = false;
  if (type == mcp::BodyType::event_stream && status / 100 == 2 && req.method() != http::verb::head) {
    keep = co_await relay_sse(*parser, x, std::move(replies));
  } else {
    keep = co_await relay_body(*parser, x, std::move(replies), req.method() == http::verb::head);
  }
  watch->emit(asio::cancellation_type::terminal);
  if (req.method() == http::verb::delete_ && status / 100 == 2 && !x.session.empty())
    state_->end_session(x.session, number_, Clock::now());
  if (!upstream_keep) close_upstream();
  finish_exchange(x);
  co_return keep && x.keep_alive;
}

asio::awaitable<bool> HttpSession::relay_body(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies,
                                              bool head_only) {
  auto self = shared_from_this();
  std::string body;
  const bool has_body = !head_only && !parser.is_done();
  while (!parser.is_done()) {
    char piece[kReadPiece];
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    auto [ec, n] = co_await http::async_read(server_, server_buffer_, parser, use_tuple);
    if (closing_) co_return false;
    if (ec == http::error::need_buffer) ec = {};
    body.append(piece, sizeof piece - parser.get().body().size);
    if (ec || body.size() > kMaxResponseBytes) {
      const bool cut = is_reset(ec) || ec == http::error::partial_message || ec == asio::error::eof;
      close(CloseMode::rst, cut ? By::server : By::proxy, cut ? "rst" : "error",
            "response body from server: " + (ec ? ec.message() : "larger than the limit"));
      co_return false;
    }
  }
  http::response<http::empty_body> head(parser.get().base());
  const bool json = mcp::body_type(head[http::field::content_type]) == mcp::BodyType::json;
  std::vector<WireFrame> frames;
  if (json && !body.empty()) frames = observe_body(body, x.key, x.session, mcp::Peer::server);

  const bool had_frames = !frames.empty();
  bool changed = false;
  if (had_frames) {
    std::vector<WireFrame> none;  // a response's faults answer nothing in the server's place
    changed = co_await through_frame_faults(Direction::downstream, x.key, frames, none);
    if (closing_) co_return false;
  }
  for (const auto& f : frames) state_->note_delivered(x.key, f.frame);
  if (!replies.empty()) {  // faults answered some of the request's messages: their answers come first
    frames.insert(frames.begin(), std::make_move_iterator(replies.begin()), std::make_move_iterator(replies.end()));
    changed = true;
    if (!had_frames) {
      head.result(http::status::ok);
      head.set(http::field::content_type, "application/json");
    }
  }
  if (changed) {
    if (frames.empty()) {  // every message dropped: the answer never comes
      head.result(http::status::accepted);
      head.erase(http::field::content_type);
      body.clear();
    } else {
      body = encode_frames(std::move(frames));
    }
  }
  const bool chunked = head.chunked();
  const bool delimited = chunked || head.has_content_length();
  if (changed && !chunked) head.content_length(body.size());
  std::string text = response_head(head.base());
  if (chunked) {
    if (!body.empty()) text += chunk(body);
    text += "0\r\n\r\n";
  } else {
    text += body;
  }
  co_await send_client(std::move(text));
  if (!delimited && has_body && !changed) co_return false;  // the body ended with the server's close: so does ours
  co_return true;
}

asio::awaitable<bool> HttpSession::relay_sse(ResponseParser& parser, Exchange& x, std::vector<WireFrame> replies) {
  auto self = shared_from_this();
  auto stream = std::make_shared<SseStream>();
  stream->number = state_->next_stream();
  stream->method = x.method;
  stream->target = x.target;
  stream->key = x.key;
  stream->session = x.session;
  http::response<http::empty_body> head(parser.get().base());
  if (head.version() == 11) {
    head.erase(http::field::content_length);
    head.chunked(true);
  } else {
    stream->chunked = false;
    head.erase(http::field::content_length);
    x.keep_alive = false;
  }
  co_await send_client(response_head(head.base()));
  if (closing_) co_return false;
  nlohmann::json open = {{"stream", stream->number}, {"method", x.method}, {"path", x.target}};
  if (!x.session.empty()) open["session"] = x.session;
  if (!x.last_event_id.empty()) open["last_event_id"] = x.last_event_id;
  open_stream_ = stream;  // from here on closed once: by the relay, or by close()
  emit("sse.open", std::move(open));
  if (x.method == "GET" && !x.session.empty()) state_->note_stream(x.session, number_, true, x.last_event_id);

  auto flow = make_flow(Direction::downstream, x.key, [self, stream](WireFrame f) -> asio::awaitable<void> {
    co_await self->write_sse_frame(*stream, std::move(f));
  });
  const bool transparent = flow->empty() && !has_http_faults(Direction::downstream);
  for (auto& r : replies) co_await write_sse_frame(*stream, std::move(r));

  mcp::SseDecoder decoder;
  std::vector<mcp::SseEvent> events;
  SseAction cut = SseAction::pass;
  std::string how = "end";
  while (!parser.is_done()) {
    char piece[kReadPiece];
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    parser.get().body().more = true;
    auto [ec, n] = co_await http::async_read_some(server_, server_buffer_, parser, use_tuple);
    if (closing_) co_return false;
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t got = sizeof piece - parser.get().body().size;
    stream->bytes += got;
    const std::string_view data(piece, got);
    events.clear();
    decoder.feed(data, events);
    const bool done = parser.is_done();
    if (ec || done) decoder.finish(events);
    if (transparent && !data.empty()) {
      std::string bytes_out = stream->chunked ? chunk(data) : std::string(data);
      co_await send_client(std::move(bytes_out));
    }
    for (auto& event : events) {
      cut = co_await deliver_event(*stream, *flow, transparent, std::move(event));
      if (cut != SseAction::pass || closing_) break;
    }
    if (closing_) co_return false;
    if (cut != SseAction::pass) {
      how = cut == SseAction::end_stream ? "fault_end" : "fault_close";
      break;
    }
    if (ec) {
      how = ec == http::error::partial_message || ec == asio::error::eof ? "server_cut" : "server_error";
      break;
    }
    if (done) break;
  }
  co_await flow->finish();
  if (closing_) co_return false;
  close_stream(*stream, how, "");
  if (how == "end") {
    if (stream->chunked) co_await send_client("0\r\n\r\n");
    co_return stream->chunked;
  }
  close_upstream();  // the server's response was cut or abandoned
  if (how == "fault_end") {
    co_await send_client("0\r\n\r\n");
    co_return true;
  }
  if (how == "fault_close") {
    co_await flush_client();
  } else {
    co_await end_streams(Direction::downstream);  // the server's close reaches the client through the byte faults
  }
  close(CloseMode::fin, how == "fault_close" ? By::proxy : By::server, how == "fault_close" ? "fault" : "fin",
        how == "fault_close" ? "close_sse fault cut the SSE stream" : "server cut the SSE stream");
  co_return false;
}

asio::awaitable<SseAction> HttpSession::deliver_event(SseStream& stream, Flow& flow, bool transparent,
                                                      mcp::SseEvent event) {
  ++stream.events;
  if (!event.complete) {
    emit("sse.invalid", {{"session", stream.session},
                         {"offset", event.offset},
                         {"bytes", event.raw.size()},
                         {"problem", event.problem.value_or("incomplete event")}});
  }
  // The legacy transport names its session in the first event: "endpoint", /message?sessionId=...
  if (event.event_type() == "endpoint" && stream.session.empty()) {
    const auto sid = query_param(event.data, "sessionId");
    if (!sid.empty()) {
      state_->adopt(stream.key, sid, number_);
      stream.key = stream.session = sid;
      stream.legacy = true;
      flow.key = sid;
      state_->note_stream(sid, number_, true, "");
      state_->note_legacy_session(sid, client_host());
    }
  }
  std::vector<mcp::Frame> decoded;
  mcp::decode_sse_frames(event, decoded);
  std::vector<WireFrame> frames;
  const auto at = Clock::now();
  for (auto& f : decoded) {
    WireFrame wf;
    wf.method = state_->observe(stream.key, number_, mcp::Peer::server, f, at, false);
    wf.frame = std::move(f);
    wf.arrival = at;
    wf.session = stream.session;
    frames.push_back(std::move(wf));
  }
  if (transparent) {  // already written as it arrived
    for (const auto& wf : frames) state_->note_delivered(stream.key, wf.frame);
    co_return SseAction::pass;
  }

  const auto id_before = event.id;
  const auto retry_before = event.retry;
  const auto slots = slots_;
  for (const auto& slot : slots) {
    if (!slot->http_stage() || slot->removed() || slot->direction() != Direction::downstream) continue;
    const bool matched = any_match(slot->frame_spec().match, frames, stream.session) && slot->roll();
    const auto action = slot->http_stage()->on_sse_event(event, matched, stream.first, *slot);
    if (action != SseAction::pass) co_return action;
  }
  stream.first = false;
  const bool edited = event.id != id_before || event.retry != retry_before;
  if (frames.empty() || flow.empty()) {
    for (const auto& wf : frames) state_->note_delivered(stream.key, wf.frame);
    co_await write_event(stream, event, edited);
    co_return SseAction::pass;
  }
  stream.recent[event.offset] = {event, edited};
  while (stream.recent.size() > kKeptEvents) stream.recent.erase(stream.recent.begin());
  for (auto& wf : frames) co_await flow.frame(std::move(wf));
  co_return SseAction::pass;
}

asio::awaitable<void> HttpSession::write_event(SseStream& stream, const mcp::SseEvent& event, bool edited) {
  std::string text;
  if (edited) {
    mcp::append_sse_event(event, text);
  } else {
    text = event.raw;
  }
  if (text.empty()) co_return;
  if (stream.chunked) text = chunk(text);
  co_await send_client(std::move(text));
}

// The sink of an SSE stream's chain: a frame goes out in the event it came in
// (as it was, or as a fault edited it), or in a new event of its own.
asio::awaitable<void> HttpSession::write_sse_frame(SseStream& stream, WireFrame frame) {
  state_->note_delivered(stream.key, frame.frame);
  auto it = stream.recent.find(frame.frame.offset);
  if (it != stream.recent.end() && !frame.frame.batch && frame.frame.raw == it->second.first.data) {
    co_await write_event(stream, it->second.first, it->second.second);
    co_return;
  }
  mcp::SseEvent event;
  if (it != stream.recent.end()) {
    event.id = it->second.first.id;
    event.type = it->second.first.type;
  }
  event.data = frame.frame.raw;
  event.has_data = true;
  co_await write_event(stream, event, true);
}

}  // namespace faultline
