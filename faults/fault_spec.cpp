#include "faults/fault_spec.hpp"

#include <charconv>
#include <cmath>
#include <set>

#include "core/errors.hpp"
#include "faults/registry.hpp"

namespace faultline {
namespace {

std::string known_types() {
  std::string list;
  for (const auto& type : fault_types()) {
    if (!list.empty()) list += ", ";
    list += type.name;
  }
  return list;
}

Direction parse_direction(const nlohmann::json& value, const std::string& where) {
  if (!value.is_string()) throw ConfigError(where, "must be \"upstream\" or \"downstream\"");
  const auto text = value.get<std::string>();
  if (text == "upstream") return Direction::upstream;
  if (text == "downstream") return Direction::downstream;
  throw ConfigError(where, "must be \"upstream\" or \"downstream\", got \"" + text + "\"");
}

double parse_toxicity(const nlohmann::json& value, const std::string& where) {
  if (!value.is_number()) throw ConfigError(where, "must be a number from 0 to 1");
  const double p = value.get<double>();
  if (!(p >= 0.0 && p <= 1.0)) throw ConfigError(where, "must be from 0 to 1, got " + value.dump());
  return p;
}

std::shared_ptr<const ByteFault> build(const std::string& type, const nlohmann::json& attributes,
                                       const std::string& pointer) {
  const FaultType* ft = find_fault_type(type);
  if (!ft) throw ConfigError(pointer + "/type", "unknown fault type \"" + type + "\" (known: " + known_types() + ")");
  AttributeReader reader(attributes, pointer + "/attributes");
  auto fault = ft->make(reader);
  reader.finish();
  return fault;
}

}  // namespace

nlohmann::json FaultSpec::to_json() const {
  return {{"name", name},
          {"type", type},
          {"stream", std::string(to_string(direction))},
          {"toxicity", toxicity},
          {"attributes", fault ? fault->attributes() : nlohmann::json::object()}};
}

FaultSpec parse_fault(const nlohmann::json& toxic, const std::string& pointer) {
  if (!toxic.is_object()) throw ConfigError(pointer, "a fault must be a JSON object");
  static const std::set<std::string> wrapper = {"name", "type", "stream", "direction", "toxicity", "probability",
                                                "attributes"};
  for (auto it = toxic.begin(); it != toxic.end(); ++it)
    if (!wrapper.contains(it.key())) throw ConfigError(pointer + "/" + it.key(), "unknown field");

  FaultSpec spec;
  auto type = toxic.find("type");
  if (type == toxic.end() || !type->is_string() || type->get<std::string>().empty())
    throw ConfigError(pointer + "/type", "a fault needs a type (known: " + known_types() + ")");
  spec.type = type->get<std::string>();

  if (toxic.contains("stream") && toxic.contains("direction"))
    throw ConfigError(pointer + "/direction", "give stream or direction, not both");
  if (auto it = toxic.find("stream"); it != toxic.end() && !it->is_null())
    spec.direction = parse_direction(*it, pointer + "/stream");
  if (auto it = toxic.find("direction"); it != toxic.end() && !it->is_null())
    spec.direction = parse_direction(*it, pointer + "/direction");

  if (toxic.contains("toxicity") && toxic.contains("probability"))
    throw ConfigError(pointer + "/probability", "give toxicity or probability, not both");
  if (auto it = toxic.find("toxicity"); it != toxic.end() && !it->is_null())
    spec.toxicity = parse_toxicity(*it, pointer + "/toxicity");
  if (auto it = toxic.find("probability"); it != toxic.end() && !it->is_null())
    spec.toxicity = parse_toxicity(*it, pointer + "/probability");

  if (auto it = toxic.find("name"); it != toxic.end() && !it->is_null()) {
    if (!it->is_string()) throw ConfigError(pointer + "/name", "must be a string");
    spec.name = it->get<std::string>();
  }
  if (spec.name.empty()) spec.name = spec.type + "_" + std::string(to_string(spec.direction));
  if (spec.name.find('/') != std::string::npos) throw ConfigError(pointer + "/name", "must not contain '/'");

  const auto attributes = toxic.contains("attributes") ? toxic.at("attributes") : nlohmann::json::object();
  spec.fault = build(spec.type, attributes, pointer);
  if (spec.fault->takes_link_down() && spec.toxicity != 1.0)
    throw ConfigError(pointer + "/toxicity", "a " + spec.type + " fault acts on the whole link; toxicity must be 1");
  return spec;
}

FaultSpec update_fault_spec(const FaultSpec& current, const nlohmann::json& patch, const std::string& pointer) {
  if (!patch.is_object()) throw ConfigError(pointer, "an update must be a JSON object");
  nlohmann::json merged = current.to_json();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key() == "attributes") {
      if (!it->is_object()) throw ConfigError(pointer + "/attributes", "attributes must be an object");
      for (auto a = it->begin(); a != it->end(); ++a) merged["attributes"][a.key()] = a.value();
    } else if ((it.key() == "name" || it.key() == "type") && !it->is_null() && *it != merged[it.key()]) {
      throw ConfigError(pointer + "/" + it.key(), "cannot be changed by an update");
    } else if (it.key() == "direction") {
      merged.erase("stream");
      merged[it.key()] = it.value();
    } else if (it.key() == "probability") {
      merged.erase("toxicity");
      merged[it.key()] = it.value();
    } else {
      merged[it.key()] = it.value();
    }
  }
  return parse_fault(merged, pointer);
}

FaultSpec parse_fault_text(std::string_view text) {
  const std::string where = "--fault " + std::string(text);
  if (!text.empty() && text.front() == '{') {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded()) throw ConfigError(where, "not valid JSON");
    return parse_fault(json, "");
  }
  nlohmann::json toxic = {{"attributes", nlohmann::json::object()}};
  std::size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (first) {
      if (item.empty() || item.find('=') != std::string_view::npos)
        throw ConfigError(where, "must start with the fault type, as in latency,latency=100");
      toxic["type"] = std::string(item);
      first = false;
      continue;
    }
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) throw ConfigError(where, "\"" + std::string(item) + "\" is not KEY=VALUE");
    const std::string key(item.substr(0, eq));
    const std::string value(item.substr(eq + 1));
    if (key == "name" || key == "stream" || key == "direction") {
      toxic[key] = value;
      continue;
    }
    double number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || end != value.data() + value.size())
      throw ConfigError(where, key + " must be a number, got \"" + value + "\"");
    nlohmann::json json_number = std::fabs(number) < 9e15 && number == std::floor(number)
                                     ? nlohmann::json(static_cast<std::int64_t>(number))
                                     : nlohmann::json(number);
    if (key == "toxicity" || key == "probability")
      toxic[key] = number;
    else
      toxic["attributes"][key] = json_number;
  }
  try {
    return parse_fault(toxic, "");
  } catch (const ConfigError& e) {
    throw ConfigError(where, e.what());
  }
}

}  // namespace faultline
