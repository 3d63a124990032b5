#pragma once
// The mock server's network sides, each on its own listener and all on the
// hub's (single) thread: Streamable HTTP on /mcp, the legacy HTTP+SSE
// transport on /sse and /messages, WebSocket (subprotocol "mcp"), and the
// control endpoint that reads and changes the behaviour at run time.

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "core/host_port.hpp"
#include "sim/mock_hub.hpp"

namespace faultline::sim {

class MockListener {
 public:
  virtual ~MockListener() = default;
  virtual boost::asio::ip::tcp::endpoint local() const = 0;
  // Stops accepting; what is connected stays until the loop stops.
  virtual void stop() = 0;
};

// Each binds `where` (an IP address or localhost; port 0 picks one) and starts
// serving; throws StartupError naming the address when it cannot bind.
std::unique_ptr<MockListener> serve_mock_http(MockHub& hub, const HostPort& where);
std::unique_ptr<MockListener> serve_mock_sse(MockHub& hub, const HostPort& where);
std::unique_ptr<MockListener> serve_mock_ws(MockHub& hub, const HostPort& where);
// GET /behaviour, PATCH /behaviour, POST /restart, GET /sessions.
std::unique_ptr<MockListener> serve_mock_control(MockHub& hub, const HostPort& where);

// A listening acceptor on `where`, for the listeners above.
boost::asio::ip::tcp::acceptor bind_mock_acceptor(const boost::asio::any_io_executor& ex, const HostPort& where,
                                                  const std::string& what);

// The SSE retry interval (ms) the mock's streams announce.
inline constexpr std::uint64_t kMockSseRetryMs = 1000;

}  // namespace faultline::sim
