// Frame and byte faults on a stdio run's directions: attaching them, and what
// a frame fault may do (AttachedFrameFault).

#include "proxy/stdio_fault_attachment.hpp"

#include <boost/asio/co_spawn.hpp>

#include "proxy/stdio_direction.hpp"

namespace faultline::stdio {

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

void StdioDirection::attach(const FrameFaultSpec& spec) {
  auto fault = std::make_shared<AttachedFrameFault>(run_, *this, spec);
  attached_.push_back(fault);
  chain_ = std::make_shared<FrameChain>(
      std::vector<std::shared_ptr<AttachedFrameStage>>(attached_.begin(), attached_.end()), *this);
  run_.emit("fault.attach", spec.to_json());
  // A fault acting on time (after_ms) is rolled once, here; frames are rolled one by one.
  const bool selected = spec.probability >= 1.0 || fault->rng().chance(spec.probability);
  if (!selected) return;
  auto self = run_.shared_from_this();
  asio::co_spawn(
      run_.executor(), [self, fault]() -> asio::awaitable<void> { co_await fault->stage().on_attach(*fault); },
      [](std::exception_ptr e) { log_exception(e, "fault"); });
}

void StdioDirection::start_chain() {
  if (!chain_) chain_ = std::make_shared<FrameChain>(std::vector<std::shared_ptr<AttachedFrameStage>>{}, *this);
}

void StdioDirection::attach_bytes(const FaultSpec& spec) {
  auto fault = std::make_shared<AttachedByteFault>(run_, dir_, std::make_shared<const FaultSpec>(spec));
  byte_faults_.push_back(fault);
  byte_chain_ = std::make_shared<FaultChain>(
      std::vector<std::shared_ptr<AttachedStage>>(byte_faults_.begin(), byte_faults_.end()), byte_out_);
  run_.emit("fault.attach", spec.to_json());
  AttachedByteFault::start(fault, run_.shared_from_this());
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

}  // namespace faultline::stdio
