#include "sim/load_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/config_text.hpp"
#include "core/errors.hpp"
#include "core/rng.hpp"

namespace faultline::sim {

namespace {

using ms = std::chrono::milliseconds;
constexpr ms kMaxDuration{7LL * 24 * 3600 * 1000};
constexpr double kMaxVus = 100'000;
constexpr double kMaxRate = 1'000'000;

struct Reader {
  const nlohmann::json& load;
  const std::string& pointer;

  const nlohmann::json* find(const char* key) const {
    auto it = load.find(key);
    return it == load.end() ? nullptr : &*it;
  }
  double number(const char* key, double min, double max, std::optional<double> fallback = std::nullopt) const {
    const auto* v = find(key);
    const auto where = pointer + "/" + key;
    if (!v) {
      if (fallback) return *fallback;
      throw ConfigError(where, "is required");
    }
    if (!v->is_number() || !std::isfinite(v->get<double>()))
      throw ConfigError(where, "must be a number, got " + shown_value(*v));
    const double x = v->get<double>();
    if (x < min || x > max)
      throw ConfigError(where, "must be from " + shown_value(min) + " to " + shown_value(max) + ", got " + shown_value(*v));
    return x;
  }
  ms duration(const char* key, ms min, std::optional<ms> fallback = std::nullopt) const {
    const auto* v = find(key);
    if (!v) {
      if (fallback) return *fallback;
      throw ConfigError(pointer + "/" + key, "is required");
    }
    return read_duration(*v, pointer + "/" + key, min, kMaxDuration);
  }
};

Executor parse_executor(const nlohmann::json& load, const std::string& pointer) {
  const auto where = pointer + "/executor";
  auto it = load.find("executor");
  if (it == load.end()) throw ConfigError(where, "is required: constant-vus, ramping-vus, constant-arrival-rate or ramping-arrival-rate");
  const std::vector<std::string> names = {"constant-vus", "ramping-vus", "constant-arrival-rate", "ramping-arrival-rate"};
  const auto text = it->is_string() ? it->get<std::string>() : std::string();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return static_cast<Executor>(i);
  const auto near = nearest_name(text, names);
  throw ConfigError(where, "unknown executor " + shown_value(*it) +
                               (near.empty() ? "; one of constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate"
                                             : "; did you mean \"" + near + "\"?"));
}

std::vector<LoadStage> parse_stages(const nlohmann::json& stages, const std::string& pointer, double max_target) {
  if (!stages.is_array() || stages.empty())
    throw ConfigError(pointer, "must be a non-empty array of {\"duration\", \"target\"}");
  std::vector<LoadStage> out;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto where = pointer + "/" + std::to_string(i);
    check_keys(stages[i], where, {"duration", "target"});
    Reader r{stages[i], where};
    out.push_back({r.duration("duration", ms(0)), r.number("target", 0, max_target)});
  }
  return out;
}

// A spike: base load, a quick rise to the peak at `at`, a short hold, a quick fall.
std::vector<LoadStage> spike(const Reader& r, double max_target, double& start) {
  const double base = r.number("base", 0, max_target, 0.0);
  const double peak = r.number("peak", 0, max_target);
  const ms total = r.duration("duration", ms(1));
  const ms at = r.duration("at", ms(0), total / 2);
  const ms rise = r.duration("rise", ms(0), std::max(ms(0), total / 20));
  const ms hold = r.duration("hold", ms(0), total / 10);
  if (at + rise + hold + rise > total)
    throw ConfigError(r.pointer, "the spike (at + rise + hold + rise) must end within `duration`");
  start = base;
  std::vector<LoadStage> out = {{at, base}, {rise, peak}, {hold, peak}, {rise, base}};
  if (const ms rest = total - (at + rise + hold + rise); rest > ms(0)) out.push_back({rest, base});
  return out;
}

// A wave: a sine between min and max with the given period, drawn as 16 ramps a period.
std::vector<LoadStage> wave(const Reader& r, double max_target, double& start) {
  const double lo = r.number("min", 0, max_target, 0.0);
  const double hi = r.number("max", lo, max_target);
  const ms period = r.duration("period", ms(16));
  const ms total = r.duration("duration", ms(1));
  const double mid = (lo + hi) / 2, amplitude = (hi - lo) / 2;
  start = mid;
  std::vector<LoadStage> out;
  const ms step = period / 16;
  for (ms t = ms(0); t < total;) {
    const ms d = std::min(step, total - t);
    t += d;
    const double phase = 2 * std::numbers::pi * static_cast<double>(t.count()) / static_cast<double>(period.count());
    out.push_back({d, mid + amplitude * std::sin(phase)});
  }
  return out;
}

// Bursts: `length` at the peak every `every`, the base in between; the jumps take no time.
std::vector<LoadStage> burst(const Reader& r, double max_target, double& start) {
  const double base = r.number("base", 0, max_target, 0.0);
  const double peak = r.number("peak", 0, max_target);
  const ms every = r.duration("every", ms(2));
  const ms length = r.duration("length", ms(1));
  const ms total = r.duration("duration", ms(1));
  if (length >= every) throw ConfigError(r.pointer + "/length", "must be shorter than `every`");
  if (total / every > 100'000) throw ConfigError(r.pointer + "/every", "makes more than 100000 bursts");
  start = base;
  std::vector<LoadStage> out;
  for (ms t = ms(0); t < total;) {
    const ms quiet = std::min(every - length, total - t);
    out.push_back({quiet, base});
    t += quiet;
    if (t >= total) break;
    const ms loud = std::min(length, total - t);
    out.push_back({ms(0), peak});
    out.push_back({loud, peak});
    out.push_back({ms(0), base});
    t += loud;
  }
  return out;
}

// Random: every `every`, ramp to a new level drawn uniformly from [min, max].
std::vector<LoadStage> random_walk(const Reader& r, double max_target, double& start, std::uint64_t seed) {
  const double lo = r.number("min", 0, max_target, 0.0);
  const double hi = r.number("max", lo, max_target);
  const ms every = r.duration("every", ms(1));
  const ms total = r.duration("duration", ms(1));
  if (total / every > 100'000) throw ConfigError(r.pointer + "/every", "makes more than 100000 stages");
  Rng rng(seed ^ stable_hash("load:random"));
  start = lo + (hi - lo) * rng.uniform();
  std::vector<LoadStage> out;
  for (ms t = ms(0); t < total;) {
    const ms d = std::min(every, total - t);
    out.push_back({d, lo + (hi - lo) * rng.uniform()});
    t += d;
  }
  return out;
}

}  // namespace

const char* executor_name(Executor e) {
  switch (e) {
    case Executor::constant_vus: return "constant-vus";
    case Executor::ramping_vus: return "ramping-vus";
    case Executor::constant_arrival_rate: return "constant-arrival-rate";
    case Executor::ramping_arrival_rate: return "ramping-arrival-rate";
  }
  return "?";
}

LoadPattern parse_load_pattern(const nlohmann::json& load, const std::string& pointer, std::uint64_t seed) {
  if (!load.is_object()) throw ConfigError(pointer, "must be an object with an `executor`, got " + shown_value(load));
  LoadPattern p;
  p.executor = parse_executor(load, pointer);
  const bool rate = p.open_model();
  const double max_target = rate ? kMaxRate : kMaxVus;
  const Reader r{load, pointer};
  if (rate) p.time_unit = r.duration("timeUnit", ms(1), ms(1000));
  switch (p.executor) {
    case Executor::constant_vus:
      check_keys(load, pointer, {"executor", "vus", "duration"});
      p.start = r.number("vus", 1, kMaxVus);
      p.stages = {{r.duration("duration", ms(1)), p.start}};
      return p;
    case Executor::constant_arrival_rate:
      check_keys(load, pointer, {"executor", "rate", "timeUnit", "duration"});
      p.start = r.number("rate", 0, kMaxRate);
      if (p.start <= 0) throw ConfigError(pointer + "/rate", "must be more than 0");
      p.stages = {{r.duration("duration", ms(1)), p.start}};
      return p;
    case Executor::ramping_vus:
    case Executor::ramping_arrival_rate:
      break;
  }
  const char* start_key = rate ? "startRate" : "startVUs";
  auto shape_it = load.find("shape");
  if (shape_it == load.end()) {
    check_keys(load, pointer, {"executor", start_key, "timeUnit", "stages"});
    if (!rate && load.contains("timeUnit")) throw ConfigError(pointer + "/timeUnit", "belongs to the arrival-rate executors");
    p.start = r.number(start_key, 0, max_target, 0.0);
    auto stages = load.find("stages");
    if (stages == load.end()) throw ConfigError(pointer + "/stages", "is required (or a `shape`)");
    p.stages = parse_stages(*stages, pointer + "/stages", max_target);
  } else {
    const std::vector<std::string> shapes = {"spike", "wave", "burst", "random"};
    p.shape = shape_it->is_string() ? shape_it->get<std::string>() : std::string();
    std::vector<std::string> keys = {"executor", "shape", "duration"};
    if (rate) keys.push_back("timeUnit");
    if (p.shape == "spike") {
      keys.insert(keys.end(), {"base", "peak", "at", "rise", "hold"});
      check_keys(load, pointer, keys);
      p.stages = spike(r, max_target, p.start);
    } else if (p.shape == "wave") {
      keys.insert(keys.end(), {"min", "max", "period"});
      check_keys(load, pointer, keys);
      p.stages = wave(r, max_target, p.start);
    } else if (p.shape == "burst") {
      keys.insert(keys.end(), {"base", "peak", "every", "length"});
      check_keys(load, pointer, keys);
      p.stages = burst(r, max_target, p.start);
    } else if (p.shape == "random") {
      keys.insert(keys.end(), {"min", "max", "every"});
      check_keys(load, pointer, keys);
      p.stages = random_walk(r, max_target, p.start, seed);
    } else {
      const auto near = nearest_name(p.shape, shapes);
      throw ConfigError(pointer + "/shape", "unknown shape " + shown_value(*shape_it) +
                                                (near.empty() ? "; one of spike, wave, burst, random"
                                                              : "; did you mean \"" + near + "\"?"));
    }
  }
  if (p.duration() > kMaxDuration) throw ConfigError(pointer + "/stages", "last longer than one week");
  if (p.duration() <= ms(0)) throw ConfigError(pointer + "/stages", "last no time at all");
  return p;
}

std::chrono::milliseconds LoadPattern::duration() const {
  ms total{0};
  for (const auto& s : stages) total += s.duration;
  return total;
}

double LoadPattern::target_at(std::chrono::duration<double, std::milli> t) const {
  double from = start, elapsed = 0;
  for (const auto& s : stages) {
    const double d = static_cast<double>(s.duration.count());
    if (t.count() < elapsed + d) return from + (s.target - from) * (t.count() - elapsed) / d;
    elapsed += d;
    from = s.target;
  }
  return from;
}

double LoadPattern::peak() const {
  double top = start;
  for (const auto& s : stages) top = std::max(top, s.target);
  return top;
}

std::uint64_t LoadPattern::vus_at(std::chrono::duration<double, std::milli> t) const {
  return static_cast<std::uint64_t>(std::llround(std::max(0.0, target_at(t))));
}

nlohmann::json LoadPattern::to_json() const {
  nlohmann::json out = {{"executor", executor_name(executor)}};
  switch (executor) {
    case Executor::constant_vus:
      out["vus"] = start;
      out["duration"] = duration().count();
      return out;
    case Executor::constant_arrival_rate:
      out["rate"] = start;
      out["timeUnit"] = time_unit.count();
      out["duration"] = duration().count();
      return out;
    case Executor::ramping_vus:
      out["startVUs"] = start;
      break;
    case Executor::ramping_arrival_rate:
      out["startRate"] = start;
      out["timeUnit"] = time_unit.count();
      break;
  }
  auto& list = out["stages"] = nlohmann::json::array();
  for (const auto& s : stages) list.push_back({{"duration", s.duration.count()}, {"target", s.target}});
  return out;
}

ArrivalSchedule::ArrivalSchedule(const LoadPattern& pattern)
    : stages_(pattern.stages), per_ms_(1.0 / static_cast<double>(pattern.time_unit.count())), stage_from_(pattern.start) {}

std::optional<std::chrono::duration<double, std::milli>> ArrivalSchedule::next() {
  const double due = static_cast<double>(issued_) + 0.5;  // calls due when this one starts
  while (stage_ < stages_.size()) {
    const auto& s = stages_[stage_];
    const double d = static_cast<double>(s.duration.count());
    const double a = stage_from_ * per_ms_, b = s.target * per_ms_;  // calls per ms at the stage's ends
    const double in_stage = (a + b) / 2 * d;
    const double want = due - integral_before_;
    if (d > 0 && want <= in_stage) {
      // The rate integral over x ms of this stage, a x + (b - a) x^2 / 2d, equals
      // `want` at this root (the form that stays exact when b == a).
      const double c2 = (b - a) / (2 * d);
      const double x = 2 * want / (a + std::sqrt(std::max(0.0, a * a + 4 * c2 * want)));
      ++issued_;
      return std::chrono::duration<double, std::milli>(stage_start_ms_ + std::min(x, d));
    }
    integral_before_ += in_stage;
    stage_start_ms_ += d;
    stage_from_ = s.target;
    ++stage_;
  }
  return std::nullopt;
}

}  // namespace faultline::sim
