#include "sim/client/schema_args.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace faultline::sim {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 8;  // a recursive schema still ends

// A bounded limit of the schema: `key` if it is a number, else `fallback`.
double limit(const json& schema, const char* key, double fallback) {
  auto it = schema.find(key);
  return it != schema.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string type_of(const json& schema) {
  auto it = schema.find("type");
  if (it == schema.end()) {
    if (schema.contains("properties")) return "object";
    if (schema.contains("items")) return "array";
    return "string";
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {  // ["string", "null"]: the first type that is not null
    for (const auto& t : *it)
      if (t.is_string() && t.get<std::string>() != "null") return t.get<std::string>();
    return "null";
  }
  return "string";
}

json make_string(const json& schema, Rng& rng) {
  const auto min_len = static_cast<std::int64_t>(std::max(0.0, limit(schema, "minLength", 1)));
  const auto max_len = static_cast<std::int64_t>(std::max(static_cast<double>(min_len), limit(schema, "maxLength", 12)));
  const auto length = rng.integer(min_len, std::min<std::int64_t>(max_len, min_len + 16));
  std::string text;
  for (std::int64_t i = 0; i < length; ++i) text += static_cast<char>('a' + rng.integer(0, 25));
  return text;
}

json make_number(const json& schema, Rng& rng, bool integer) {
  double lo = limit(schema, "minimum", integer ? 0 : 0.0);
  double hi = limit(schema, "maximum", std::max(lo, 0.0) + 100);
  if (auto it = schema.find("exclusiveMinimum"); it != schema.end() && it->is_number())
    lo = it->get<double>() + (integer ? 1 : 1e-6);
  if (auto it = schema.find("exclusiveMaximum"); it != schema.end() && it->is_number())
    hi = it->get<double>() - (integer ? 1 : 1e-6);
  if (hi < lo) hi = lo;
  if (integer) {
    // Small values where the range allows: a tool told to sleep or allocate
    // "a number" should not be told to sleep for hours.
    const auto ilo = static_cast<std::int64_t>(std::ceil(lo));
    const auto ihi = std::max(ilo, static_cast<std::int64_t>(std::floor(std::min(hi, lo + 100))));
    return rng.integer(ilo, ihi);
  }
  return std::round(rng.uniform(lo, std::min(hi, lo + 100)) * 1000) / 1000;
}

}  // namespace

json generate_value(const json& schema, Rng& rng, int depth) {
  if (!schema.is_object()) return "x";
  if (auto it = schema.find("const"); it != schema.end()) return *it;
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array() && !it->empty())
    return (*it)[static_cast<std::size_t>(rng.integer(0, static_cast<std::int64_t>(it->size()) - 1))];
  if (auto it = schema.find("default"); it != schema.end()) return *it;
  for (const char* alternative : {"anyOf", "oneOf"})
    if (auto it = schema.find(alternative); it != schema.end() && it->is_array() && !it->empty())
      return generate_value((*it)[0], rng, depth + 1);
  const auto type = type_of(schema);
  if (type == "string") return make_string(schema, rng);
  if (type == "integer") return make_number(schema, rng, true);
  if (type == "number") return make_number(schema, rng, false);
  if (type == "boolean") return rng.chance(0.5);
  if (type == "null") return nullptr;
  if (type == "array") {
    json out = json::array();
    if (depth >= kMaxDepth) return out;
    const auto min_items = static_cast<std::int64_t>(std::max(0.0, limit(schema, "minItems", 1)));
    const auto max_items = static_cast<std::int64_t>(std::max(static_cast<double>(min_items), limit(schema, "maxItems", 3)));
    const auto count = rng.integer(min_items, std::min<std::int64_t>(max_items, min_items + 3));
    const json items = schema.contains("items") ? schema["items"] : json::object();
    for (std::int64_t i = 0; i < count; ++i) out.push_back(generate_value(items, rng, depth + 1));
    return out;
  }
  if (type == "object") {
    if (depth >= kMaxDepth) return json::object();
    return generate_arguments(schema, rng);
  }
  return "x";
}

json generate_arguments(const json& schema, Rng& rng) {
  json out = json::object();
  if (!schema.is_object()) return out;
  const auto props = schema.find("properties");
  const auto required = schema.find("required");
  if (required == schema.end() || !required->is_array()) return out;
  for (const auto& name : *required) {
    if (!name.is_string()) continue;
    const auto key = name.get<std::string>();
    const json property = props != schema.end() && props->is_object() && props->contains(key) ? (*props)[key]
                                                                                            : json::object();
    out[key] = generate_value(property, rng, 1);
  }
  return out;
}

}  // namespace faultline::sim
