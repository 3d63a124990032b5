#include "core/config_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "core/errors.hpp"

namespace faultline {

std::optional<double> duration_text_ms(std::string_view text) {
  double number = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc{} || rest == begin) return std::nullopt;
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  if (unit.empty() || unit == "ms") return number;
  if (unit == "s") return number * 1000;
  if (unit == "m") return number * 60'000;
  if (unit == "h") return number * 3'600'000;
  if (unit == "d") return number * 86'400'000;
  return std::nullopt;
}

std::string shown_value(const nlohmann::json& value) {
  auto text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::chrono::milliseconds read_duration(const nlohmann::json& value, const std::string& where,
                                        std::chrono::milliseconds min, std::chrono::milliseconds max) {
  std::optional<double> ms;
  if (value.is_number()) ms = value.get<double>();
  else if (value.is_string()) ms = duration_text_ms(value.get_ref<const std::string&>());
  if (!ms || !std::isfinite(*ms))
    throw ConfigError(where, "must be a duration: milliseconds, or a string such as \"500ms\", \"2s\" or \"5m\"; got " +
                                 shown_value(value));
  if (*ms < static_cast<double>(min.count()) || *ms > static_cast<double>(max.count()))
    throw ConfigError(where, "must be from " + std::to_string(min.count()) + " ms to " + std::to_string(max.count()) +
                                 " ms, got " + shown_value(value));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*ms)));
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string nearest_name(std::string_view name, const std::vector<std::string>& valid) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& candidate : valid) {
    const auto d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

void check_keys(const nlohmann::json& object, const std::string& pointer, const std::vector<std::string>& valid) {
  if (!object.is_object()) throw ConfigError(pointer, "must be an object, got " + shown_value(object));
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(valid.begin(), valid.end(), it.key()) != valid.end()) continue;
    const auto near = nearest_name(it.key(), valid);
    throw ConfigError(pointer + "/" + it.key(),
                      near.empty() ? "unknown key" : "unknown key; did you mean \"" + near + "\"?");
  }
}

void check_keys(const nlohmann::json& object, const std::string& pointer, std::initializer_list<const char*> valid) {
  check_keys(object, pointer, std::vector<std::string>(valid.begin(), valid.end()));
}

}  // namespace faultline
