#pragma once
// Checks for the numeric options of every subcommand, run on the text as given
// before CLI11 converts it: text that is not a number, nan, an infinity, a
// negative number for an unsigned option and anything outside the option's
// range are refused with one line naming the rule and what was given, which
// CLI11 prefixes with the option ("--duration: must be a number of seconds
// from 0 to 31536000, got nan"); the command exits 2. Without them CLI11 lets
// nan through a range check and wraps -1 into an unsigned option's 2^64-1.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <spdlog/fmt/fmt.h>

namespace faultline::cli {

// A number (a decimal fraction or exponent allowed) from `min` to `max`;
// `what` names it: "a number of seconds".
inline CLI::Validator number_in(double min, double max, std::string what) {
  const std::string rule = "must be " + what + " from " + fmt::format("{}", min) + " to " + fmt::format("{}", max);
  return CLI::Validator(
      [min, max, rule](std::string& text) -> std::string {
        double value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        const bool whole_text = ec == std::errc{} && end == text.data() + text.size();
        if (!whole_text || !std::isfinite(value) || value < min || value > max)
          return rule + ", got " + (text.empty() ? "\"\"" : text);
        return {};
      },
      "in [" + fmt::format("{}", min) + " - " + fmt::format("{}", max) + "]");
}

// A whole number from `min` to `max`, written in decimal digits; `what` names
// it: "a whole number of milliseconds".
inline CLI::Validator whole_number_in(std::uint64_t min, std::uint64_t max, std::string what) {
  const std::string rule = "must be " + what + " from " + std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, rule](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        const bool whole_text = ec == std::errc{} && end == text.data() + text.size();
        if (!whole_text || value < min || value > max) return rule + ", got " + (text.empty() ? "\"\"" : text);
        return {};
      },
      "in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

// The range of a seed: any 64-bit unsigned number.
inline CLI::Validator seed_number() { return whole_number_in(0, UINT64_MAX, "a whole number"); }

}  // namespace faultline::cli
