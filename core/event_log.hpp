#pragma once
// The run's history: every part of faultline reports what happened as an Event
// (connection opened, fault injected, ...). The EventLog stamps each event with
// monotonic time since the run started and wall time, and hands it to its sinks
// (the JSONL recorder, tests, the live summary).

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

struct Event {
  double t = 0;            // seconds since the run started (monotonic)
  std::string wall;        // UTC wall time, ISO 8601 with microseconds
  std::string source;      // "proxy:NAME", "client:N", "server:NAME", "net:LINK", "timeline"
  std::string kind;        // "conn.open", "conn.close", "fault.start", ...
  nlohmann::json fields;   // kind-specific fields (an object); one named t, wall, source or
                           // kind is written as "field.NAME" so it cannot hide the envelope

  nlohmann::json to_json() const;
  static Event from_json(const nlohmann::json& line);
};

class EventLog {
 public:
  using Sink = std::function<void(const Event&)>;

  EventLog();

  void emit(std::string source, std::string kind, nlohmann::json fields = nlohmann::json::object());
  void add_sink(Sink sink);
  std::chrono::steady_clock::time_point start() const { return start_; }

 private:
  std::chrono::steady_clock::time_point start_;
  std::chrono::system_clock::time_point wall_start_;
  std::mutex mutex_;
  std::vector<Sink> sinks_;
};

}  // namespace faultline
