// How a websocket session ends other than by both peers closing their
// streams: a close frame, a protocol violation, a fault closing it, a drain
// or a shutdown of the proxy.

#include "proxy/ws_session_impl.hpp"

#include "proxy/link.hpp"

namespace faultline::ws {

namespace {
// After faultline closes a WebSocket (bad input, a fault), how long the peers
// get to end their TCP streams before the sockets are closed.
constexpr auto kCloseTimeout = std::chrono::seconds(5);
}  // namespace

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
    d->detach_all();
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

}  // namespace faultline::ws
