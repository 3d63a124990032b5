#include "core/event_log.hpp"

#include <cstdio>
#include <ctime>

namespace faultline {
namespace {

std::string iso8601(std::chrono::system_clock::time_point tp) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros % 1000000));
  return text;
}

}  // namespace

nlohmann::json Event::to_json() const {
  nlohmann::json line = {{"t", t}, {"wall", wall}, {"source", source}, {"kind", kind}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      // A field named like the envelope (t, wall, source, kind) keeps its value under "field.NAME".
      line[line.contains(it.key()) ? "field." + it.key() : it.key()] = it.value();
    }
  }
  return line;
}

Event Event::from_json(const nlohmann::json& line) {
  Event e;
  e.t = line.value("t", 0.0);
  e.wall = line.value("wall", "");
  e.source = line.value("source", "");
  e.kind = line.value("kind", "");
  e.fields = nlohmann::json::object();
  for (auto it = line.begin(); it != line.end(); ++it) {
    if (it.key() != "t" && it.key() != "wall" && it.key() != "source" && it.key() != "kind")
      e.fields[it.key()] = it.value();
  }
  return e;
}

EventLog::EventLog() : start_(std::chrono::steady_clock::now()), wall_start_(std::chrono::system_clock::now()) {}

void EventLog::emit(std::string source, std::string kind, nlohmann::json fields) {
  const auto elapsed = std::chrono::steady_clock::now() - start_;
  Event e;
  e.t = std::chrono::duration<double>(elapsed).count();
  e.wall = iso8601(wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed));
  e.source = std::move(source);
  e.kind = std::move(kind);
  e.fields = fields.is_object() ? std::move(fields) : nlohmann::json::object();
  std::lock_guard lock(mutex_);
  for (auto& sink : sinks_) sink(e);
}

void EventLog::add_sink(Sink sink) {
  std::lock_guard lock(mutex_);
  sinks_.push_back(std::move(sink));
}

}  // namespace faultline
