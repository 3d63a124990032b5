#include "sim/mock_behaviour.hpp"

#include <algorithm>

#include "core/config_text.hpp"
#include "core/errors.hpp"

namespace faultline::sim {
namespace {

const std::vector<std::string> kKeys = {"banner",         "slow_start_ms",          "stall_after",
                                        "answer_late_ms", "stall",                  "session_ttl_ms",
                                        "unknown_session_status", "idle_exit_ms", "drop_notifications"};
constexpr std::int64_t kMaxMs = 86'400'000;  // a day: longer is a typo

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

std::string nearest_behaviour_key(const std::string& key) { return nearest_name(key, kKeys); }

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
      const auto near = nearest_behaviour_key(key);
      std::string valid;
      for (const auto& k : kKeys) valid += (valid.empty() ? "" : ", ") + k;
      throw ConfigError(pointer, near.empty() ? "unknown key; the keys are " + valid
                                              : "unknown key; did you mean \"" + near + "\"?");
    }
  }
  return out;
}

}  // namespace faultline::sim
