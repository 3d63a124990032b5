#include "proxy/http_session.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>

#include "proxy/http_session_impl.hpp"
#include "proxy/link.hpp"

namespace faultline {

std::shared_ptr<LinkSession> make_http_session(SessionStart start) {
  return std::make_shared<http_link::HttpSession>(std::move(start));
}

namespace http_link {

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

void HttpSession::emit(std::string kind, nlohmann::json fields) {
  fields["conn"] = number_;
  link_->env().events.emit(link_->source(), std::move(kind), std::move(fields));
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

// ---------------------------------------------------------------- faults attached

void HttpSession::attach(const FaultPtr& spec) {
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

void HttpSession::detach(const FaultPtr& spec) {
  for (auto it = byte_slots_.begin(); it != byte_slots_.end(); ++it) {
    if (&(*it)->spec() != spec.get()) continue;
    (*it)->remove();  // what it holds is passed on
    byte_slots_.erase(it);
    rebuild_byte_chains();
    return;
  }
  for (auto it = slots_.begin(); it != slots_.end(); ++it) {
    if (&(*it)->spec() != spec.get()) continue;
    (*it)->remove();  // held frames are passed on at once
    slots_.erase(it);
    return;
  }
}

void HttpSession::replace(const FaultPtr& before, const FaultPtr& after) {
  if (std::any_of(byte_slots_.begin(), byte_slots_.end(), [&](const auto& b) { return &b->spec() == before.get(); })) {
    detach(before);
    attach(after);
    return;
  }
  for (auto& slot : slots_) {
    if (&slot->spec() != before.get()) continue;
    if (after->is_frame() && !closing_ && !draining_) {
      slot->remove();
      slot = std::make_shared<FaultSlot>(*this, after);  // in its place
    } else {
      detach(before);
      attach(after);
    }
    return;
  }
  attach(after);
}

// ---------------------------------------------------------------- the request loop

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
    RequestParser parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(max_body_);
    std::string problem;
    idle_ = client_buffer_.size() == 0;
    const auto ec = co_await feed(client_, client_buffer_, parser, false, problem);
    idle_ = false;
    if (closing_) break;
    if (ec) {
      co_await request_failed(ec, parser, problem);
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

asio::awaitable<void> HttpSession::request_failed(boost::system::error_code ec, const RequestParser& parser,
                                                  const std::string& problem) {
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
}

// ---------------------------------------------------------------- drain and close

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

}  // namespace http_link
}  // namespace faultline
