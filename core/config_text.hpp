#pragma once
// Reading what users write in JSON files and on command lines, the same way
// everywhere: durations with a unit ("250ms", "2s", "5m"), and unknown keys
// refused with the nearest valid name, so a typo in a profile, a workload or a
// control request is named instead of silently ignored.

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

// "1.5s" -> 1500. Units: ms, s, m, h, d; no unit means milliseconds. nullopt
// when the text is not a number with one of those units.
std::optional<double> duration_text_ms(std::string_view text);

// A duration at `where`: a number of milliseconds or a string with a unit,
// within [min, max]. Throws ConfigError naming `where`.
std::chrono::milliseconds read_duration(const nlohmann::json& value, const std::string& where,
                                        std::chrono::milliseconds min, std::chrono::milliseconds max);

// The valid name closest to `name` (edit distance, at most about a third of
// its length), or "" when none is close.
std::string nearest_name(std::string_view name, const std::vector<std::string>& valid);

// Throws ConfigError for the first key of `object` not in `valid`, naming its
// pointer (`pointer`/KEY) and the nearest valid name when there is one. A
// value that is not an object is refused too.
void check_keys(const nlohmann::json& object, const std::string& pointer, std::initializer_list<const char*> valid);
void check_keys(const nlohmann::json& object, const std::string& pointer, const std::vector<std::string>& valid);

// A short rendering of a JSON value for an error message.
std::string shown_value(const nlohmann::json& value);

}  // namespace faultline
