#pragma once
// `faultline mock-server` as a whole: the hub, one transport, the control
// endpoint, signals, on one io_context thread, until stdin ends (stdio), a
// signal comes, crash_after crashes it or idle_exit ends it.

#include <cstdint>
#include <optional>
#include <string>

#include "core/event_log.hpp"
#include "core/host_port.hpp"
#include "sim/mock_behaviour.hpp"

namespace faultline::sim {

struct MockRunOptions {
  std::string transport = "stdio";  // stdio, http, sse, ws
  HostPort listen{"127.0.0.1", 0};
  std::optional<HostPort> control;
  MockBehaviour behaviour;
  std::uint64_t seed = 0;
  EventLog* events = nullptr;
};

// Returns the exit code: 0 (stdin ended, or a signal), 1 (crash_after),
// kMockIdleExitCode (idle_exit). Writes "listening on URL" (and "control on
// URL") to stderr once bound. Throws StartupError or ConfigError when it
// cannot start.
int run_mock_server(const MockRunOptions& options);

}  // namespace faultline::sim
