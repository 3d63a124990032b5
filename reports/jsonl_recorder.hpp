#pragma once
// Writes the run's events to a JSONL file, one event a line, flushed as it
// goes so the file is complete whenever the run stops.

#include <cstdio>
#include <string>

#include "core/event_log.hpp"

namespace faultline {

class JsonlRecorder {
 public:
  // Throws StartupError when the file can't be created.
  explicit JsonlRecorder(const std::string& path);
  ~JsonlRecorder();
  JsonlRecorder(const JsonlRecorder&) = delete;
  JsonlRecorder& operator=(const JsonlRecorder&) = delete;

  void record(const Event& event);
  void attach(EventLog& log);
  std::size_t lines() const { return lines_; }

 private:
  std::FILE* file_ = nullptr;
  std::size_t lines_ = 0;
};

// Reads a JSONL history back; throws ConfigError naming the line of a bad entry.
std::vector<Event> read_events(const std::string& path);

}  // namespace faultline
