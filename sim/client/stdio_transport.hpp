#pragma once
// The stdio client transport: one server child per client (core/stdio_child),
// newline-delimited JSON on its stdin and stdout; its stderr is read and dropped.

#include <memory>

#include "sim/client/transport.hpp"

namespace faultline::sim {

std::shared_ptr<ClientTransport> make_stdio_transport(asio::any_io_executor ex, std::vector<std::string> command);

}  // namespace faultline::sim
