#pragma once
// Reads a fault's attributes object with validation: each value is checked
// for type and range, and anything left unread is an error. Every error names
// the JSON pointer of the bad value.

#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace faultline {

class AttributeReader {
 public:
  AttributeReader(const nlohmann::json& attributes, std::string pointer);

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  double number(const std::string& key, double fallback, double min, double max);
  // Throws ConfigError for any attribute that no read asked for.
  void finish() const;
  const std::string& pointer() const { return pointer_; }

 private:
  const nlohmann::json* find(const std::string& key);
  const nlohmann::json& attributes_;
  std::string pointer_;
  std::set<std::string> read_;
};

}  // namespace faultline
