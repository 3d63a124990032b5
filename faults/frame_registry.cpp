#include "faults/frame_registry.hpp"

namespace faultline {
namespace {

constexpr auto up = Direction::upstream;
constexpr auto down = Direction::downstream;

constexpr FrameFaultType kFrameFaultTypes[] = {
    {"drop", "drop the matched messages", down, DirectionRule::any, make_drop_frame_fault},
    {"delay", "deliver each matched message delay ms after it arrived, in order", down, DirectionRule::any,
     make_delay_frame_fault},
    {"duplicate", "deliver each matched message count+1 times", down, DirectionRule::any,
     make_duplicate_frame_fault},
    {"reorder", "hold a matched message and release it after the next `after` messages", down, DirectionRule::any,
     make_reorder_frame_fault},
    {"error", "answer a matched request with a JSON-RPC error {code, message}; the request is not forwarded", up,
     DirectionRule::upstream_only, make_error_frame_fault},
    {"late_response", "hold a matched reply for delay ms while later messages pass", down,
     DirectionRule::downstream_only, make_late_response_frame_fault},
    {"malformed", "break a matched message as `mode` says (truncate, invalid_json, ...)", down, DirectionRule::any,
     make_malformed_frame_fault},
    {"banner", "write a non-JSON line `text` toward the client (at after_ms, or before matched messages)", down,
     DirectionRule::downstream_only, make_banner_frame_fault},
    {"close_stdout", "stop forwarding the server's stdout and close ours to the client", down,
     DirectionRule::downstream_only, make_close_stdout_frame_fault, kStdio},
    {"kill", "send `signal` (SIGKILL) to the server at after_ms or on the first matched message", up,
     DirectionRule::any, make_kill_frame_fault, kStdio},
    {"stop", "pause the server (SIGSTOP) at after_ms or on the first matched message; resume after duration ms",
     up, DirectionRule::any, make_stop_frame_fault, kStdio},
    {"continue", "resume the server (SIGCONT) at after_ms or on the first matched message", up,
     DirectionRule::any, make_continue_frame_fault, kStdio},
    {"ws_close", "close the WebSocket with `code` and `reason` (at after_ms, or on the first matched message)", down,
     DirectionRule::any, make_ws_close_frame_fault, kWebSocket},
    {"swallow_pongs", "drop the pongs of this direction while messages still flow", down, DirectionRule::any,
     make_swallow_pongs_frame_fault, kWebSocket},
    {"fragment", "send a matched message in `count` frames, or in frames of `size` bytes", down,
     DirectionRule::any, make_fragment_frame_fault, kWebSocket},
    {"forget_session", "answer 404 to requests carrying a matched request's Mcp-Session-Id (a server that lost it)",
     up, DirectionRule::upstream_only, make_forget_session_frame_fault, kHttp},
    {"unknown_session", "answer 400 instead of 404 to requests carrying a matched request's Mcp-Session-Id", up,
     DirectionRule::upstream_only, make_unknown_session_frame_fault, kHttp},
    {"get_405", "answer 405 to a matched GET: no standalone SSE stream", up, DirectionRule::upstream_only,
     make_get_405_frame_fault, kHttp},
    {"close_sse", "cut an SSE stream when a matched event is due (how=close|end), `count` times", down,
     DirectionRule::downstream_only, make_close_sse_frame_fault, kHttp},
    {"strip_event_ids", "remove the id: field of matched SSE events", down, DirectionRule::downstream_only,
     make_strip_event_ids_frame_fault, kHttp},
    {"rewrite_retry", "set the retry: field of matched SSE events to `retry` ms (add=1: on each stream's first event)",
     down, DirectionRule::downstream_only, make_rewrite_retry_frame_fault, kHttp},
};

}  // namespace

unsigned transport_bit(std::string_view name) {
  if (name == "stdio") return kStdio;
  if (name == "websocket") return kWebSocket;
  if (name == "http") return kHttp;
  return 0;
}

std::span<const FrameFaultType> frame_fault_types() { return kFrameFaultTypes; }

const FrameFaultType* find_frame_fault_type(std::string_view name) {
  for (const auto& type : kFrameFaultTypes)
    if (type.name == name) return &type;
  return nullptr;
}

}  // namespace faultline
