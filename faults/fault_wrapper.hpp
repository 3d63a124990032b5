#pragma once
// The fields every fault has, byte or frame, read the same way: type,
// stream (or direction), toxicity (or probability), name, and its schedule
// (after, for, count). The first step of
// parsing a fault; the type's attributes are the second.

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "faults/byte_fault.hpp"
#include "faults/fault_schedule.hpp"

namespace faultline {

struct FaultWrapper {
  std::string type;
  std::optional<Direction> direction;  // when given
  std::string direction_at;            // its JSON pointer
  double probability = 1.0;
  std::string name;  // empty when not given
  FaultSchedule schedule;

  // The default name: TYPE_STREAM, as Toxiproxy names toxics.
  std::string name_or_default(Direction d) const {
    return name.empty() ? type + "_" + std::string(to_string(d)) : name;
  }
};

// Throws ConfigError naming the JSON pointer: a field not in `fields`, no type
// (the message lists `known_types`), a bad stream or probability, a bad name.
// `from_text`: the probability may be a string from the command line.
FaultWrapper parse_fault_wrapper(const nlohmann::json& fault, const std::string& pointer,
                                 const std::set<std::string>& fields, std::string_view known_types, bool from_text);

}  // namespace faultline
