#pragma once
// A fault as configured on a link: the wrapper fields every fault has (name,
// type, direction, probability) around the type's validated settings. Parsed
// in two steps: the wrapper, then the type's attributes through the registry.
// The JSON shape is Toxiproxy's toxic: {name, type, stream, toxicity, attributes}.
// A JSON-RPC frame fault (drop, delay, malformed, ...) is a FaultSpec too, with
// `frame` set and `fault` null: its toxicity is rolled per matched message, and
// it has a `match`. Only protocol-aware links (websocket, http) take those.
// Every fault may have a schedule (after, for, count: fault_schedule.hpp).

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "faults/byte_fault.hpp"
#include "faults/frame_fault_spec.hpp"

namespace faultline {

struct FaultSpec {
  std::string name;
  std::string type;
  Direction direction = Direction::downstream;
  double toxicity = 1.0;  // probability that a connection gets this fault
  std::shared_ptr<const ByteFault> fault;            // a byte fault, or
  std::shared_ptr<const FrameFaultSpec> frame;       // a frame fault
  FaultSchedule schedule;
  // With a count: the injections left, shared by every session the fault
  // acts on (and kept across an update that leaves the count as it was).
  std::shared_ptr<FaultBudget> budget;

  bool is_frame() const { return frame != nullptr; }

  nlohmann::json to_json() const;
};

// A fault as links hold it: one object shared by the link and every session
// it acts on, which know it by this pointer (a later fault of the same name is
// another one).
using FaultPtr = std::shared_ptr<const FaultSpec>;

// The fault as links hold it, with its budget when it has a count.
FaultPtr make_fault(FaultSpec spec);

// Parses a toxic object. Errors name the JSON pointer under `pointer`.
// `from_text`: attribute values may be strings from the command line's text form.
FaultSpec parse_fault(const nlohmann::json& toxic, const std::string& pointer, bool from_text = false);

// Applies an update (Toxiproxy's POST /toxics/{name}): the given attributes
// are merged into the current ones, toxicity, stream and the schedule may
// change; name and type may not.
FaultSpec update_fault_spec(const FaultSpec& current, const nlohmann::json& patch, const std::string& pointer);

// The command line form: TYPE[,KEY=VALUE...], where KEY is name, stream,
// toxicity (or probability), after, for, count or one of the type's attributes. A text starting
// with '{' is read as a toxic JSON object.
FaultSpec parse_fault_text(std::string_view text);

}  // namespace faultline
