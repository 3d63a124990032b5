// Frame and byte faults on a stdio run's directions: attaching and removing
// them (live, from the run's FaultBook), and what a frame fault may do to a
// direction (its FrameOutlet).

#include <algorithm>

#include <boost/asio/co_spawn.hpp>

#include "proxy/stdio_direction.hpp"

namespace faultline::stdio {

asio::awaitable<void> StdioDirection::emit(WireFrame frame) { co_await write(std::move(frame)); }

asio::awaitable<void> StdioDirection::reply(WireFrame frame, const FaultSpec&) {
  const Direction back = other(dir_);
  run_.observe(sender_of(back), frame.frame, Clock::now(), true);
  co_await run_.dir(back).write(std::move(frame));
}

bool StdioDirection::signal_server(int signo, const FaultSpec& fault) {
  return run_.signal_server(signo, "fault " + fault.name);
}

void StdioDirection::close_output(std::string_view reason, const FaultSpec&) { close_output(reason); }

void StdioDirection::rebuild_chains() {
  chain_ = std::make_shared<FrameChain>(
      std::vector<std::shared_ptr<AttachedFrameStage>>(frame_faults_.begin(), frame_faults_.end()), *this);
  byte_chain_ = byte_faults_.empty()
                    ? nullptr
                    : std::make_shared<FaultChain>(
                          std::vector<std::shared_ptr<AttachedStage>>(byte_faults_.begin(), byte_faults_.end()),
                          byte_out_);
}

void StdioDirection::attach(const FaultPtr& spec, std::optional<std::size_t> position) {
  auto self = run_.shared_from_this();
  if (spec->is_frame()) {
    auto fault = std::make_shared<AttachedFrameFault>(std::make_shared<FrameFaultSlot>(run_, spec), *this);
    const auto at = position ? std::min(*position, frame_faults_.size()) : frame_faults_.size();
    frame_faults_.insert(frame_faults_.begin() + static_cast<std::ptrdiff_t>(at), fault);
    rebuild_chains();
    AttachedFrameFault::start(fault, self);
    return;
  }
  // A byte fault on the bytes this direction writes, after its frame faults;
  // the run is one connection, so it is rolled once.
  auto fault = std::make_shared<AttachedByteFault>(run_, dir_, spec);
  const auto at = position ? std::min(*position, byte_faults_.size()) : byte_faults_.size();
  byte_faults_.insert(byte_faults_.begin() + static_cast<std::ptrdiff_t>(at), fault);
  rebuild_chains();
  AttachedByteFault::start(fault, self);
}

std::optional<std::size_t> StdioDirection::detach(const FaultSpec& spec) {
  for (std::size_t i = 0; i < frame_faults_.size(); ++i) {
    if (&frame_faults_[i]->spec() != &spec) continue;
    frame_faults_[i]->slot().remove();  // a message it holds moves on now
    frame_faults_.erase(frame_faults_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chains();
    return i;
  }
  for (std::size_t i = 0; i < byte_faults_.size(); ++i) {
    if (&byte_faults_[i]->spec() != &spec) continue;
    byte_faults_[i]->remove();  // bytes it holds move on now
    byte_faults_.erase(byte_faults_.begin() + static_cast<std::ptrdiff_t>(i));
    rebuild_chains();
    return i;
  }
  return std::nullopt;
}

void StdioDirection::spawn(std::function<asio::awaitable<void>()> task) {
  ++pending_tasks_;
  auto self = run_.shared_from_this();
  asio::co_spawn(run_.executor(), std::move(task), [self, this](std::exception_ptr e) {
    log_exception(e, "fault task");
    --pending_tasks_;
    tasks_done_.notify();
  });
}

}  // namespace faultline::stdio
