#include "proxy/attached_fault.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "core/rng.hpp"
#include "proxy/link.hpp"
#include "proxy/precise_wait.hpp"

namespace faultline {

std::uint64_t LinkFaultHost::run_seed() { return link().env().seed; }

const std::string& LinkFaultHost::link_name() { return link().name(); }

std::shared_ptr<FaultCounters> LinkFaultHost::fault_counters(const std::string& name, const std::string& type) {
  return link().stats().fault(name, type);
}

void LinkFaultHost::emit_fault_event(std::string kind, nlohmann::json fields) {
  fields["conn"] = number();
  link().env().events.emit(link().source(), std::move(kind), std::move(fields));
}

boost::asio::awaitable<bool> FaultWaits::wait(boost::asio::any_io_executor ex, Clock::time_point deadline) {
  boost::asio::steady_timer timer(std::move(ex));
  timers_.push_back(&timer);
  const auto ec = co_await precise_wait(timer, deadline);
  timers_.erase(std::find(timers_.begin(), timers_.end(), &timer));
  co_return !ec;
}

void FaultWaits::cancel_all() {
  for (auto* t : timers_) t->cancel();
}

AttachedByteFault::AttachedByteFault(FaultHost& host, Direction dir, std::shared_ptr<const FaultSpec> spec)
    : host_(host),
      dir_(dir),
      spec_(std::move(spec)),
      stage_(spec_->fault->instantiate()),
      rng_(derive_seed(host.run_seed(), host.link_name(), spec_->name, host.number())),
      counters_(host.fault_counters(spec_->name, spec_->type)) {
  const auto roll = roll_fault(rng_, spec_->toxicity, spec_->budget.get(), /*always_draw=*/true);
  selected_ = roll.applied;
  ++(selected_ ? counters_->connections_selected : counters_->connections_skipped);
  nlohmann::json fields = {
      {"fault", spec_->name}, {"type", spec_->type}, {"direction", to_string(dir_)}, {"toxicity", spec_->toxicity}};
  fields.update(roll.to_json());
  host_.emit_fault_event("fault.decision", std::move(fields));
}

boost::asio::awaitable<bool> AttachedByteFault::wait_until(Clock::time_point deadline) {
  if (removed_ || host_.closing()) co_return false;
  const bool on_time = co_await waits_.wait(host_.executor(), deadline);
  co_return on_time && !removed_ && !host_.closing();
}

void AttachedByteFault::injected(nlohmann::json detail) {
  ++counters_->injections;
  if (detail.is_null()) return;  // counted, not recorded (a fault records its first injection, say)
  nlohmann::json fields = {{"fault", spec_->name}, {"type", spec_->type}, {"direction", to_string(dir_)}};
  if (detail.is_object()) fields.update(detail);
  host_.emit_fault_event("fault.inject", std::move(fields));
}

void AttachedByteFault::close_connection(CloseMode mode, std::string_view reason) {
  host_.close_for_fault(mode, std::string(reason) + " (" + spec_->name + ")");
}

void spawn_on_attach(boost::asio::any_io_executor executor, std::string fault,
                     std::function<boost::asio::awaitable<void>()> work) {
  boost::asio::co_spawn(std::move(executor), std::move(work), [fault = std::move(fault)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("fault {}: {}", fault, ex.what());
    }
  });
}

void AttachedByteFault::start(const std::shared_ptr<AttachedByteFault>& fault, std::shared_ptr<void> session) {
  if (!fault->selected_) return;
  spawn_on_attach(fault->host_.executor(), fault->spec_->name,
                  [fault, session]() -> boost::asio::awaitable<void> { co_await fault->stage().on_attach(*fault); });
}

}  // namespace faultline
