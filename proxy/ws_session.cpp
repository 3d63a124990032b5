// A websocket session's lifecycle: start, live fault changes, its record
// (events, the session's messages) and its end once both peers are done.

#include "proxy/ws_session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "proxy/link.hpp"
#include "proxy/session_socket.hpp"
#include "proxy/ws_session_impl.hpp"

namespace faultline {

std::shared_ptr<LinkSession> make_websocket_session(SessionStart start) {
  return std::make_shared<ws::WsSession>(std::move(start));
}

namespace ws {

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("websocket {}: {}", what, ex.what());
  }
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

void WsSession::attach(const FaultPtr& spec) {
  if (closing_ || draining_) return;
  dir(spec->direction).attach(spec);
}

void WsSession::detach(const FaultPtr& spec) {
  up_.detach(*spec);
  down_.detach(*spec);
}

void WsSession::replace(const FaultPtr& before, const FaultPtr& after) {
  std::optional<std::size_t> position;
  for (auto* d : {&up_, &down_}) {
    if (auto at = d->detach(*before); at && d->direction() == after->direction) position = at;
  }
  if (!closing_ && !draining_) dir(after->direction).attach(after, position);
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

}  // namespace ws
}  // namespace faultline
