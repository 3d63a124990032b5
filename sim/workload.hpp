#pragma once
// What each simulated client does once connected, from a workload file:
//
//   {
//     "steps": [
//       {"method": "tools/call", "tool": "echo", "arguments": {"message": "hi"}, "weight": 5},
//       {"method": "tools/call", "weight": 2},            // any listed tool, arguments from its schema
//       {"method": "tools/list"},
//       {"method": "resources/read", "uri": "faultline://mock/readme"},
//       {"method": "ping"}
//     ],
//     "think": {"min": "50ms", "max": "200ms"},            // or one duration
//     "duration": "2m",                                   // closed loop without `load`
//     "load": {"executor": "ramping-vus", "stages": [...]} // see load_pattern.hpp
//   }
//
// A step is drawn by weight (seeded) each time a client is ready for work.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "sim/load_pattern.hpp"

namespace faultline::sim {

enum class StepKind { call_tool, list_tools, read_resource, ping };

struct WorkloadStep {
  StepKind kind = StepKind::call_tool;
  std::string tool;                        // call_tool: "" means any listed tool
  std::optional<nlohmann::json> arguments;  // call_tool: unset means generated from the tool's inputSchema
  std::string uri;                         // read_resource: "" means the first listed resource
  double weight = 1;

  // "tools/call echo", "tools/list", ...: how the step is named in summaries.
  std::string label() const;
};

struct Workload {
  std::vector<WorkloadStep> steps;
  std::chrono::milliseconds think_min{0};
  std::chrono::milliseconds think_max{0};
  std::optional<std::chrono::milliseconds> duration;  // a closed loop of every client, without `load`
  std::optional<LoadPattern> load;

  // The step a client does next, drawn by weight.
  const WorkloadStep& choose(Rng& rng) const;
  // The pause before a client's next step: uniform in [think_min, think_max].
  std::chrono::milliseconds think(Rng& rng) const;
  // How long the workload runs (the load pattern's duration, else `duration`); nullopt: one pass.
  std::optional<std::chrono::milliseconds> length() const;
  nlohmann::json to_json() const;
};

// Errors are ConfigErrors naming the JSON pointer under `pointer`; an unknown
// key is refused with the nearest valid name.
Workload parse_workload(const nlohmann::json& workload, const std::string& pointer, std::uint64_t seed);
// Reads a workload file; errors name the file and the pointer.
Workload load_workload_file(const std::string& path, std::uint64_t seed);

}  // namespace faultline::sim
