#pragma once
// Reads a frame fault's attributes with validation, as AttributeReader does for
// byte faults, plus strings, choices and signal names. Values from the command
// line's text form arrive as strings and are converted here; JSON values must
// have the right type. Every error names the JSON pointer of the bad value.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

class FrameAttributes {
 public:
  FrameAttributes(const nlohmann::json& attributes, std::string pointer, bool from_text = false);

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  std::optional<std::int64_t> optional_integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::string string(const std::string& key, std::string fallback);
  std::string choice(const std::string& key, std::string fallback, const std::vector<std::string>& allowed);
  // A signal by name (KILL, SIGKILL) or number.
  int signal(const std::string& key, int fallback);
  // Throws ConfigError for any attribute that no read asked for.
  void finish() const;
  const std::string& pointer() const { return pointer_; }

 private:
  const nlohmann::json* find(const std::string& key);
  const nlohmann::json& attributes_;
  std::string pointer_;
  bool from_text_;
  std::set<std::string> read_;
};

// "SIGKILL" / "KILL" / "9" -> 9; nullopt when unknown.
std::optional<int> parse_signal(std::string_view text);
std::string signal_name(int signo);

}  // namespace faultline
