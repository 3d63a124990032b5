#pragma once
// The mock MCP server over stdio: newline-delimited JSON-RPC on stdin and
// stdout, logs on stderr, one session (id "stdio") until stdin ends.

#include <functional>
#include <memory>

#include "sim/mock_hub.hpp"

namespace faultline::sim {

class MockStdio;

// Starts reading stdin on the hub's executor; `ended` is called (posted, so
// what was asked last is answered first) when stdin ends. A restart gives the
// session a fresh state (tool list, call counts) under the same pipes. Throws
// StartupError when stdin cannot be read.
std::shared_ptr<MockStdio> serve_mock_stdio(MockHub& hub, std::function<void()> ended);

}  // namespace faultline::sim
