#pragma once
// The mock MCP server over stdio: newline-delimited JSON-RPC on stdin and
// stdout, logs on stderr, until stdin ends.

#include <cstdint>

#include "sim/mock_server.hpp"

namespace faultline::sim {

// Serves one session; returns the exit code (0 when stdin ended). The
// crash_after tool ends the process at once with exit code 1, answering nothing.
int run_mock_stdio(const MockBehaviour& behaviour, std::uint64_t seed);

}  // namespace faultline::sim
