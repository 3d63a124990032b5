#include "proxy/connection.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "core/rng.hpp"
#include "proxy/link.hpp"
#include "proxy/session_socket.hpp"

namespace faultline {

using asio::ip::tcp;
namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxChunk = 256 * 1024;
constexpr std::size_t kMinChunk = 2048;
constexpr std::size_t kBulkChunk = 128 * 1024;  // read size while data keeps coming
constexpr std::size_t kRelayBytes = 64 * 1024;  // the per-thread buffer of the direct relay
// Read-ahead per direction with no fault attached: the sockets' own buffers do
// the rest. With faults, the reader keeps stamping arrivals up to the
// configured limit, so a latency fault measures from the real arrival.
constexpr std::size_t kPlainQueueBytes = 512 * 1024;

std::string_view by_name(Connection::By by) {
  switch (by) {
    case Connection::By::client: return "client";
    case Connection::By::server: return "server";
    case Connection::By::proxy: return "proxy";
  }
  return "proxy";
}

Connection::By sender_of(Direction d) {
  return d == Direction::upstream ? Connection::By::client : Connection::By::server;
}
Connection::By receiver_of(Direction d) {
  return d == Direction::upstream ? Connection::By::server : Connection::By::client;
}

}  // namespace

// ---------------------------------------------------------------- Pipe

Pipe::Pipe(Connection& conn, Direction dir, tcp::socket& from, tcp::socket& to)
    : conn_(conn), dir_(dir), from_(from), to_(to), space_ready_(from.get_executor()) {
  rebuild_chain();
}

void Pipe::rebuild_chain() {
  std::vector<std::shared_ptr<AttachedStage>> stages(attached_.begin(), attached_.end());
  chain_ = std::make_shared<FaultChain>(std::move(stages), *this);
}

void Pipe::attach(std::shared_ptr<const FaultSpec> spec, std::optional<std::size_t> position) {
  auto fault = std::make_shared<AttachedByteFault>(conn_, dir_, std::move(spec));
  const auto at = position ? std::min(*position, attached_.size()) : attached_.size();
  attached_.insert(attached_.begin() + static_cast<std::ptrdiff_t>(at), fault);
  rebuild_chain();
  AttachedByteFault::start(fault, conn_.shared_from_this());
}

std::optional<std::size_t> Pipe::detach(const FaultSpec& spec) {
  for (std::size_t i = 0; i < attached_.size(); ++i) {
    if (&attached_[i]->spec() != &spec) continue;
    attached_[i]->remove();
    attached_.erase(attached_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chain();
    return i;
  }
  return std::nullopt;
}

void Pipe::wake() {
  for (auto& f : attached_) f->cancel_waits();
  space_ready_.notify();
}

asio::awaitable<void> Pipe::read_loop() {
  auto self = conn_.shared_from_this();
  bool bulk = false;  // the last read filled its buffer: more is probably waiting
  while (!conn_.closing()) {
    if (queued_bytes_ >= queue_limit()) {
      co_await space_ready_.wait();
      continue;
    }
    boost::system::error_code ec;
    std::size_t want = kBulkChunk;
    if (!bulk) {
      // Wait for readability first, so an idle connection holds no buffer.
      auto [wait_ec] = co_await from_.async_wait(tcp::socket::wait_read, use_tuple);
      if (conn_.closing()) break;
      ec = wait_ec;
      if (!ec && !pump_running_ && chain_->empty()) {
        // Nothing queued and no fault: relay from a per-thread buffer, read and
        // written at once on the non-blocking sockets; no allocation, no pump.
        const auto relayed = relay_now(ec);
        if (!ec) {
          if (relayed) bulk = *relayed == kRelayBytes;
          continue;
        }
      } else if (!ec) {
        boost::system::error_code avail_ec;
        want = std::clamp<std::size_t>(from_.available(avail_ec), kMinChunk, kMaxChunk);
      }
    }
    Chunk chunk;
    std::size_t n = 0;
    if (!ec) {
      chunk.bytes.resize(want);
      std::tie(ec, n) = co_await from_.async_read_some(asio::buffer(chunk.bytes), use_tuple);
    }
    if (conn_.closing()) break;
    if (ec) {
      StreamEnd end;
      end.kind = ec == asio::error::eof ? StreamEnd::fin : is_reset(ec) ? StreamEnd::rst : StreamEnd::error;
      end.ec = ec;
      conn_.note_end(dir_, end);
      enqueue(Item{{}, end});
      co_return;
    }
    bulk = n == want && n >= kBulkChunk;
    chunk.arrival = Clock::now();
    chunk.bytes.resize(n);
    if (!pump_running_ && chain_->empty() && write_now(chunk)) continue;
    queued_bytes_ += chunk.bytes.size();
    enqueue(Item{std::move(chunk), std::nullopt});
  }
}

std::optional<std::size_t> Pipe::relay_now(boost::system::error_code& ec) {
  thread_local std::vector<char> buffer(kRelayBytes);  // used between two suspensions only
  const auto n = from_.read_some(asio::buffer(buffer), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec.clear();
    return std::nullopt;
  }
  if (ec) return std::nullopt;  // the stream's end: the caller records it
  boost::system::error_code write_ec;
  const auto written = to_.write_some(asio::buffer(buffer.data(), n), write_ec);
  const std::size_t done = write_ec ? 0 : written;  // an error is the pump's write to report
  count_written(done);
  if (done < n) {
    Chunk rest;
    rest.arrival = Clock::now();
    rest.bytes.assign(buffer.data() + done, buffer.data() + n);
    queued_bytes_ += rest.bytes.size();
    enqueue(Item{std::move(rest), std::nullopt});
  }
  return n;
}

std::size_t Pipe::queue_limit() const {
  return chain_->empty() ? kPlainQueueBytes : conn_.link().env().max_queued_bytes;
}

void Pipe::count_written(std::size_t n) {
  bytes_ += n;
  auto& stats = conn_.link().stats();
  (dir_ == Direction::upstream ? stats.bytes_upstream : stats.bytes_downstream) += n;
}

bool Pipe::write_now(Chunk& chunk) {
  // Nothing queued and no fault: pass the bytes on from the reader, without
  // starting a pump (a request/response round trip saves a coroutine start and
  // a scheduler pass). What the socket does not take now goes to the pump.
  boost::system::error_code ec;
  const auto n = to_.write_some(asio::buffer(chunk.bytes), ec);
  if (ec) return false;  // would block, or an error the pump's write will report
  count_written(n);
  if (n == chunk.bytes.size()) return true;
  chunk.bytes.erase(chunk.bytes.begin(), chunk.bytes.begin() + static_cast<std::ptrdiff_t>(n));
  return false;
}

void Pipe::enqueue(Item item) {
  queue_.push_back(std::move(item));
  if (pump_running_) return;
  pump_running_ = true;
  conn_.spawn(pump_loop());
}

asio::awaitable<void> Pipe::pump_loop() {
  auto self = conn_.shared_from_this();
  while (!conn_.closing() && head_ < queue_.size()) {
    Item item = std::move(queue_[head_++]);
    if (head_ == queue_.size()) {  // drained: start over, and give back a burst's worth of slots
      queue_.clear();
      head_ = 0;
      if (queue_.capacity() > 64) queue_.shrink_to_fit();
    }
    queued_bytes_ -= item.chunk.bytes.size();
    if (queued_bytes_ <= queue_limit() / 2) space_ready_.notify();  // hysteresis: one wake per half-queue
    auto chain = chain_;  // this chunk finishes its way through the chain it entered
    if (item.end) {
      co_await chain->end(0, *item.end);
      break;
    }
    co_await chain->data(0, std::move(item.chunk));
  }
  pump_running_ = false;
}

asio::awaitable<void> Pipe::write(Chunk chunk) {
  if (conn_.closing() || chunk.bytes.empty()) co_return;
  auto [ec, n] = co_await asio::async_write(to_, asio::buffer(chunk.bytes), use_tuple);
  count_written(n);
  if (ec && !conn_.closing()) {
    conn_.close(CloseMode::rst, receiver_of(dir_), is_reset(ec) ? "rst" : "error",
                "write to " + std::string(by_name(receiver_of(dir_))) + ": " + ec.message());
  }
}

asio::awaitable<void> Pipe::end(StreamEnd end) {
  if (conn_.closing()) co_return;
  if (end.kind == StreamEnd::fin) {
    boost::system::error_code ec;
    to_.shutdown(tcp::socket::shutdown_send, ec);
    conn_.pipe_finished(dir_);
  } else {
    // A reset or an error on one side is passed on as a reset to the other.
    conn_.close(CloseMode::rst, sender_of(dir_), std::string(to_string(end.kind)),
                std::string(by_name(sender_of(dir_))) + ": " + end.ec.message());
  }
  co_return;
}

// ---------------------------------------------------------------- Connection

std::shared_ptr<LinkSession> make_tcp_session(SessionStart start) {
  return std::make_shared<Connection>(std::move(start));
}

Connection::Connection(SessionStart start)
    : link_(std::move(start.link)),
      client_(std::move(start.client)),
      server_(client_.get_executor()),
      number_(start.number),
      upstream_(std::move(start.upstream)),
      up_(*this, Direction::upstream, client_, server_),
      down_(*this, Direction::downstream, server_, client_),
      opened_at_(Clock::now()) {}

Connection::~Connection() = default;

void Connection::start(std::vector<std::shared_ptr<const FaultSpec>> faults) {
  client_address_ = endpoint_text(client_, true);
  ++link_->stats().connections_total;
  ++link_->stats().connections_open;
  link_->env().events.emit(link_->source(), "conn.open",
                           {{"conn", number_}, {"client", client_address_}, {"listen", endpoint_text(client_, false)}});
  initial_faults_ = std::move(faults);
  spawn(run());
}

asio::awaitable<void> Connection::run() {
  auto self = shared_from_this();
  boost::system::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  for (const auto& spec : initial_faults_) attach(spec);
  initial_faults_.clear();
  if (closing_) co_return;

  // Faults that act before the upstream connection opens (slow_open).
  for (auto* p : {&up_, &down_}) {
    auto faults = p->attached();
    for (auto& f : faults)
      if (f->active() && !closing_) co_await f->stage().before_connect(f->context());
  }
  if (closing_) co_return;

  const auto& upstream = upstream_;
  tcp::resolver resolver(client_.get_executor());
  auto [rec, endpoints] = co_await resolver.async_resolve(upstream.host, std::to_string(upstream.port), use_tuple);
  if (closing_) co_return;
  if (rec) {
    ++link_->stats().connections_failed;
    close(CloseMode::fin, By::proxy, "error", "upstream " + upstream.to_string() + " does not resolve: " + rec.message());
    co_return;
  }
  const auto cec = co_await connect_upstream(server_, endpoints);
  if (closing_) co_return;
  if (cec) {
    ++link_->stats().connections_failed;
    spdlog::warn("{}: connection {}: upstream {}: {}", link_->name(), number_, upstream.to_string(), cec.message());
    close(CloseMode::rst, By::proxy, "error", "upstream " + upstream.to_string() + ": " + cec.message());
    co_return;
  }
  server_.set_option(tcp::no_delay(true), ignored);
  // Non-blocking, so the readers can read and write at once when the socket is ready.
  client_.non_blocking(true, ignored);
  server_.non_blocking(true, ignored);
  upstream_connected_ = true;
  link_->env().events.emit(link_->source(), "conn.upstream",
                           {{"conn", number_}, {"upstream", endpoint_text(server_, true)}});

  spawn(up_.read_loop());
  spawn(down_.read_loop());
}

void Connection::spawn(asio::awaitable<void> work) {
  asio::co_spawn(client_.get_executor(), std::move(work), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& err) {
      self->close(CloseMode::rst, By::proxy, "error", std::string("internal error: ") + err.what());
    }
  });
}

void Connection::attach(const FaultPtr& spec) {
  if (closing_ || draining_ || spec->is_frame()) return;
  pipe(spec->direction).attach(spec);
}

void Connection::detach(const FaultPtr& spec) {
  up_.detach(*spec);
  down_.detach(*spec);
}

void Connection::replace(const FaultPtr& before, const FaultPtr& after) {
  std::optional<std::size_t> position;
  for (auto* p : {&up_, &down_}) {
    if (auto at = p->detach(*before); at && p->direction() == after->direction) position = at;
  }
  if (!closing_ && !draining_ && !after->is_frame()) pipe(after->direction).attach(after, position);
}

void Connection::shut_down(const std::string& reason) { close(CloseMode::fin, By::proxy, "shutdown", reason); }

void Connection::drain(std::chrono::milliseconds grace, const std::string& reason) {
  if (closing_ || draining_) return;
  draining_ = true;
  close_reason_ = reason;
  if (!first_by_) {
    first_by_ = By::proxy;
    first_how_ = "drain";
  }
  if (!upstream_connected_) {  // nothing relayed yet
    close(CloseMode::fin, By::proxy, "shutdown", reason);
    return;
  }
  for (auto* p : {&up_, &down_}) {
    const auto attached = p->attached();
    for (const auto& f : attached) p->detach(f->spec());
  }
  boost::system::error_code ignored;
  client_.shutdown(tcp::socket::shutdown_receive, ignored);
  server_.shutdown(tcp::socket::shutdown_receive, ignored);
  drain_timer_ = std::make_unique<asio::steady_timer>(executor(), grace);
  drain_timer_->async_wait([self = shared_from_this(), reason](boost::system::error_code ec) {
    if (!ec) self->close(CloseMode::fin, By::proxy, "shutdown", reason + " (drain timed out)");
  });
}

void Connection::note_end(Direction dir, const StreamEnd& end) {
  if (first_by_) return;
  first_by_ = sender_of(dir);
  first_how_ = std::string(to_string(end.kind));
}

void Connection::pipe_finished(Direction) {
  if (++pipes_finished_ == 2)
    close(CloseMode::fin, first_by_.value_or(By::proxy), "fin", draining_ ? close_reason_ : "both sides closed");
}

void Connection::close(CloseMode mode, By by, std::string how, std::string reason) {
  if (closing_) return;
  closing_ = true;
  if (!first_by_) {
    first_by_ = by;
    first_how_ = std::move(how);
  }
  close_reason_ = std::move(reason);
  if (drain_timer_) drain_timer_->cancel();
  for (auto* s : {&client_, &server_}) close_socket(*s, mode);
  up_.wake();
  down_.wake();
  emit_close();
}

void Connection::emit_close() {
  if (close_emitted_) return;
  close_emitted_ = true;
  const double duration = std::chrono::duration<double>(Clock::now() - opened_at_).count();
  link_->env().events.emit(link_->source(), "conn.close",
                           {{"conn", number_},
                            {"client", client_address_},
                            {"closed_by", by_name(first_by_.value_or(By::proxy))},
                            {"how", first_how_},
                            {"reason", close_reason_},
                            {"bytes_upstream", up_.bytes()},
                            {"bytes_downstream", down_.bytes()},
                            {"duration_s", duration}});
  --link_->stats().connections_open;
  link_->session_closed(number_);
}

}  // namespace faultline
