#include "proxy/attached_frame_fault.hpp"

namespace faultline {

FrameFaultSlot::FrameFaultSlot(FaultHost& host, FaultPtr spec)
    : host_(host),
      spec_(std::move(spec)),
      rng_(derive_seed(host.run_seed(), host.link_name(), spec_->name, host.number())),
      counters_(host.fault_counters(spec_->name, spec_->type)) {}

bool FrameFaultSlot::roll(const WireFrame* frame) {
  // A fault whose count is spent stays attached (what it holds finishes) but rolls no more.
  if (removed_ || (spec_->budget && spec_->budget->spent())) return false;
  const auto roll = roll_fault(rng_, frame_spec().probability, spec_->budget.get());
  if (roll.worth_recording()) {
    nlohmann::json fields = {{"fault", spec_->name},
                             {"type", spec_->type},
                             {"direction", to_string(spec_->direction)},
                             {"probability", frame_spec().probability}};
    if (frame) fields.update(describe(*frame));
    fields.update(roll.to_json());
    host_.emit_fault_event("fault.decision", std::move(fields));
  }
  return roll.applied;
}

asio::awaitable<bool> FrameFaultSlot::wait_until(Clock::time_point deadline) {
  if (removed_ || host_.closing()) co_return false;
  const bool on_time = co_await waits_.wait(host_.executor(), deadline);
  co_return on_time && !removed_ && !host_.closing();
}

void FrameFaultSlot::injected(nlohmann::json detail) {
  ++counters_->injections;
  if (detail.is_null()) return;  // counted, not recorded
  nlohmann::json fields = {{"fault", spec_->name}, {"type", spec_->type}, {"direction", to_string(spec_->direction)}};
  if (detail.is_object()) fields.update(detail);
  host_.emit_fault_event("fault.inject", std::move(fields));
}

asio::awaitable<bool> AttachedFrameFault::wait_until(Clock::time_point deadline) {
  if (outlet_.flushing()) co_return false;
  const bool on_time = co_await slot_->wait_until(deadline);
  co_return on_time && !outlet_.flushing();
}

void AttachedFrameFault::start(const std::shared_ptr<AttachedFrameFault>& fault, std::shared_ptr<void> owner) {
  // A fault acting on time is rolled once, here; messages are rolled one by one.
  if (!fault->stage().acts_on_time() || !fault->slot().roll(nullptr)) return;
  spawn_on_attach(fault->slot().host().executor(), fault->spec().name,
                  [fault, owner]() -> boost::asio::awaitable<void> { co_await fault->stage().on_attach(*fault); });
}

}  // namespace faultline
