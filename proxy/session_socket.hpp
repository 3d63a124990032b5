#pragma once
// Socket helpers every session kind (tcp, websocket, http) shares.

#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "faults/byte_fault.hpp"  // CloseMode

namespace faultline {

// Bytes a websocket or http session queues toward a peer before the side
// producing them waits for the writer task to catch up.
inline constexpr std::size_t kOutboxLimit = 1 << 20;

// "ADDRESS:PORT" of the socket's peer (`remote`) or its own end; "?" when unknown.
std::string endpoint_text(const boost::asio::ip::tcp::socket& s, bool remote);
// Whether an error means the peer reset the connection (or it is gone for writing).
bool is_reset(const boost::system::error_code& ec);
// Closes a session's socket: a FIN, or a real RST (SO_LINGER 0) when `mode` is rst.
void close_socket(boost::asio::ip::tcp::socket& socket, CloseMode mode);
// Connects `socket` to the first of `endpoints` that accepts. The error is the
// real one: asio::async_connect reports "Operation canceled" when the socket
// cannot even be opened (out of descriptors), this says "Too many open files".
boost::asio::awaitable<boost::system::error_code> connect_upstream(
    boost::asio::ip::tcp::socket& socket, const boost::asio::ip::tcp::resolver::results_type& endpoints);

}  // namespace faultline
