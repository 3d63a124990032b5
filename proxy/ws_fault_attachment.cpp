// Frame and byte faults on a websocket session's directions: attaching and
// removing them, and what a frame fault may do to a direction (its
// FrameOutlet and WsOutlet).

#include <algorithm>

#include <boost/asio/co_spawn.hpp>

#include "proxy/link.hpp"
#include "proxy/ws_session_impl.hpp"

namespace faultline::ws {

asio::awaitable<void> WsDirection::emit(WireFrame frame) { co_await write(std::move(frame)); }

asio::awaitable<void> WsDirection::reply(WireFrame frame, const FaultSpec&) {
  const Direction back = other(dir_);
  session_.observe(peer_of(back), frame.frame, Clock::now(), true);
  co_await session_.dir(back).write(std::move(frame));
}

void WsDirection::close_output(std::string_view reason, const FaultSpec& fault) {
  session_.close_by_fault(dir_, mcp::ws_close_code::going_away, reason, fault.name);
}

void WsDirection::close_websocket(int code, std::string_view reason, const FaultSpec& fault) {
  session_.close_by_fault(dir_, code, reason, fault.name);
}

asio::awaitable<void> WsDirection::emit_fragmented(WireFrame frame, std::vector<std::size_t> sizes) {
  co_await write_fragmented(std::move(frame), std::move(sizes));
}

void WsDirection::rebuild_chains() {
  frame_chain_ = std::make_shared<FrameChain>(
      std::vector<std::shared_ptr<AttachedFrameStage>>(frame_faults_.begin(), frame_faults_.end()), *this);
  byte_chain_ = std::make_shared<FaultChain>(
      std::vector<std::shared_ptr<AttachedStage>>(byte_faults_.begin(), byte_faults_.end()), wire_);
}

void WsDirection::attach(const FaultPtr& spec, std::optional<std::size_t> position) {
  auto self = session_.shared_from_this();
  if (spec->is_frame()) {
    auto fault = std::make_shared<AttachedFrameFault>(std::make_shared<FrameFaultSlot>(session_, spec), *this);
    const auto at = position ? std::min(*position, frame_faults_.size()) : frame_faults_.size();
    frame_faults_.insert(frame_faults_.begin() + static_cast<std::ptrdiff_t>(at), fault);
    rebuild_chains();
    AttachedFrameFault::start(fault, self);
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

std::optional<std::size_t> WsDirection::detach(const FaultSpec& spec) {
  for (std::size_t i = 0; i < frame_faults_.size(); ++i) {
    if (&frame_faults_[i]->spec() != &spec) continue;
    frame_faults_[i]->slot().remove();
    frame_faults_.erase(frame_faults_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chains();
    return i;
  }
  for (std::size_t i = 0; i < byte_faults_.size(); ++i) {
    if (&byte_faults_[i]->spec() != &spec) continue;
    byte_faults_[i]->remove();
    byte_faults_.erase(byte_faults_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chains();
    return i;
  }
  return std::nullopt;
}

void WsDirection::detach_all() {
  while (!frame_faults_.empty()) detach(frame_faults_.front()->spec());
  while (!byte_faults_.empty()) detach(byte_faults_.front()->spec());
}

bool WsDirection::pass_control(WsControl kind) {
  for (const auto& f : frame_faults_) {
    auto* control = dynamic_cast<WsControlStage*>(&f->stage());
    if (!control || !f->active() || !f->select_unmatched()) continue;
    if (!control->pass_control(kind, *f)) return false;
  }
  return true;
}

void WsDirection::spawn(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  auto self = session_.shared_from_this();
  asio::co_spawn(session_.executor(), std::move(task), [self, this](std::exception_ptr e) {
    log_exception(e, "fault task");
    --pending_tasks_;
    tasks_done_.notify();
  });
}

}  // namespace faultline::ws
