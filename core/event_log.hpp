#pragma once
// The run's history: every part of faultline reports what happened as an Event
// (connection opened, fault injected, ...). The EventLog stamps each event with
// monotonic time since the run started and wall time (formatted only by sinks
// that write it), and hands it to its sinks
// (the JSONL recorder, tests, the live summary).

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

struct Event {
  double t = 0;            // seconds since the run started (monotonic)
  std::chrono::system_clock::time_point wall_time;  // when it happened (wall clock)
  std::string wall;        // UTC wall time, ISO 8601 with microseconds, as read back from a
                           // file; events emitted in this run leave it empty (see wall_text)
  std::string source;      // "proxy:NAME", "client:N", "server:NAME", "net:LINK", "timeline"
  std::string kind;        // "conn.open", "conn.close", "fault.start", ...
  nlohmann::json fields;   // kind-specific fields (an object); one named t, wall, source or
                           // kind is written as "field.NAME" so it cannot hide the envelope

  // The wall time as ISO 8601 text: `wall` if set, else formatted from wall_time
  // (formatting costs something, so only the sinks that write it pay for it).
  std::string wall_text() const;
  nlohmann::json to_json() const;
  // Appends to_json() as one line of JSON text and a newline, without building
  // it: the envelope first (t, wall, source, kind), then the fields.
  void append_jsonl(std::string& out) const;
  static Event from_json(const nlohmann::json& line);
};

class EventLog {
 public:
  using Sink = std::function<void(const Event&)>;

  EventLog();

  void emit(std::string source, std::string kind, nlohmann::json fields = nlohmann::json::object());
  void add_sink(Sink sink);
  // Whether any sink listens: a hot path may skip building events nobody reads.
  bool has_sinks() const { return has_sinks_.load(std::memory_order_relaxed); }
  std::chrono::steady_clock::time_point start() const { return start_; }

 private:
  std::chrono::steady_clock::time_point start_;
  std::chrono::system_clock::time_point wall_start_;
  std::mutex mutex_;
  std::vector<Sink> sinks_;
  std::atomic<bool> has_sinks_{false};
};

}  // namespace faultline
