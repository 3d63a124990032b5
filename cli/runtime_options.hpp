#pragma once
// The options every command that runs something shares, and the runtime they
// set up: the events file (--events, --events-append, --force), the seed, and
// the admin API (--api, --api-token).

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "runtime/runtime.hpp"

namespace faultline::cli {

struct EventsOptions {
  std::string path;
  bool append = false;
  bool force = false;
};

void add_events_options(CLI::App& cmd, EventsOptions& events);

struct ApiOptions {
  std::string address;  // HOST:PORT; empty: no API
  std::string token;
};

// --api (described by `what`) and --api-token.
void add_api_options(CLI::App& cmd, ApiOptions& api, const std::string& what);
// Throws ConfigError naming --api: not HOST:PORT, a host name other than
// localhost, or an address off loopback without a token.
void check_api_options(const ApiOptions& api);

// A runtime for `options`, with the events file of `events`. A file that holds
// a history, without --events-append or --force, is a ConfigError naming
// --events and the way out.
std::unique_ptr<Runtime> start_runtime(RuntimeOptions options, const EventsOptions& events);

}  // namespace faultline::cli
