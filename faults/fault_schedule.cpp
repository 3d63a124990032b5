#include "faults/fault_schedule.hpp"

#include <charconv>
#include <cmath>

#include "core/config_text.hpp"
#include "core/errors.hpp"
#include "core/rng.hpp"

namespace faultline {
namespace {

std::string shown(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::chrono::milliseconds> read_duration(const nlohmann::json& fault, const char* key,
                                                       const std::string& pointer, bool allow_zero) {
  auto it = fault.find(key);
  if (it == fault.end() || it->is_null()) return std::nullopt;
  const std::string where = pointer + "/" + key;
  std::optional<double> ms;
  if (it->is_number()) ms = it->get<double>();
  else if (it->is_string()) ms = duration_text_ms(it->get<std::string>());
  if (!ms || !std::isfinite(*ms))
    throw ConfigError(where, "must be a duration: milliseconds, or a string such as \"500ms\", \"2s\" or \"5m\"; got " +
                                 shown(*it));
  const double max = static_cast<double>(kMaxScheduleDuration.count());
  if (*ms < 0 || *ms > max || (!allow_zero && *ms < 1))
    throw ConfigError(where, std::string("must be from ") + (allow_zero ? "0" : "1 ms") + " to one week, got " +
                                 shown(*it));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*ms)));
}

std::optional<std::uint64_t> read_count(const nlohmann::json& fault, const std::string& pointer, bool from_text) {
  auto it = fault.find("count");
  if (it == fault.end() || it->is_null()) return std::nullopt;
  const std::string where = pointer + "/count";
  constexpr std::uint64_t kMax = 1'000'000'000'000ULL;
  std::uint64_t n = 0;
  bool ok = false;
  if (it->is_number_unsigned()) {
    n = it->get<std::uint64_t>();
    ok = true;
  } else if (it->is_number_integer()) {
    const auto signed_n = it->get<std::int64_t>();
    ok = signed_n > 0;
    n = ok ? static_cast<std::uint64_t>(signed_n) : 0;
  } else if (from_text && it->is_string()) {
    const auto text = it->get<std::string>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    ok = ec == std::errc{} && end == text.data() + text.size() && !text.empty();
  }
  if (!ok || n < 1 || n > kMax)
    throw ConfigError(where, "must be a whole number of injections from 1 to " + std::to_string(kMax) + ", got " +
                                 shown(*it));
  return n;
}

}  // namespace

void FaultSchedule::add_to(nlohmann::json& fault) const {
  if (after) fault["after"] = after->count();
  if (for_) fault["for"] = for_->count();
  if (count) fault["count"] = *count;
}

FaultSchedule parse_fault_schedule(const nlohmann::json& fault, const std::string& pointer, bool from_text) {
  FaultSchedule s;
  if (!fault.is_object()) return s;
  s.after = read_duration(fault, "after", pointer, /*allow_zero=*/true);
  s.for_ = read_duration(fault, "for", pointer, /*allow_zero=*/false);
  s.count = read_count(fault, pointer, from_text);
  return s;
}

bool FaultBudget::take() {
  auto left = left_.load(std::memory_order_relaxed);
  while (left > 0) {
    if (left_.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      if (left == 1) {
        std::function<void()> callback;
        {
          std::lock_guard lock(mutex_);
          callback = on_spent_;
        }
        if (callback) callback();
      }
      return true;
    }
  }
  return false;
}

}  // namespace faultline

namespace faultline {

nlohmann::json FaultRoll::to_json() const {
  nlohmann::json j = {{"applied", applied}};
  if (roll) j["roll"] = *roll;
  if (count_spent) j["reason"] = "count";
  return j;
}

FaultRoll roll_fault(Rng& rng, double probability, FaultBudget* budget, bool always_draw) {
  FaultRoll r;
  r.applied = true;
  if (always_draw || probability < 1.0) {
    r.roll = rng.uniform();
    r.applied = *r.roll < probability;
  }
  if (r.applied && budget && !budget->take()) {
    r.applied = false;
    r.count_spent = true;
  }
  return r;
}

}  // namespace faultline
