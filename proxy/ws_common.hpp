#pragma once
// What the parts of a websocket session (ws_session.hpp) share: who sent or
// closed something, and which way a direction runs.

#include <exception>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/direction.hpp"
#include "mcp/session.hpp"

namespace faultline::ws {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// Who did something to the connection: one of the peers, or faultline itself.
enum class By { client, server, proxy };

inline std::string_view by_name(By by) {
  switch (by) {
    case By::client: return "client";
    case By::server: return "server";
    case By::proxy: return "proxy";
  }
  return "proxy";
}

inline By sender_of(Direction d) { return d == Direction::upstream ? By::client : By::server; }
inline By receiver_of(Direction d) { return d == Direction::upstream ? By::server : By::client; }
inline mcp::Peer peer_of(Direction d) { return d == Direction::upstream ? mcp::Peer::client : mcp::Peer::server; }

// Logs what ended a coroutine of the session (`what`: the fault, the task).
void log_exception(std::exception_ptr e, const char* what);

}  // namespace faultline::ws
