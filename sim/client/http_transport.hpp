#pragma once
// The HTTP client transports. Streamable HTTP (2025-03-26 and later): every
// message is a POST answered by JSON or an SSE stream; the session id and the
// negotiated protocol version go along as headers; an optional GET stream
// carries server notifications; a stream that closes before its answer is
// resumed by GET with Last-Event-ID after the server's retry:; DELETE ends
// the session. The legacy HTTP+SSE transport (2024-11-05): a GET stream whose
// first event names the URL to POST messages to, answers on that stream.

#include <memory>

#include "sim/client/transport.hpp"

namespace faultline::sim {

std::shared_ptr<ClientTransport> make_streamable_http_transport(asio::any_io_executor ex, const Target& target,
                                                                const StreamPolicy& streams);
std::shared_ptr<ClientTransport> make_legacy_sse_transport(asio::any_io_executor ex, const Target& target);

}  // namespace faultline::sim
