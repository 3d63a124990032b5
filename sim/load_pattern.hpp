#pragma once
// How much load a simulation puts on its target over time, named as k6 names
// its executors so that users recognise them:
//   constant-vus           a fixed number of clients, each working in a loop;
//   ramping-vus            the number of working clients follows stages;
//   constant-arrival-rate  calls start on a fixed schedule whatever the server
//                          does (the open model); a call that finds no free
//                          client is dropped and counted;
//   ramping-arrival-rate   the same with a rate that follows stages.
// The shapes spike, wave, burst and random are written as a few numbers and
// turned into stages here (the random one from the run's seed).
//
// Stages are k6's: each moves the target linearly from where the last one
// ended to its own `target` over its `duration`; a stage of duration 0 jumps.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::sim {

enum class Executor { constant_vus, ramping_vus, constant_arrival_rate, ramping_arrival_rate };

const char* executor_name(Executor e);

struct LoadStage {
  std::chrono::milliseconds duration{0};
  double target = 0;
};

struct LoadPattern {
  Executor executor = Executor::constant_vus;
  double start = 0;                          // the target at time 0
  std::vector<LoadStage> stages;             // never empty once parsed
  std::chrono::milliseconds time_unit{1000};  // arrival rates are calls per time_unit
  std::string shape;                         // "", "spike", "wave", "burst" or "random": how stages were made

  // Calls start on a schedule (arrival rate), not when a client is free.
  bool open_model() const {
    return executor == Executor::constant_arrival_rate || executor == Executor::ramping_arrival_rate;
  }
  std::chrono::milliseconds duration() const;
  // Clients working (vus) or calls per time_unit (arrival rates) at `t`.
  double target_at(std::chrono::duration<double, std::milli> t) const;
  // The largest target over the whole run.
  double peak() const;
  // Clients working at `t` for the vus executors (the target rounded to the nearest whole client).
  std::uint64_t vus_at(std::chrono::duration<double, std::milli> t) const;
  nlohmann::json to_json() const;
};

// Reads a load pattern (`load` of a workload file): an object with `executor`
// and the executor's keys, or a `shape` instead of `stages`. Errors name the
// JSON pointer under `pointer`. `seed` draws the random shape.
LoadPattern parse_load_pattern(const nlohmann::json& load, const std::string& pointer, std::uint64_t seed);

// When the calls of an open model start: the k-th call (from 0) starts when
// the rate's integral reaches k + 1/2, so a run of D at rate R starts R x D
// calls, each centred in its share of time.
class ArrivalSchedule {
 public:
  explicit ArrivalSchedule(const LoadPattern& pattern);
  // The start time of the next call since the run began; nullopt once the
  // pattern has ended.
  std::optional<std::chrono::duration<double, std::milli>> next();
  std::uint64_t issued() const { return issued_; }

 private:
  std::vector<LoadStage> stages_;
  double per_ms_;            // 1 / time_unit in ms
  std::size_t stage_ = 0;    // the stage the last arrival fell in
  double stage_start_ms_ = 0;
  double stage_from_ = 0;    // the rate at the stage's start
  double integral_before_ = 0;  // calls due before the current stage
  std::uint64_t issued_ = 0;
};

}  // namespace faultline::sim
