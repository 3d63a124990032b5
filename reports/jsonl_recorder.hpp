#pragma once
// Writes the run's events to a JSONL file, one event a line. A line is
// formatted on the thread that emits the event; the recorder's own thread
// writes it: at once when events are rare, many lines to a write when they
// come fast, so recording costs the relay no system call per event. The
// destructor writes what is pending before it returns, so the file is complete
// whenever the run stops.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/event_log.hpp"

namespace faultline {

class JsonlRecorder {
 public:
  // What to do with a file that exists and holds something: refuse it (a
  // history is never lost by accident), add to its end, or replace it. An empty
  // file, a device or a pipe is written to in every mode.
  enum class Mode { create, append, replace };

  // Throws ConfigError (naming the file) when it holds a history and the mode
  // is `create`, StartupError when it can't be opened.
  explicit JsonlRecorder(const std::string& path, Mode mode = Mode::create);
  ~JsonlRecorder();
  JsonlRecorder(const JsonlRecorder&) = delete;
  JsonlRecorder& operator=(const JsonlRecorder&) = delete;

  void record(const Event& event);
  void attach(EventLog& log);
  // Returns once every line recorded so far is in the file (or failed to get there).
  void flush();
  std::size_t lines() const;
  // The first write error, empty while there is none. Lines that could not be
  // written are counted in lines() but are not in the file.
  std::string error() const;

 private:
  void write_loop();

  std::string path_;
  int fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable work_;     // the writer: lines are pending, or stop
  std::condition_variable batch_done_;  // flush(): a batch reached the file
  std::string pending_;
  bool writer_waiting_ = false;
  bool stopping_ = false;
  std::uint64_t recorded_ = 0;  // lines handed to the writer
  std::uint64_t written_ = 0;   // lines the writer is done with
  std::string error_;
  std::thread writer_;
};

// Reads a JSONL history back; throws ConfigError naming the line of a bad entry.
std::vector<Event> read_events(const std::string& path);

}  // namespace faultline
