#pragma once
// What the mock MCP server does wrong, and when: one live object the sessions
// read on every request, set from the command line at start and changed at
// run time through the control endpoint (PATCH /behaviour). Its JSON form is
// what GET /behaviour shows and what PATCH takes, key by key.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::sim {

struct MockBehaviour {
  std::string banner;                                  // a non-JSON line written before anything else (stdio)
  std::chrono::milliseconds slow_start{0};             // no answer before this long after start
  std::optional<std::uint64_t> stall_after;            // requests a session answers before it stops answering
  std::chrono::milliseconds answer_late{0};            // every tools/call answered this much later
  bool stall = false;                                  // answer nothing from now on; connections stay
  std::chrono::milliseconds session_ttl{0};            // sessions expire this long after initialize (0: never)
  int unknown_session_status = 404;                    // HTTP status for an unknown or expired session id
  std::chrono::milliseconds idle_exit{0};              // exit after this long with no request (0: never)
  std::vector<std::string> drop_notifications;         // notification methods recorded but never written

  bool drops(const std::string& method) const;
};

// The behaviour as JSON: banner, slow_start_ms, stall_after (null: never),
// answer_late_ms, stall, session_ttl_ms, unknown_session_status,
// idle_exit_ms, drop_notifications.
nlohmann::json to_json(const MockBehaviour& b);

// Applies `changes` (a JSON object of some of those keys) to a copy of `b`
// and returns it; `b` is untouched when anything is wrong. Throws ConfigError
// naming the JSON pointer: an unknown key (with the nearest valid name, or
// all of them when none is close), a
// value of the wrong type or out of range.
MockBehaviour patched(const MockBehaviour& b, const nlohmann::json& changes);

// The valid key nearest to `key` by edit distance, "" when none is close.
std::string nearest_behaviour_key(const std::string& key);

}  // namespace faultline::sim
