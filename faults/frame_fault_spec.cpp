#include "faults/frame_fault_spec.hpp"

#include <charconv>
#include <set>
#include <utility>

#include "core/errors.hpp"
#include "faults/attribute_reader.hpp"
#include "faults/fault_text.hpp"
#include "faults/fault_wrapper.hpp"
#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

std::string known_types() {
  std::string list;
  for (const auto& type : frame_fault_types()) list += (list.empty() ? "" : ", ") + std::string(type.name);
  return list;
}

FrameFaultSpec parse(const nlohmann::json& fault, const std::string& pointer, bool from_text) {
  static const std::set<std::string> fields = {"name",  "type",       "stream", "direction", "toxicity", "probability",
                                               "match", "attributes", "after",  "for",       "count"};
  const auto wrapper = parse_fault_wrapper(fault, pointer, fields, known_types(), from_text);
  FrameFaultSpec spec;
  spec.type = wrapper.type;
  const FrameFaultType* ft = find_frame_fault_type(spec.type);
  if (!ft) throw ConfigError(pointer + "/type", "unknown frame fault type \"" + spec.type + "\" (known: " + known_types() + ")");
  spec.direction = wrapper.direction.value_or(ft->default_direction);
  const std::string& direction_at = wrapper.direction_at;
  if (ft->rule == DirectionRule::upstream_only && spec.direction != Direction::upstream)
    throw ConfigError(direction_at, "a " + spec.type + " fault acts on requests from the client: stream must be upstream");
  if (ft->rule == DirectionRule::downstream_only && spec.direction != Direction::downstream)
    throw ConfigError(direction_at, "a " + spec.type + " fault acts on the server's output: stream must be downstream");

  spec.probability = wrapper.probability;
  spec.schedule = wrapper.schedule;
  if (auto it = fault.find("match"); it != fault.end()) spec.match = parse_frame_match(*it, pointer + "/match");
  spec.name = wrapper.name_or_default(spec.direction);

  const auto attributes = fault.contains("attributes") ? fault.at("attributes") : nlohmann::json::object();
  AttributeReader reader(attributes, pointer + "/attributes", from_text);
  spec.fault = ft->make(reader);
  reader.finish();
  return spec;
}

// "websocket only: faultline proxy --protocol websocket" for a type's transports.
std::string transports_needed(unsigned transports) {
  static constexpr std::pair<unsigned, std::string_view> kNames[] = {
      {kStdio, "stdio"}, {kWebSocket, "websocket"}, {kHttp, "http"}};
  std::string names;
  for (const auto& [bit, name] : kNames)
    if (transports & bit) names += (names.empty() ? "" : " or ") + std::string(name);
  if (transports == kStdio) return "stdio only: faultline wrap";
  if (transports == kWebSocket || transports == kHttp) return names + " only: faultline proxy --protocol " + names;
  return "needs a " + names + " link";
}

// Whether the type has an attribute named `key` (duplicate's count, reorder's
// after): in the text form the attribute keeps such a key, and the schedule of
// that type is given in JSON.
bool has_attribute(const std::string& type, const std::string& key) {
  if (key != "after" && key != "for" && key != "count") return false;  // the only names that can collide
  const FrameFaultType* ft = find_frame_fault_type(type);
  if (!ft) return false;
  try {
    const auto none = nlohmann::json::object();  // the reader keeps a reference
    AttributeReader defaults(none, "", false);
    return ft->make(defaults)->attributes().contains(key);
  } catch (const ConfigError&) {
    return false;  // a type with required attributes: none of them is named like a schedule field
  }
}

}  // namespace

void check_frame_fault_transport(const FrameFaultSpec& spec, std::string_view transport, const std::string& pointer) {
  const auto* type = find_frame_fault_type(spec.type);
  if (type && !(type->transports & transport_bit(transport)))
    throw ConfigError(pointer + "/type", "a " + spec.type + " fault does not work on a " + std::string(transport) +
                                             " link (" + transports_needed(type->transports) + ")");
  // An http link runs a fault's stage per exchange, where no stream is open
  // between exchanges for a timed trigger to write into.
  if (transport_bit(transport) == kHttp && spec.fault) {
    const auto attributes = spec.fault->attributes();
    if (auto it = attributes.find("after_ms"); it != attributes.end() && it->is_number())
      throw ConfigError(pointer + "/attributes/after_ms",
                        "a timed trigger does not work on an http link (nothing is streaming between exchanges); "
                        "drop after_ms so the fault acts on matched messages");
  }
  if (!spec.match.session.empty() && transport_bit(transport) != kHttp)
    throw ConfigError(pointer + "/match/session",
                      "a session match needs an http link (only http messages carry an Mcp-Session-Id); this link's "
                      "transport is " + std::string(transport));
}

nlohmann::json FrameFaultSpec::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"type", type},
                      {"stream", std::string(to_string(direction))},
                      {"probability", probability},
                      {"attributes", fault ? fault->attributes() : nlohmann::json::object()}};
  if (!match.empty()) j["match"] = match.to_json();
  schedule.add_to(j);
  return j;
}

FrameFaultSpec parse_frame_fault(const nlohmann::json& fault, const std::string& pointer, bool from_text) {
  return parse(fault, pointer, from_text);
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
  const auto parts = split_fault_text(text, where, "drop,method=tools/call");
  nlohmann::json fault = {{"type", parts.type}, {"attributes", nlohmann::json::object()}};
  for (const auto& [key, value] : parts.items) {
    if (is_wrapper_text_key(key) && !has_attribute(parts.type, key)) {
      fault[key] = value;
    } else if (key == "method" || key == "kind" || key == "session") {
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
