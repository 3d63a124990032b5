// Frame and byte faults on a websocket session's directions: attaching,
// removing, and what a frame fault may do (WsFrameFault).

#include "proxy/ws_fault_attachment.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>

#include "proxy/link.hpp"
#include "proxy/ws_session_impl.hpp"

namespace faultline::ws {

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

void WsDirection::spawn_task(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  auto self = session_.shared_from_this();
  asio::co_spawn(session_.executor(), std::move(task), [self, this](std::exception_ptr e) {
    log_exception(e, "fault task");
    --pending_tasks_;
    tasks_done_.notify();
  });
}

}  // namespace faultline::ws
