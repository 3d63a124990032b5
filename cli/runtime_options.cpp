#include "cli/runtime_options.hpp"

#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "proxy/link.hpp"  // listen_address

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

void add_api_options(CLI::App& cmd, ApiOptions& api, const std::string& what) {
  cmd.add_option("--api", api.address, what);
  cmd.add_option("--api-token", api.token, "Require this bearer token of API requests (needed off loopback)");
}

void check_api_options(const ApiOptions& api) {
  if (api.address.empty()) return;
  auto hp = parse_host_port(api.address);
  if (!hp) throw ConfigError("--api", "\"" + api.address + "\" is not HOST:PORT");
  if (!listen_address(hp->host))
    throw ConfigError("--api", "\"" + api.address + "\": the host must be an IP address or localhost");
  if (!is_loopback_host(hp->host) && api.token.empty())
    throw ConfigError("--api", "binding the admin API to " + hp->host + " (not loopback) requires --api-token");
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
