#include "sim/client/policy.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <functional>
#include <limits>
#include <sstream>

#include "core/config_text.hpp"
#include "core/errors.hpp"
#include "core/json_depth.hpp"

namespace faultline::sim {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxMillis = 86'400'000;  // a day: longer is a typo, not a policy

// The built-in profiles. Each states every key, so that --show-profile prints a
// complete file to copy.
const char* const kNaive = R"({
  "description": "Connects, calls, never gives up waiting and never reconnects: what a quick script does.",
  "request_timeout_ms": null, "reset_timeout_on_progress": false, "max_request_time_ms": null,
  "cancel_on_give_up": false, "fail_pending_on_drop": true,
  "ping_interval_ms": null, "missed_pings_limit": 3,
  "reconnect": "none", "reconnect_delay_ms": 1000, "reconnect_multiplier": 1.0, "reconnect_max_delay_ms": 1000,
  "reconnect_jitter": 0.0, "max_attempts": 0, "reset_attempts": "never", "restart_stdio_server": false,
  "get_stream": false, "reconnect_sse_stream": false, "honour_retry": false, "resume_with_last_event_id": false,
  "reinitialize_on_404": false, "reinitialize_on_400": false,
  "relist_after_reconnect": false, "relist_on_list_changed": false
})";

// The TypeScript SDK (1.x): DEFAULT_REQUEST_TIMEOUT_MSEC 60000 in shared/protocol.js,
// resetTimeoutOnProgress off and maxTotalTimeout unset by default; the
// Streamable HTTP transport resumes a stream with initialReconnectionDelay
// 1000, reconnectionDelayGrowFactor 1.5, maxReconnectionDelay 30000,
// maxRetries 2, using the server's retry: when given and Last-Event-ID. It
// sends no pings, does not re-initialize by itself and fails pending requests
// when the transport closes.
const char* const kSdkDefault = R"({
  "description": "The official TypeScript SDK client with its default options.",
  "request_timeout_ms": 60000, "reset_timeout_on_progress": false, "max_request_time_ms": null,
  "cancel_on_give_up": true, "fail_pending_on_drop": true,
  "ping_interval_ms": null, "missed_pings_limit": 3,
  "reconnect": "exponential", "reconnect_delay_ms": 1000, "reconnect_multiplier": 1.5,
  "reconnect_max_delay_ms": 30000, "reconnect_jitter": 0.0, "max_attempts": 2, "reset_attempts": "reconnected",
  "restart_stdio_server": false,
  "get_stream": true, "reconnect_sse_stream": true, "honour_retry": true, "resume_with_last_event_id": true,
  "reinitialize_on_404": false, "reinitialize_on_400": false,
  "relist_after_reconnect": false, "relist_on_list_changed": false
})";

// Claude Code's MCP client as public bug reports describe it; each reported
// behaviour is one switch (see README, "Profiles").
const char* const kClaudeCodeLike = R"({
  "description": "Claude Code's MCP client as public bug reports describe it: an SSE stream that closes is not resumed, tools are not re-listed after a reconnect or on list_changed, tool calls wait (almost) forever, an expired session (404) is not re-initialized, a dead stdio server is not restarted.",
  "request_timeout_ms": null, "reset_timeout_on_progress": false, "max_request_time_ms": null,
  "cancel_on_give_up": false, "fail_pending_on_drop": true,
  "ping_interval_ms": null, "missed_pings_limit": 3,
  "reconnect": "exponential", "reconnect_delay_ms": 1000, "reconnect_multiplier": 2.0,
  "reconnect_max_delay_ms": 30000, "reconnect_jitter": 0.0, "max_attempts": 5, "reset_attempts": "never",
  "restart_stdio_server": false,
  "get_stream": true, "reconnect_sse_stream": false, "honour_retry": false, "resume_with_last_event_id": false,
  "reinitialize_on_404": false, "reinitialize_on_400": false,
  "relist_after_reconnect": false, "relist_on_list_changed": false
})";

const char* const kResilient = R"({
  "description": "Does everything right: bounded timeouts reset by progress, pings, exponential backoff with jitter, resumes streams, re-initializes expired sessions, re-lists tools, restarts a dead stdio server.",
  "request_timeout_ms": 30000, "reset_timeout_on_progress": true, "max_request_time_ms": 120000,
  "cancel_on_give_up": true, "fail_pending_on_drop": true,
  "ping_interval_ms": 15000, "missed_pings_limit": 3,
  "reconnect": "exponential", "reconnect_delay_ms": 500, "reconnect_multiplier": 2.0,
  "reconnect_max_delay_ms": 10000, "reconnect_jitter": 0.2, "max_attempts": 10, "reset_attempts": "first_ok",
  "restart_stdio_server": true,
  "get_stream": true, "reconnect_sse_stream": true, "honour_retry": true, "resume_with_last_event_id": true,
  "reinitialize_on_404": true, "reinitialize_on_400": true,
  "relist_after_reconnect": true, "relist_on_list_changed": true
})";

struct Builtin {
  const char* name;
  const char* text;
};
const Builtin kBuiltins[] = {
    {"naive", kNaive}, {"sdk-default", kSdkDefault}, {"claude-code-like", kClaudeCodeLike}, {"resilient", kResilient}};

// One key of a profile: how to read it into a policy and write it back.
struct Field {
  const char* key;
  std::function<void(const json&, ClientPolicy&, const std::string& where)> read;
  std::function<json(const ClientPolicy&)> write;
};

std::int64_t integer_in(const json& v, std::int64_t lo, std::int64_t hi, const std::string& where) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
    throw ConfigError(where, "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                                 ", got " + v.dump());
  return v.get<std::int64_t>();
}

double number_in(const json& v, double lo, double hi, const std::string& where) {
  if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi)) {
    std::ostringstream rule;
    rule << "must be a number from " << lo << " to " << hi << ", got " << v.dump();
    throw ConfigError(where, rule.str());
  }
  return v.get<double>();
}

bool boolean(const json& v, const std::string& where) {
  if (!v.is_boolean()) throw ConfigError(where, "must be true or false, got " + v.dump());
  return v.get<bool>();
}

template <class E>
E choice(const json& v, std::initializer_list<std::pair<const char*, E>> options, const std::string& where) {
  std::string names;
  for (const auto& [name, value] : options) {
    if (v.is_string() && v.get<std::string>() == name) return value;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw ConfigError(where, "must be one of " + names + ", got " + v.dump());
}

template <class E>
const char* choice_name(E value, std::initializer_list<std::pair<const char*, E>> options) {
  for (const auto& [name, v] : options)
    if (v == value) return name;
  return "";
}

json millis_json(const std::optional<Millis>& d) { return d ? json(d->count()) : json(nullptr); }

std::optional<Millis> optional_millis(const json& v, const std::string& where) {
  if (v.is_null()) return std::nullopt;
  return Millis(integer_in(v, 1, kMaxMillis, where));
}

const std::initializer_list<std::pair<const char*, ReconnectMode>> kModes = {
    {"none", ReconnectMode::none}, {"fixed", ReconnectMode::fixed}, {"exponential", ReconnectMode::exponential}};
const std::initializer_list<std::pair<const char*, AttemptReset>> kResets = {
    {"reconnected", AttemptReset::reconnected}, {"first_ok", AttemptReset::first_ok}, {"never", AttemptReset::never}};

#define FL_BOOL(KEY, MEMBER)                                                                                  \
  Field {                                                                                                     \
    KEY, [](const json& v, ClientPolicy& p, const std::string& w) { p.MEMBER = boolean(v, w); },             \
        [](const ClientPolicy& p) { return json(p.MEMBER); }                                                 \
  }
#define FL_OPT_MS(KEY, MEMBER)                                                                                \
  Field {                                                                                                     \
    KEY, [](const json& v, ClientPolicy& p, const std::string& w) { p.MEMBER = optional_millis(v, w); },     \
        [](const ClientPolicy& p) { return millis_json(p.MEMBER); }                                          \
  }
#define FL_MS(KEY, MEMBER, LO)                                                                                \
  Field {                                                                                                     \
    KEY, [](const json& v, ClientPolicy& p, const std::string& w) { p.MEMBER = Millis(integer_in(v, LO, kMaxMillis, w)); }, \
        [](const ClientPolicy& p) { return json(p.MEMBER.count()); }                                         \
  }

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      Field{"description", [](const json& v, ClientPolicy& p, const std::string& w) {
              if (!v.is_string()) throw ConfigError(w, "must be a string, got " + v.dump());
              p.description = v.get<std::string>();
            }, [](const ClientPolicy& p) { return json(p.description); }},
      FL_OPT_MS("request_timeout_ms", request_timeout),
      FL_BOOL("reset_timeout_on_progress", reset_timeout_on_progress),
      FL_OPT_MS("max_request_time_ms", max_request_time),
      FL_BOOL("cancel_on_give_up", cancel_on_give_up),
      FL_BOOL("fail_pending_on_drop", fail_pending_on_drop),
      FL_OPT_MS("ping_interval_ms", ping_interval),
      Field{"missed_pings_limit", [](const json& v, ClientPolicy& p, const std::string& w) {
              p.missed_pings_limit = static_cast<std::uint32_t>(integer_in(v, 1, 1000, w));
            }, [](const ClientPolicy& p) { return json(p.missed_pings_limit); }},
      Field{"reconnect", [](const json& v, ClientPolicy& p, const std::string& w) { p.reconnect = choice(v, kModes, w); },
            [](const ClientPolicy& p) { return json(choice_name(p.reconnect, kModes)); }},
      FL_MS("reconnect_delay_ms", reconnect_delay, 0),
      Field{"reconnect_multiplier", [](const json& v, ClientPolicy& p, const std::string& w) {
              p.reconnect_multiplier = number_in(v, 1.0, 10.0, w);
            }, [](const ClientPolicy& p) { return json(p.reconnect_multiplier); }},
      FL_MS("reconnect_max_delay_ms", reconnect_max_delay, 0),
      Field{"reconnect_jitter", [](const json& v, ClientPolicy& p, const std::string& w) {
              p.reconnect_jitter = number_in(v, 0.0, 1.0, w);
            }, [](const ClientPolicy& p) { return json(p.reconnect_jitter); }},
      Field{"max_attempts", [](const json& v, ClientPolicy& p, const std::string& w) {
              if (v.is_null()) p.max_attempts.reset();
              else p.max_attempts = static_cast<std::uint32_t>(integer_in(v, 0, 1'000'000, w));
            }, [](const ClientPolicy& p) { return p.max_attempts ? json(*p.max_attempts) : json(nullptr); }},
      Field{"reset_attempts", [](const json& v, ClientPolicy& p, const std::string& w) {
              p.reset_attempts = choice(v, kResets, w);
            }, [](const ClientPolicy& p) { return json(choice_name(p.reset_attempts, kResets)); }},
      FL_BOOL("restart_stdio_server", restart_stdio_server),
      FL_BOOL("get_stream", get_stream),
      FL_BOOL("reconnect_sse_stream", reconnect_sse_stream),
      FL_BOOL("honour_retry", honour_retry),
      FL_BOOL("resume_with_last_event_id", resume_with_last_event_id),
      FL_BOOL("reinitialize_on_404", reinitialize_on_404),
      FL_BOOL("reinitialize_on_400", reinitialize_on_400),
      FL_BOOL("relist_after_reconnect", relist_after_reconnect),
      FL_BOOL("relist_on_list_changed", relist_on_list_changed),
  };
  return all;
}

#undef FL_BOOL
#undef FL_OPT_MS
#undef FL_MS

void apply(const json& profile, ClientPolicy& policy, const std::string& where) {
  std::vector<std::string> keys{"base"};
  for (const auto& f : fields()) keys.emplace_back(f.key);
  for (const auto& [key, value] : profile.items()) {
    const std::string at = where + " /" + key;
    if (key == "base") continue;
    const auto& all = fields();
    const auto it = std::find_if(all.begin(), all.end(), [&](const Field& f) { return key == f.key; });
    if (it == all.end()) {
      const auto near = nearest_name(key, keys);
      throw ConfigError(at, near.empty() ? "unknown key" : "unknown key; did you mean \"" + near + "\"?");
    }
    it->read(value, policy, at);
  }
}

}  // namespace

std::vector<std::string> builtin_profile_names() {
  std::vector<std::string> names;
  for (const auto& b : kBuiltins) names.emplace_back(b.name);
  return names;
}

std::optional<json> builtin_profile(std::string_view name) {
  for (const auto& b : kBuiltins)
    if (name == b.name) return json::parse(b.text);
  return std::nullopt;
}

ClientPolicy parse_profile(const json& profile, const std::string& where) {
  if (!profile.is_object()) throw ConfigError(where, "a profile must be a JSON object");
  ClientPolicy policy;
  std::string base = "resilient";
  if (auto it = profile.find("base"); it != profile.end()) {
    if (!it->is_string() || !builtin_profile(it->get<std::string>()))
      throw ConfigError(where + " /base", "must name a built-in profile (" + [] {
        std::string s;
        for (const auto& n : builtin_profile_names()) s += (s.empty() ? "" : ", ") + n;
        return s;
      }() + "), got " + it->dump());
    base = it->get<std::string>();
  }
  const json base_profile = *builtin_profile(base);  // a named local: the fields read from it by reference
  apply(base_profile, policy, "profile " + base);
  apply(profile, policy, where);
  return policy;
}

ClientPolicy load_profile(const std::string& name_or_file) {
  if (auto builtin = builtin_profile(name_or_file)) return parse_profile(*builtin, "profile " + name_or_file);
  std::ifstream in(name_or_file);
  if (!in) {
    if (name_or_file.find('/') == std::string::npos && name_or_file.find('.') == std::string::npos) {
      const auto near = nearest_name(name_or_file, builtin_profile_names());
      throw ConfigError("--profile", "no built-in profile or file named \"" + name_or_file + "\"" +
                                         (near.empty() ? "; the built-in ones: naive, sdk-default, claude-code-like, resilient"
                                                       : "; did you mean \"" + near + "\"?"));
    }
    throw ConfigError("--profile", "cannot read \"" + name_or_file + "\"");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (json_too_deep_at(text) != std::string::npos)
    throw ConfigError(name_or_file, "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json profile;
  try {
    profile = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ConfigError(name_or_file, std::string("not JSON: ") + e.what());
  }
  return parse_profile(profile, name_or_file);
}

json profile_to_json(const ClientPolicy& policy) {
  json out = json::object();
  for (const auto& f : fields()) out[f.key] = f.write(policy);
  return out;
}

}  // namespace faultline::sim
