#pragma once
// One client on a websocket link. The HTTP upgrade is relayed (the client's
// request to the server, the server's answer back, extensions removed so
// payloads stay plain); then each direction reads WebSocket frames with
// mcp::WsDecoder, decodes messages into JSON-RPC frames (recorded by an
// mcp::Session as they arrive), queues them, and pumps them through the
// direction's FrameChain; the frames leaving it are encoded again and written
// through the direction's byte FaultChain to the peer's socket. Pings, pongs
// and close frames keep their place in the queue and cross as themselves.
//
//   client socket -> decoder -> queue -> pump -> frame chain -> encoder -> byte chain -> server socket
//
// A peer that breaks the protocol gets the close code a correct endpoint
// sends (1002, 1007, 1009), the other peer 1001, and the session ends.
//
// The session's parts: ws_session_impl.hpp (the session), ws_direction.hpp
// (a direction) and ws_fault_attachment.cpp (the faults on a direction).

#include <memory>

#include "proxy/link_session.hpp"

namespace faultline {

std::shared_ptr<LinkSession> make_websocket_session(SessionStart start);

}  // namespace faultline
