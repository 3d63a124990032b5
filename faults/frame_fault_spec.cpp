#include "faults/frame_fault_spec.hpp"

#include <charconv>
#include <set>

#include "core/errors.hpp"
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

std::string known_types() {
  std::string list;
  for (const auto& type : frame_fault_types()) list += (list.empty() ? "" : ", ") + std::string(type.name);
  return list;
}

Direction parse_direction(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) {
    const auto text = value.get<std::string>();
    if (text == "upstream") return Direction::upstream;
    if (text == "downstream") return Direction::downstream;
    throw ConfigError(where, "must be \"upstream\" or \"downstream\", got \"" + text + "\"");
  }
  throw ConfigError(where, "must be \"upstream\" or \"downstream\"");
}

double parse_probability(const nlohmann::json& value, const std::string& where, bool from_text) {
  double p = 0;
  if (from_text && value.is_string()) {
    const auto text = value.get<std::string>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (ec != std::errc{} || end != text.data() + text.size())
      throw ConfigError(where, "must be a number from 0 to 1, got \"" + text + "\"");
  } else if (value.is_number()) {
    p = value.get<double>();
  } else {
    throw ConfigError(where, "must be a number from 0 to 1");
  }
  if (!(p >= 0.0 && p <= 1.0)) throw ConfigError(where, "must be from 0 to 1, got " + value.dump());
  return p;
}

FrameFaultSpec parse(const nlohmann::json& fault, const std::string& pointer, bool from_text) {
  if (!fault.is_object()) throw ConfigError(pointer, "a fault must be a JSON object");
  static const std::set<std::string> wrapper = {"name",        "type",  "stream",    "direction", "toxicity",
                                                "probability", "match", "attributes"};
  for (auto it = fault.begin(); it != fault.end(); ++it)
    if (!wrapper.contains(it.key())) throw ConfigError(pointer + "/" + it.key(), "unknown field");

  FrameFaultSpec spec;
  auto type = fault.find("type");
  if (type == fault.end() || !type->is_string() || type->get<std::string>().empty())
    throw ConfigError(pointer + "/type", "a fault needs a type (known: " + known_types() + ")");
  spec.type = type->get<std::string>();
  const FrameFaultType* ft = find_frame_fault_type(spec.type);
  if (!ft) throw ConfigError(pointer + "/type", "unknown frame fault type \"" + spec.type + "\" (known: " + known_types() + ")");

  spec.direction = ft->default_direction;
  if (fault.contains("stream") && fault.contains("direction"))
    throw ConfigError(pointer + "/direction", "give stream or direction, not both");
  std::string direction_at;
  for (const char* key : {"stream", "direction"}) {
    if (auto it = fault.find(key); it != fault.end() && !it->is_null()) {
      direction_at = pointer + "/" + key;
      spec.direction = parse_direction(*it, direction_at);
    }
  }
  if (ft->rule == DirectionRule::upstream_only && spec.direction != Direction::upstream)
    throw ConfigError(direction_at, "a " + spec.type + " fault acts on requests from the client: stream must be upstream");
  if (ft->rule == DirectionRule::downstream_only && spec.direction != Direction::downstream)
    throw ConfigError(direction_at, "a " + spec.type + " fault acts on the server's output: stream must be downstream");

  if (fault.contains("toxicity") && fault.contains("probability"))
    throw ConfigError(pointer + "/probability", "give toxicity or probability, not both");
  for (const char* key : {"toxicity", "probability"})
    if (auto it = fault.find(key); it != fault.end() && !it->is_null())
      spec.probability = parse_probability(*it, pointer + "/" + key, from_text);

  if (auto it = fault.find("match"); it != fault.end()) spec.match = parse_frame_match(*it, pointer + "/match");

  if (auto it = fault.find("name"); it != fault.end() && !it->is_null()) {
    if (!it->is_string()) throw ConfigError(pointer + "/name", "must be a string");
    spec.name = it->get<std::string>();
  }
  if (spec.name.empty()) spec.name = spec.type + "_" + std::string(to_string(spec.direction));
  if (spec.name.find('/') != std::string::npos) throw ConfigError(pointer + "/name", "must not contain '/'");

  const auto attributes = fault.contains("attributes") ? fault.at("attributes") : nlohmann::json::object();
  FrameAttributes reader(attributes, pointer + "/attributes", from_text);
  spec.fault = ft->make(reader);
  reader.finish();
  return spec;
}

}  // namespace

nlohmann::json FrameFaultSpec::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"type", type},
                      {"stream", std::string(to_string(direction))},
                      {"probability", probability},
                      {"attributes", fault ? fault->attributes() : nlohmann::json::object()}};
  if (!match.empty()) j["match"] = match.to_json();
  return j;
}

FrameFaultSpec parse_frame_fault(const nlohmann::json& fault, const std::string& pointer) {
  return parse(fault, pointer, false);
}

std::vector<FrameFaultSpec> parse_frame_faults(const nlohmann::json& faults, const std::string& pointer) {
  if (!faults.is_array()) throw ConfigError(pointer, "must be a JSON array of faults");
  std::vector<FrameFaultSpec> specs;
  std::set<std::string> names;
  for (std::size_t i = 0; i < faults.size(); ++i) {
    const std::string at = pointer + "/" + std::to_string(i);
    specs.push_back(parse_frame_fault(faults[i], at));
    if (!names.insert(specs.back().name).second)
      throw ConfigError(at + "/name", "a fault named \"" + specs.back().name + "\" already exists");
  }
  return specs;
}

FrameFaultSpec parse_frame_fault_text(std::string_view text) {
  const std::string where = "--fault " + std::string(text);
  if (!text.empty() && text.front() == '{') {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded()) throw ConfigError(where, "not valid JSON");
    try {
      return parse_frame_fault(json, "");
    } catch (const ConfigError& e) {
      throw ConfigError(where, e.what());
    }
  }
  nlohmann::json fault = {{"attributes", nlohmann::json::object()}};
  std::size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (first) {
      if (item.empty() || item.find('=') != std::string_view::npos)
        throw ConfigError(where, "must start with the fault type, as in drop,method=tools/call");
      fault["type"] = std::string(item);
      first = false;
      continue;
    }
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw ConfigError(where, "\"" + std::string(item) + "\" is not KEY=VALUE");
    const std::string key(item.substr(0, eq));
    const std::string value(item.substr(eq + 1));
    if (key == "name" || key == "stream" || key == "direction" || key == "toxicity" || key == "probability") {
      fault[key] = value;
    } else if (key == "method" || key == "kind") {
      fault["match"][key] = value;
    } else if (key == "id") {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec == std::errc{} && end == value.data() + value.size())
        fault["match"]["id"] = n;
      else if (value == "null")
        fault["match"]["id"] = nullptr;
      else if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        fault["match"]["id"] = value.substr(1, value.size() - 2);
      else
        fault["match"]["id"] = value;
    } else {
      fault["attributes"][key] = value;
    }
  }
  try {
    return parse(fault, "", true);
  } catch (const ConfigError& e) {
    throw ConfigError(where, e.what());
  }
}

}  // namespace faultline
