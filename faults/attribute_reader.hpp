#pragma once
// Reads a fault's attributes object with validation: each value is checked
// for type and range, and anything left unread is an error. Every error names
// the JSON pointer of the bad value. Values from the command line's text form
// (`from_text`) arrive as strings and are converted here; JSON values must
// have the right type.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

class AttributeReader {
 public:
  AttributeReader(const nlohmann::json& attributes, std::string pointer, bool from_text = false);

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  std::optional<std::int64_t> optional_integer(const std::string& key, std::int64_t min, std::int64_t max);
  double number(const std::string& key, double fallback, double min, double max);
  std::string string(const std::string& key, std::string fallback);
  std::string choice(const std::string& key, std::string fallback, const std::vector<std::string>& allowed);
  // A signal by name (KILL, SIGKILL) or number.
  int signal(const std::string& key, int fallback);
  // Throws ConfigError for any attribute that no read asked for.
  void finish() const;
  const std::string& pointer() const { return pointer_; }

 private:
  const nlohmann::json* find(const std::string& key);
  // The value as a number, converting text-form strings; throws naming `where`.
  double as_number(const nlohmann::json& value, const std::string& where) const;

  const nlohmann::json& attributes_;
  std::string pointer_;
  bool from_text_;
  std::set<std::string> read_;
};

// "SIGKILL" / "KILL" / "9" -> 9; nullopt when unknown.
std::optional<int> parse_signal(std::string_view text);
std::string signal_name(int signo);

}  // namespace faultline
