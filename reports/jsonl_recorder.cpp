#include "reports/jsonl_recorder.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/errors.hpp"

namespace faultline {

JsonlRecorder::JsonlRecorder(const std::string& path) {
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) throw StartupError("events file " + path + ": " + std::strerror(errno));
}

JsonlRecorder::~JsonlRecorder() {
  if (file_) std::fclose(file_);
}

void JsonlRecorder::record(const Event& event) {
  const std::string line = event.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  ++lines_;
}

void JsonlRecorder::attach(EventLog& log) {
  log.add_sink([this](const Event& e) { record(e); });
}

std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, "cannot open file");
  std::vector<Event> events;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object())
      throw ConfigError(path + ":" + std::to_string(number), "not a JSON object");
    events.push_back(Event::from_json(json));
  }
  return events;
}

}  // namespace faultline
