#pragma once
// When a fault acts, the same for every fault type on every transport:
// `after` (it starts this long after it was added to its link), `for` (it
// ends itself this long after it started) and `count` (it ends itself once it
// has acted this many times). A link keeps the time (proxy/fault_book.hpp);
// the count is a FaultBudget shared by every session the fault acts on, taken
// where the fault's probability is rolled, so no more than `count` injections
// happen however many sessions race for the last one.
//
// What counts as acting once: a frame fault acting on one message (or, for a
// fault that acts on time, firing once); a byte fault being chosen for one
// connection (it then acts on that connection until it closes).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace faultline {

struct FaultSchedule {
  std::optional<std::chrono::milliseconds> after;
  std::optional<std::chrono::milliseconds> for_;  // `for` in JSON
  std::optional<std::uint64_t> count;

  bool empty() const { return !after && !for_ && !count; }
  // Adds the fields that are set to a fault's JSON (durations in milliseconds).
  void add_to(nlohmann::json& fault) const;
  bool operator==(const FaultSchedule&) const = default;
};

// The longest `after` or `for`: one week.
constexpr std::chrono::milliseconds kMaxScheduleDuration{7LL * 24 * 3600 * 1000};

// Reads after, for and count from a fault object; errors name `pointer`/after
// and so on. A duration is a number of milliseconds or a string with a unit
// ("250ms", "2s", "1.5s", "5m", "1h", "1d"); `from_text`: a bare number may come as a string.
FaultSchedule parse_fault_schedule(const nlohmann::json& fault, const std::string& pointer, bool from_text);

// How many more times a fault with a `count` may act. Shared by every session
// of the fault's link; take() is safe from any thread.
class FaultBudget {
 public:
  explicit FaultBudget(std::uint64_t count) : count_(count), left_(count) {}

  // Takes one injection. False when none is left. The call that takes the
  // last one runs the on_spent callback.
  bool take();
  std::uint64_t count() const { return count_; }
  std::uint64_t used() const { return count_ - left_.load(std::memory_order_relaxed); }
  bool spent() const { return left_.load(std::memory_order_relaxed) == 0; }

  // Who is told when the last injection is taken (the link the fault is on;
  // a fault put back on a new link is watched by that one).
  void on_spent(std::function<void()> callback) {
    std::lock_guard lock(mutex_);
    on_spent_ = std::move(callback);
  }
  bool watched() const {
    std::lock_guard lock(mutex_);
    return static_cast<bool>(on_spent_);
  }

 private:
  std::uint64_t count_;
  std::atomic<std::uint64_t> left_;
  mutable std::mutex mutex_;
  std::function<void()> on_spent_;
};

}  // namespace faultline

namespace faultline {

class Rng;

// One decision whether a fault acts: the probability rolled (when there is
// one to roll), then one injection taken from the count. Every fault's roll,
// byte or frame, on every transport, is made here.
struct FaultRoll {
  bool applied = false;
  std::optional<double> roll;  // the number drawn, when drawn
  bool count_spent = false;    // the roll said yes, but the count was used up
  bool worth_recording() const { return roll.has_value() || count_spent; }
  // {roll, applied[, reason: "count"]} for a fault.decision event.
  nlohmann::json to_json() const;
};

// `always_draw`: draw even at probability 1, so that a byte fault's random
// source stays aligned whatever its toxicity. `budget` may be null (no count).
FaultRoll roll_fault(Rng& rng, double probability, FaultBudget* budget, bool always_draw = false);

}  // namespace faultline
