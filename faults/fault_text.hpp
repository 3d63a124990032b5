#pragma once
// The command-line form of a fault, shared by byte and frame faults:
// TYPE[,KEY=VALUE...]. This splits it; each kind maps the keys onto its JSON
// object (wrapper fields, match keys, attributes) and parses that.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace faultline {

struct FaultText {
  std::string type;
  std::vector<std::pair<std::string, std::string>> items;  // in the order given
};

// Keys of the text form that are wrapper fields, not match keys or attributes:
// name, stream, direction, toxicity, probability, after, for, count.
bool is_wrapper_text_key(std::string_view key);

// Throws ConfigError naming `where`: no type (`example` shows the form), an
// item that is not KEY=VALUE, a KEY given twice.
FaultText split_fault_text(std::string_view text, const std::string& where, std::string_view example);

}  // namespace faultline
