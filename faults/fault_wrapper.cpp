#include "faults/fault_wrapper.hpp"

#include <charconv>

#include "core/errors.hpp"

namespace faultline {
namespace {

Direction parse_direction(const nlohmann::json& value, const std::string& where) {
  if (!value.is_string()) throw ConfigError(where, "must be \"upstream\" or \"downstream\"");
  const auto text = value.get<std::string>();
  if (text == "upstream") return Direction::upstream;
  if (text == "downstream") return Direction::downstream;
  throw ConfigError(where, "must be \"upstream\" or \"downstream\", got \"" + text + "\"");
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
  if (!(p >= 0.0 && p <= 1.0)) throw ConfigError(where, "must be from 0 to 1, got " + value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return p;
}

}  // namespace

FaultWrapper parse_fault_wrapper(const nlohmann::json& fault, const std::string& pointer,
                                 const std::set<std::string>& fields, std::string_view known_types, bool from_text) {
  if (!fault.is_object()) throw ConfigError(pointer, "a fault must be a JSON object");
  for (auto it = fault.begin(); it != fault.end(); ++it)
    if (!fields.contains(it.key())) throw ConfigError(pointer + "/" + it.key(), "unknown field");

  FaultWrapper w;
  auto type = fault.find("type");
  if (type == fault.end() || !type->is_string() || type->get<std::string>().empty())
    throw ConfigError(pointer + "/type", "a fault needs a type (known: " + std::string(known_types) + ")");
  w.type = type->get<std::string>();

  if (fault.contains("stream") && fault.contains("direction"))
    throw ConfigError(pointer + "/direction", "give stream or direction, not both");
  for (const char* key : {"stream", "direction"}) {
    if (auto it = fault.find(key); it != fault.end() && !it->is_null()) {
      w.direction_at = pointer + "/" + key;
      w.direction = parse_direction(*it, w.direction_at);
    }
  }

  if (fault.contains("toxicity") && fault.contains("probability"))
    throw ConfigError(pointer + "/probability", "give toxicity or probability, not both");
  for (const char* key : {"toxicity", "probability"})
    if (auto it = fault.find(key); it != fault.end() && !it->is_null())
      w.probability = parse_probability(*it, pointer + "/" + key, from_text);

  if (auto it = fault.find("name"); it != fault.end() && !it->is_null()) {
    if (!it->is_string()) throw ConfigError(pointer + "/name", "must be a string");
    w.name = it->get<std::string>();
    if (w.name.find('/') != std::string::npos) throw ConfigError(pointer + "/name", "must not contain '/'");
  }
  w.schedule = parse_fault_schedule(fault, pointer, from_text);
  return w;
}

}  // namespace faultline
