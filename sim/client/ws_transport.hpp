#pragma once
// The WebSocket client transport (Beast), subprotocol "mcp".

#include <memory>

#include "sim/client/transport.hpp"

namespace faultline::sim {

std::shared_ptr<ClientTransport> make_ws_transport(asio::any_io_executor ex, const Target& target);

}  // namespace faultline::sim
