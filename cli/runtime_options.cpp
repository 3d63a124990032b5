#include "cli/runtime_options.hpp"

#include "core/errors.hpp"

namespace faultline::cli {

void add_events_options(CLI::App& cmd, EventsOptions& events) {
  auto* path = cmd.add_option("--events", events.path,
                              "Write the event history to FILE (JSON lines). A file that already holds a history "
                              "is refused, unless --events-append or --force is given");
  auto* append = cmd.add_flag("--events-append", events.append,
                              "Add this run's events to the end of the --events file; its run.start marks where "
                              "this run begins")
                     ->needs(path);
  cmd.add_flag("--force", events.force, "Replace the --events file even if it holds a history")
      ->needs(path)
      ->excludes(append);
}

std::unique_ptr<Runtime> start_runtime(RuntimeOptions options, const EventsOptions& events) {
  options.events_path = events.path;
  options.events_mode = events.append  ? JsonlRecorder::Mode::append
                        : events.force ? JsonlRecorder::Mode::replace
                                       : JsonlRecorder::Mode::create;
  try {
    return std::make_unique<Runtime>(std::move(options));
  } catch (const ConfigError& e) {
    if (e.where() != events.path) throw;
    throw ConfigError("--events " + events.path,
                      e.message() + "; --events-append adds this run to it, --force replaces it");
  }
}

}  // namespace faultline::cli
