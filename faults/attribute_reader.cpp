#include "faults/attribute_reader.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace faultline {

AttributeReader::AttributeReader(const nlohmann::json& attributes, std::string pointer)
    : attributes_(attributes), pointer_(std::move(pointer)) {
  if (!attributes_.is_null() && !attributes_.is_object())
    throw ConfigError(pointer_, "attributes must be an object");
}

const nlohmann::json* AttributeReader::find(const std::string& key) {
  read_.insert(key);
  if (!attributes_.is_object()) return nullptr;
  auto it = attributes_.find(key);
  return it == attributes_.end() || it->is_null() ? nullptr : &*it;
}

std::int64_t AttributeReader::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                                      std::int64_t max) {
  const auto* value = find(key);
  if (!value) return fallback;
  const std::string where = pointer_ + "/" + key;
  std::int64_t result = 0;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(max))
      throw ConfigError(where, "must be at most " + std::to_string(max));
    result = value->get<std::int64_t>();
  } else if (value->is_number_float()) {
    const double d = value->get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) throw ConfigError(where, "must be a whole number");
    if (d < static_cast<double>(min) || d > static_cast<double>(max))
      throw ConfigError(where, "must be from " + std::to_string(min) + " to " + std::to_string(max));
    result = static_cast<std::int64_t>(d);
  } else {
    throw ConfigError(where, "must be a number, got " + std::string(value->type_name()));
  }
  if (result < min || result > max)
    throw ConfigError(where, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                                 std::to_string(result));
  return result;
}

double AttributeReader::number(const std::string& key, double fallback, double min, double max) {
  const auto* value = find(key);
  if (!value) return fallback;
  const std::string where = pointer_ + "/" + key;
  if (!value->is_number()) throw ConfigError(where, "must be a number, got " + std::string(value->type_name()));
  const double d = value->get<double>();
  if (!std::isfinite(d) || d < min || d > max)
    throw ConfigError(where, "must be from " + nlohmann::json(min).dump() + " to " + nlohmann::json(max).dump());
  return d;
}

void AttributeReader::finish() const {
  if (!attributes_.is_object()) return;
  for (auto it = attributes_.begin(); it != attributes_.end(); ++it) {
    if (!read_.contains(it.key())) throw ConfigError(pointer_ + "/" + it.key(), "unknown attribute");
  }
}

}  // namespace faultline
