#pragma once
// What a simulated MCP client does when things go wrong: its policies, and the
// profiles that bundle them. A profile is JSON a user can copy and edit
// (`faultline simulate --show-profile NAME`); every key is one policy switch,
// durations are milliseconds, and null means "never" / "no limit".

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::sim {

using Millis = std::chrono::milliseconds;

enum class ReconnectMode : std::uint8_t { none, fixed, exponential };
// When the reconnect attempt counter starts again from zero.
enum class AttemptReset : std::uint8_t {
  reconnected,  // as soon as a reconnect succeeds (the TypeScript SDK)
  first_ok,     // after the first request that succeeds on the new connection
  never,        // max_attempts counts over the client's whole life
};

struct ClientPolicy {
  std::string description;

  // --- requests
  std::optional<Millis> request_timeout = Millis(30'000);  // null: wait forever
  bool reset_timeout_on_progress = true;
  std::optional<Millis> max_request_time = Millis(120'000);  // hard cap even with progress; null: none
  bool cancel_on_give_up = true;  // notifications/cancelled for a request that timed out
  bool fail_pending_on_drop = true;  // a dropped transport ends every pending request (rpc.lost)

  // --- liveness
  std::optional<Millis> ping_interval;  // null: no pings
  std::uint32_t missed_pings_limit = 3;  // this many unanswered pings in a row: disconnect

  // --- reconnecting
  ReconnectMode reconnect = ReconnectMode::exponential;
  Millis reconnect_delay = Millis(500);   // fixed delay, or the first exponential one
  double reconnect_multiplier = 2.0;
  Millis reconnect_max_delay = Millis(10'000);
  double reconnect_jitter = 0.2;  // each delay scaled by a uniform factor in [1 - j, 1 + j]
  std::optional<std::uint32_t> max_attempts = 10;  // null: no limit
  AttemptReset reset_attempts = AttemptReset::reconnected;
  bool restart_stdio_server = true;  // a stdio server that died is started again (as a reconnect)

  // --- streams (Streamable HTTP and the legacy SSE transport)
  bool get_stream = true;            // open the GET stream for server notifications
  bool reconnect_sse_stream = true;  // an SSE stream that closes before its answer is resumed by GET
  bool honour_retry = true;          // wait the server's `retry:` before resuming
  bool resume_with_last_event_id = true;

  // --- sessions
  bool reinitialize_on_404 = true;
  bool reinitialize_on_400 = false;
  bool relist_after_reconnect = true;
  bool relist_on_list_changed = true;
};

// The built-in profiles, in the order --list-profiles shows them.
std::vector<std::string> builtin_profile_names();
// A built-in profile's JSON; nullopt for an unknown name.
std::optional<nlohmann::json> builtin_profile(std::string_view name);

// Reads a profile: every key optional (a missing one keeps the value of the
// profile named by "base", default "resilient"). Throws ConfigError naming
// `where` and the JSON pointer for an unknown key (with the nearest valid
// name), a wrong type or an out-of-range value.
ClientPolicy parse_profile(const nlohmann::json& profile, const std::string& where);
// A profile by name (built-in) or from a file. Throws ConfigError.
ClientPolicy load_profile(const std::string& name_or_file);
nlohmann::json profile_to_json(const ClientPolicy& policy);

}  // namespace faultline::sim
