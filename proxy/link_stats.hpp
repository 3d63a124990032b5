#pragma once
// Counters of one link, for the report and /metrics: connections, bytes per
// direction, and injections per fault. Sessions on worker threads update them,
// so every counter is atomic; a fault's counters are shared by the link and
// the sessions it is attached to.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace faultline {

struct FaultCounters {
  std::string type;
  std::atomic<std::uint64_t> injections{0};
  std::atomic<std::uint64_t> connections_selected{0};  // connections whose probability roll chose this fault
  std::atomic<std::uint64_t> connections_skipped{0};
};

struct FaultCountersView {
  std::string type;
  std::uint64_t injections = 0;
  std::uint64_t connections_selected = 0;
  std::uint64_t connections_skipped = 0;
};

class LinkStats {
 public:
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_failed{0};  // upstream unreachable and the like
  std::atomic<std::uint64_t> bytes_upstream{0};
  std::atomic<std::uint64_t> bytes_downstream{0};

  // The counters of the fault named `name` (made on first use). Kept after
  // the fault is removed, so totals survive.
  std::shared_ptr<FaultCounters> fault(const std::string& name, const std::string& type) {
    std::lock_guard lock(mutex_);
    auto& slot = faults_[name];
    if (!slot) slot = std::make_shared<FaultCounters>();
    if (slot->type.empty()) slot->type = type;
    return slot;
  }
  // A snapshot of every fault's counters, by fault name.
  std::map<std::string, FaultCountersView> faults() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, FaultCountersView> out;
    for (const auto& [name, c] : faults_)
      out[name] = {c->type, c->injections.load(), c->connections_selected.load(), c->connections_skipped.load()};
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<FaultCounters>> faults_;
};

}  // namespace faultline
