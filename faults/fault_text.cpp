#include "faults/fault_text.hpp"

#include "core/errors.hpp"

namespace faultline {

bool is_wrapper_text_key(std::string_view key) {
  for (std::string_view k : {"name", "stream", "direction", "toxicity", "probability", "after", "for", "count"})
    if (key == k) return true;
  return false;
}

FaultText split_fault_text(std::string_view text, const std::string& where, std::string_view example) {
  FaultText result;
  std::size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (first) {
      if (item.empty() || item.find('=') != std::string_view::npos)
        throw ConfigError(where, "must start with the fault type, as in " + std::string(example));
      result.type = std::string(item);
      first = false;
      continue;
    }
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw ConfigError(where, "\"" + std::string(item) + "\" is not KEY=VALUE");
    std::string key(item.substr(0, eq));
    for (const auto& [seen, value] : result.items)
      if (seen == key) throw ConfigError(where, "\"" + key + "\" is given twice");
    result.items.emplace_back(std::move(key), std::string(item.substr(eq + 1)));
  }
  return result;
}

}  // namespace faultline
