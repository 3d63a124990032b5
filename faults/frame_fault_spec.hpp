#pragma once
// A frame fault as configured on a stdio link: the wrapper every fault has
// (name, type, stream/direction, probability or toxicity, match) around the
// type's validated settings. Parsed in two steps: the wrapper, then the
// attributes through the frame fault registry. Errors carry JSON pointers.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/fault_schedule.hpp"
#include "faults/frame_fault.hpp"
#include "faults/frame_match.hpp"

namespace faultline {

struct FrameFaultSpec {
  std::string name;
  std::string type;
  Direction direction = Direction::downstream;
  double probability = 1.0;  // rolled for each matched frame
  FrameMatch match;
  FaultSchedule schedule;
  std::shared_ptr<const FrameFault> fault;

  nlohmann::json to_json() const;
};

// Parses a fault object {name, type, stream|direction, probability|toxicity, match, attributes,
// after, for, count}.
// `from_text`: attribute values and probability may be strings from the command line.
FrameFaultSpec parse_frame_fault(const nlohmann::json& fault, const std::string& pointer, bool from_text = false);

// Parses a JSON array of fault objects (the --faults file).
std::vector<FrameFaultSpec> parse_frame_faults(const nlohmann::json& faults, const std::string& pointer);

// The command line form, as `faultline proxy --fault`: TYPE[,KEY=VALUE...] where
// KEY is name, stream/direction, toxicity/probability, after/for/count (unless
// the type has an attribute of that name), a match key (method, id, kind with
// '|' between kinds, session) or one of the type's attributes. id=7 is an
// integer id, id="7" a string id. Text starting with '{' is a JSON fault object.
FrameFaultSpec parse_frame_fault_text(std::string_view text);

// Refuses a fault a link of `transport` ("stdio", "websocket", "http") cannot
// apply: a type made for other transports, or a session match off http (only
// http frames carry a session). Errors name `pointer`/type or `pointer`/match/session.
void check_frame_fault_transport(const FrameFaultSpec& spec, std::string_view transport, const std::string& pointer);

}  // namespace faultline
