#include "core/event_log.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace faultline {
namespace {

// ISO 8601 UTC with microseconds. The date and time down to the second are
// formatted once per second per thread; only the microseconds change in between.
std::string iso8601(std::chrono::system_clock::time_point tp) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
  const auto second = micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000;
  const auto fraction = micros - second * 1000000;
  thread_local long long cached_second = -1;
  thread_local char prefix[64] = {};  // "YYYY-MM-DDTHH:MM:SS."
  if (second != cached_second) {
    const std::time_t seconds = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  std::string text(prefix);
  char digits[8] = {'0', '0', '0', '0', '0', '0', 'Z', 0};
  for (int i = 5, rest = static_cast<int>(fraction); i >= 0; --i, rest /= 10) digits[i] = static_cast<char>('0' + rest % 10);
  text += digits;
  return text;
}

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

// A JSON string literal; text that needs no escaping (the usual source and kind) is copied as is.
void append_json_string(std::string& out, const std::string& text) {
  const bool plain = std::none_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u >= 0x80 || c == '"' || c == '\\';
  });
  if (!plain) {
    out += nlohmann::json(text).dump(-1, ' ', false, kReplace);
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

}  // namespace

std::string Event::wall_text() const { return wall.empty() ? iso8601(wall_time) : wall; }

nlohmann::json Event::to_json() const {
  nlohmann::json line = {{"t", t}, {"wall", wall_text()}, {"source", source}, {"kind", kind}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      // A field named like the envelope (t, wall, source, kind) keeps its value under "field.NAME".
      line[line.contains(it.key()) ? "field." + it.key() : it.key()] = it.value();
    }
  }
  return line;
}

void Event::append_jsonl(std::string& out) const {
  const bool has_fields = fields.is_object() && !fields.empty();
  if (has_fields && (fields.contains("t") || fields.contains("wall") || fields.contains("source") || fields.contains("kind"))) {
    out += to_json().dump(-1, ' ', false, kReplace);  // renames the colliding field
    out += '\n';
    return;
  }
  char number[32];
  const auto end = std::to_chars(number, number + sizeof number, t).ptr;  // shortest text that reads back as t
  out += "{\"t\":";
  out.append(number, end);
  out += ",\"wall\":";
  append_json_string(out, wall_text());
  out += ",\"source\":";
  append_json_string(out, source);
  out += ",\"kind\":";
  append_json_string(out, kind);
  if (has_fields) {
    const auto body = fields.dump(-1, ' ', false, kReplace);  // {"a":1,...}: joined after the envelope
    out += ',';
    out.append(body, 1, std::string::npos);
  } else {
    out += '}';
  }
  out += '\n';
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
  if (!has_sinks()) return;
  Event e;
  e.source = std::move(source);
  e.kind = std::move(kind);
  e.fields = fields.is_object() ? std::move(fields) : nlohmann::json::object();
  // Stamped under the lock: events from several threads reach the sinks in time order.
  std::lock_guard lock(mutex_);
  const auto elapsed = std::chrono::steady_clock::now() - start_;
  e.t = std::chrono::duration<double>(elapsed).count();
  e.wall_time = wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
  for (auto& sink : sinks_) sink(e);
}

void EventLog::add_sink(Sink sink) {
  std::lock_guard lock(mutex_);
  sinks_.push_back(std::move(sink));
  has_sinks_.store(true, std::memory_order_relaxed);
}

}  // namespace faultline
