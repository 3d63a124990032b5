#include "sim/mock_behaviour.hpp"

#include <algorithm>
#include <array>

#include "core/errors.hpp"

namespace faultline::sim {
namespace {

constexpr std::array<const char*, 9> kKeys = {"banner",         "slow_start_ms",          "stall_after",
                                              "answer_late_ms", "stall",                  "session_ttl_ms",
                                              "unknown_session_status", "idle_exit_ms", "drop_notifications"};
constexpr std::int64_t kMaxMs = 86'400'000;  // a day: longer is a typo

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
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

std::chrono::milliseconds milliseconds(const nlohmann::json& v, const std::string& pointer) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > kMaxMs)
    throw ConfigError(pointer, "must be a whole number of milliseconds from 0 to " + std::to_string(kMaxMs) +
                                   ", got " + v.dump());
  return std::chrono::milliseconds(v.get<std::int64_t>());
}

}  // namespace

bool MockBehaviour::drops(const std::string& method) const {
  return std::find(drop_notifications.begin(), drop_notifications.end(), method) != drop_notifications.end();
}

nlohmann::json to_json(const MockBehaviour& b) {
  return {{"banner", b.banner},
          {"slow_start_ms", b.slow_start.count()},
          {"stall_after", b.stall_after ? nlohmann::json(*b.stall_after) : nlohmann::json(nullptr)},
          {"answer_late_ms", b.answer_late.count()},
          {"stall", b.stall},
          {"session_ttl_ms", b.session_ttl.count()},
          {"unknown_session_status", b.unknown_session_status},
          {"idle_exit_ms", b.idle_exit.count()},
          {"drop_notifications", b.drop_notifications}};
}

std::string nearest_behaviour_key(const std::string& key) {
  const char* best = kKeys[0];
  std::size_t best_distance = SIZE_MAX;
  for (const char* k : kKeys) {
    const auto d = edit_distance(key, k);
    if (d < best_distance) best_distance = d, best = k;
  }
  return best;
}

MockBehaviour patched(const MockBehaviour& b, const nlohmann::json& changes) {
  if (!changes.is_object()) throw ConfigError("", "the behaviour changes must be a JSON object, got " + changes.dump());
  MockBehaviour out = b;
  for (const auto& [key, v] : changes.items()) {
    const auto pointer = "/" + key;
    if (key == "banner") {
      if (!v.is_string()) throw ConfigError(pointer, "must be a string");
      out.banner = v.get<std::string>();
    } else if (key == "slow_start_ms") {
      out.slow_start = milliseconds(v, pointer);
    } else if (key == "stall_after") {
      if (v.is_null()) {
        out.stall_after.reset();
      } else if (v.is_number_unsigned()) {
        out.stall_after = v.get<std::uint64_t>();
      } else {
        throw ConfigError(pointer, "must be a whole number from 0, or null for never, got " + v.dump());
      }
    } else if (key == "answer_late_ms") {
      out.answer_late = milliseconds(v, pointer);
    } else if (key == "stall") {
      if (!v.is_boolean()) throw ConfigError(pointer, "must be true or false, got " + v.dump());
      out.stall = v.get<bool>();
    } else if (key == "session_ttl_ms") {
      out.session_ttl = milliseconds(v, pointer);
    } else if (key == "unknown_session_status") {
      if (!v.is_number_integer() || (v.get<std::int64_t>() != 404 && v.get<std::int64_t>() != 400))
        throw ConfigError(pointer, "must be 404 or 400, got " + v.dump());
      out.unknown_session_status = v.get<int>();
    } else if (key == "idle_exit_ms") {
      out.idle_exit = milliseconds(v, pointer);
    } else if (key == "drop_notifications") {
      if (!v.is_array()) throw ConfigError(pointer, "must be an array of notification methods, got " + v.dump());
      std::vector<std::string> methods;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string() || v[i].get<std::string>().empty())
          throw ConfigError(pointer + "/" + std::to_string(i), "must be a notification method, got " + v[i].dump());
        methods.push_back(v[i].get<std::string>());
      }
      out.drop_notifications = std::move(methods);
    } else {
      throw ConfigError(pointer, "unknown key; the nearest valid one is \"" + nearest_behaviour_key(key) + "\"");
    }
  }
  return out;
}

}  // namespace faultline::sim
