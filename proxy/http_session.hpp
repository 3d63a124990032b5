#pragma once
// One client TCP connection on an http link (Streamable HTTP and the legacy
// HTTP+SSE transport). The connection gets its own upstream connection and
// relays its exchanges in order, keep-alive on both sides: a request is read
// whole (Beast's parser; a bad one is answered 400 or 413 and the connection
// closed), its JSON-RPC messages are recorded and taken through the upstream
// frame chain and the HTTP faults, then forwarded; the response comes back
// as a JSON body (read whole, through the downstream chain) or an SSE stream
// (relayed event by event as it arrives, each event through the HTTP faults
// and the downstream chain). Each exchange, and each SSE stream, gets its own
// frame chain; MCP sessions, which span connections, are recorded in the
// link's HttpLinkState.
//
//   client -> request parser -> record -> HTTP faults -> frame chain -> server
//   server -> response parser -> JSON body | SSE events -> record -> faults -> client

#include <memory>

#include "proxy/link_session.hpp"

namespace faultline {

std::shared_ptr<LinkSession> make_http_session(SessionStart start);

}  // namespace faultline
