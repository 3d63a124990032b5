#include "sim/workload.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/config_text.hpp"
#include "core/errors.hpp"
#include "core/json_depth.hpp"

namespace faultline::sim {

namespace {

using ms = std::chrono::milliseconds;
constexpr ms kMaxThink{3'600'000};
constexpr ms kMaxRunDuration{7LL * 24 * 3600 * 1000};

std::string required_string(const nlohmann::json& step, const char* key, const std::string& where) {
  auto it = step.find(key);
  if (it == step.end()) return {};
  if (!it->is_string() || it->get_ref<const std::string&>().empty())
    throw ConfigError(where + "/" + key, "must be a non-empty string, got " + shown_value(*it));
  return it->get<std::string>();
}

WorkloadStep parse_step(const nlohmann::json& step, const std::string& where) {
  if (!step.is_object()) throw ConfigError(where, "must be an object with a `method`, got " + shown_value(step));
  WorkloadStep s;
  const std::vector<std::string> methods = {"tools/call", "tools/list", "resources/read", "ping"};
  auto method = step.find("method");
  if (method == step.end()) throw ConfigError(where + "/method", "is required: tools/call, tools/list, resources/read or ping");
  const auto name = method->is_string() ? method->get<std::string>() : std::string();
  if (name == "tools/call") {
    check_keys(step, where, {"method", "tool", "arguments", "weight"});
    s.kind = StepKind::call_tool;
    s.tool = required_string(step, "tool", where);
    if (auto args = step.find("arguments"); args != step.end()) {
      if (!args->is_object()) throw ConfigError(where + "/arguments", "must be an object, got " + shown_value(*args));
      s.arguments = *args;
    }
  } else if (name == "tools/list") {
    check_keys(step, where, {"method", "weight"});
    s.kind = StepKind::list_tools;
  } else if (name == "resources/read") {
    check_keys(step, where, {"method", "uri", "weight"});
    s.kind = StepKind::read_resource;
    s.uri = required_string(step, "uri", where);
  } else if (name == "ping") {
    check_keys(step, where, {"method", "weight"});
    s.kind = StepKind::ping;
  } else {
    const auto near = nearest_name(name, methods);
    throw ConfigError(where + "/method", "unknown method " + shown_value(*method) +
                                             (near.empty() ? "; one of tools/call, tools/list, resources/read, ping"
                                                           : "; did you mean \"" + near + "\"?"));
  }
  if (auto w = step.find("weight"); w != step.end()) {
    if (!w->is_number() || !std::isfinite(w->get<double>()) || w->get<double>() <= 0 || w->get<double>() > 1e9)
      throw ConfigError(where + "/weight", "must be a number above 0 (at most 1e9), got " + shown_value(*w));
    s.weight = w->get<double>();
  }
  return s;
}

}  // namespace

std::string WorkloadStep::label() const {
  switch (kind) {
    case StepKind::call_tool: return "tools/call " + (tool.empty() ? std::string("*") : tool);
    case StepKind::list_tools: return "tools/list";
    case StepKind::read_resource: return "resources/read " + (uri.empty() ? std::string("*") : uri);
    case StepKind::ping: return "ping";
  }
  return "?";
}

Workload parse_workload(const nlohmann::json& workload, const std::string& pointer, std::uint64_t seed) {
  check_keys(workload, pointer, {"steps", "think", "duration", "load"});
  Workload w;
  auto steps = workload.find("steps");
  if (steps == workload.end() || !steps->is_array() || steps->empty())
    throw ConfigError(pointer + "/steps", "is required: a non-empty array of steps");
  if (steps->size() > 10'000) throw ConfigError(pointer + "/steps", "has more than 10000 steps");
  for (std::size_t i = 0; i < steps->size(); ++i) w.steps.push_back(parse_step((*steps)[i], pointer + "/steps/" + std::to_string(i)));
  if (auto think = workload.find("think"); think != workload.end()) {
    if (think->is_object()) {
      check_keys(*think, pointer + "/think", {"min", "max"});
      if (!think->contains("min") || !think->contains("max"))
        throw ConfigError(pointer + "/think", "needs both `min` and `max` (or give one duration)");
      w.think_min = read_duration((*think)["min"], pointer + "/think/min", ms(0), kMaxThink);
      w.think_max = read_duration((*think)["max"], pointer + "/think/max", w.think_min, kMaxThink);
    } else {
      w.think_min = w.think_max = read_duration(*think, pointer + "/think", ms(0), kMaxThink);
    }
  }
  if (auto d = workload.find("duration"); d != workload.end())
    w.duration = read_duration(*d, pointer + "/duration", ms(1), kMaxRunDuration);
  if (auto load = workload.find("load"); load != workload.end()) {
    if (w.duration) throw ConfigError(pointer + "/duration", "conflicts with `load`, which has its own duration");
    w.load = parse_load_pattern(*load, pointer + "/load", seed);
  }
  return w;
}

Workload load_workload_file(const std::string& path, std::uint64_t seed) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, "cannot read the workload file");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    if (json_too_deep_at(text.str()) != std::string::npos)
      throw ConfigError(path, "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(path, std::string("not valid JSON: ") + e.what());
  }
  try {
    return parse_workload(j, "", seed);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + (e.where().empty() ? "/" : e.where()), e.message());
  }
}

const WorkloadStep& Workload::choose(Rng& rng) const {
  double total = 0;
  for (const auto& s : steps) total += s.weight;
  double x = rng.uniform() * total;
  for (const auto& s : steps) {
    if (x < s.weight) return s;
    x -= s.weight;
  }
  return steps.back();  // rounding at the very top
}

std::chrono::milliseconds Workload::think(Rng& rng) const {
  if (think_max <= think_min) return think_min;
  return ms(rng.integer(think_min.count(), think_max.count()));
}

std::optional<std::chrono::milliseconds> Workload::length() const {
  if (load) return load->duration();
  return duration;
}

nlohmann::json Workload::to_json() const {
  nlohmann::json out = {{"steps", nlohmann::json::array()}};
  for (const auto& s : steps) {
    nlohmann::json j = {{"weight", s.weight}};
    switch (s.kind) {
      case StepKind::call_tool:
        j["method"] = "tools/call";
        if (!s.tool.empty()) j["tool"] = s.tool;
        if (s.arguments) j["arguments"] = *s.arguments;
        break;
      case StepKind::list_tools: j["method"] = "tools/list"; break;
      case StepKind::read_resource:
        j["method"] = "resources/read";
        if (!s.uri.empty()) j["uri"] = s.uri;
        break;
      case StepKind::ping: j["method"] = "ping"; break;
    }
    out["steps"].push_back(std::move(j));
  }
  out["think"] = {{"min", think_min.count()}, {"max", think_max.count()}};
  if (duration) out["duration"] = duration->count();
  if (load) out["load"] = load->to_json();
  return out;
}

}  // namespace faultline::sim
