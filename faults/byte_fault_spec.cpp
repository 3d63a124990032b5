#include "faults/byte_fault_spec.hpp"

#include <set>

#include "core/errors.hpp"
#include "faults/fault_text.hpp"
#include "faults/fault_wrapper.hpp"
#include "faults/frame_registry.hpp"
#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

std::string known_types() {
  std::string list;
  for (const auto& type : fault_types()) {
    if (!list.empty()) list += ", ";
    list += type.name;
  }
  list += "; on websocket and http links also";
  for (const auto& type : frame_fault_types()) list += " " + std::string(type.name);
  return list;
}

// The type named by a toxic object, when it names a frame fault type.
bool names_frame_type(const nlohmann::json& toxic) {
  if (!toxic.is_object()) return false;
  auto it = toxic.find("type");
  return it != toxic.end() && it->is_string() && find_frame_fault_type(it->get<std::string>()) != nullptr;
}

FaultSpec from_frame_spec(FrameFaultSpec frame) {
  FaultSpec spec;
  spec.name = frame.name;
  spec.type = frame.type;
  spec.direction = frame.direction;
  spec.toxicity = frame.probability;
  spec.schedule = frame.schedule;
  spec.frame = std::make_shared<const FrameFaultSpec>(std::move(frame));
  return spec;
}

std::shared_ptr<const ByteFault> build(const std::string& type, const nlohmann::json& attributes,
                                       const std::string& pointer, bool from_text) {
  const FaultType* ft = find_fault_type(type);
  if (!ft) throw ConfigError(pointer + "/type", "unknown fault type \"" + type + "\" (known: " + known_types() + ")");
  AttributeReader reader(attributes, pointer + "/attributes", from_text);
  auto fault = ft->make(reader);
  reader.finish();
  return fault;
}

}  // namespace

nlohmann::json FaultSpec::to_json() const {
  if (frame) {
    auto j = frame->to_json();
    j.erase("probability");
    j["toxicity"] = toxicity;
    return j;
  }
  nlohmann::json j = {{"name", name},
                      {"type", type},
                      {"stream", std::string(to_string(direction))},
                      {"toxicity", toxicity},
                      {"attributes", fault ? fault->attributes() : nlohmann::json::object()}};
  schedule.add_to(j);
  return j;
}

FaultPtr make_fault(FaultSpec spec) {
  if (spec.schedule.count && !spec.budget) spec.budget = std::make_shared<FaultBudget>(*spec.schedule.count);
  return std::make_shared<const FaultSpec>(std::move(spec));
}

FaultSpec parse_fault(const nlohmann::json& toxic, const std::string& pointer, bool from_text) {
  if (names_frame_type(toxic)) return from_frame_spec(parse_frame_fault(toxic, pointer, from_text));
  static const std::set<std::string> fields = {"name",        "type",       "stream", "direction", "toxicity",
                                               "probability", "attributes", "after",  "for",       "count"};
  const auto wrapper = parse_fault_wrapper(toxic, pointer, fields, known_types(), from_text);
  FaultSpec spec;
  spec.type = wrapper.type;
  spec.direction = wrapper.direction.value_or(Direction::downstream);
  spec.toxicity = wrapper.probability;
  spec.name = wrapper.name_or_default(spec.direction);
  spec.schedule = wrapper.schedule;
  const auto attributes = toxic.contains("attributes") ? toxic.at("attributes") : nlohmann::json::object();
  spec.fault = build(spec.type, attributes, pointer, from_text);
  if (spec.fault->takes_link_down() && spec.toxicity != 1.0)
    throw ConfigError(pointer + "/toxicity", "a " + spec.type + " fault acts on the whole link; toxicity must be 1");
  return spec;
}

FaultSpec update_fault_spec(const FaultSpec& current, const nlohmann::json& patch, const std::string& pointer) {
  if (!patch.is_object()) throw ConfigError(pointer, "an update must be a JSON object");
  nlohmann::json merged = current.to_json();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key() == "match") {
      merged["match"] = it.value();
    } else if (it.key() == "attributes") {
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
  auto spec = parse_fault(merged, pointer);
  // The count goes on where it was unless the update changed it.
  if (spec.schedule.count == current.schedule.count) spec.budget = current.budget;
  return spec;
}

FaultSpec parse_fault_text(std::string_view text) {
  const std::string where = "--fault " + std::string(text);
  const auto type_end = text.find(',');
  if (find_frame_fault_type(text.substr(0, type_end))) return from_frame_spec(parse_frame_fault_text(text));
  if (!text.empty() && text.front() == '{') {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded()) throw ConfigError(where, "not valid JSON");
    try {
      return parse_fault(json, "");
    } catch (const ConfigError& e) {
      throw ConfigError(where, e.what());
    }
  }
  const auto parts = split_fault_text(text, where, "latency,latency=100");
  nlohmann::json toxic = {{"type", parts.type}, {"attributes", nlohmann::json::object()}};
  for (const auto& [key, value] : parts.items) {
    if (is_wrapper_text_key(key)) {
      toxic[key] = value;  // checked, and converted where numeric, by parse_fault
    } else {
      toxic["attributes"][key] = value;  // converted and checked by the type's AttributeReader
    }
  }
  try {
    return parse_fault(toxic, "", /*from_text=*/true);
  } catch (const ConfigError& e) {
    throw ConfigError(where, e.what());
  }
}

}  // namespace faultline
