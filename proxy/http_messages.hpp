#pragma once
// What the http link's parts share about the messages they relay: the
// limits, the MCP session header, and helpers for the JSON-RPC messages of a
// body (rendered again after faults, compared, matched by a fault's `match`).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "faults/frame_fault.hpp"
#include "faults/frame_match.hpp"

namespace faultline::http_link {

inline constexpr std::size_t kHeaderLimit = 64 * 1024;
// A larger request body is answered 413, a larger JSON body is one invalid frame
// (unless the link's max_message gives another limit).
inline constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxResponseBytes = 64 * 1024 * 1024;  // a larger non-SSE response ends the connection
inline constexpr std::size_t kReadPiece = 16 * 1024;
// Bytes read but not parsed yet, at most: a head of kHeaderLimit and a read
// more. Beast's own header limit misses a head that arrives over many reads.
inline constexpr std::size_t kUnparsedLimit = kHeaderLimit + kReadPiece;
inline constexpr std::size_t kKeptEvents = 64;  // SSE events remembered for frames a fault releases later
inline constexpr std::string_view kSessionHeader = "Mcp-Session-Id";

// The value of `name` in the query of `target` ("/message?sessionId=abc" -> "abc").
std::string query_param(std::string_view target, std::string_view name);

// The body for frames that leave a chain: one message, or a batch.
std::string encode_frames(std::vector<WireFrame> frames);

// What a list of frames was before faults saw it: each one's stream offset and bytes.
using FramesSeen = std::vector<std::pair<std::uint64_t, std::string>>;
FramesSeen frames_seen(const std::vector<WireFrame>& frames);
bool same_frames(const std::vector<WireFrame>& frames, const FramesSeen& seen);

// Whether a fault's match selects a request or an SSE event: one of its
// messages matches. One without messages (a GET, a DELETE, a priming event) is
// selected by an empty match, or by a match on its session alone.
bool any_match(const FrameMatch& match, const std::vector<WireFrame>& frames, const std::string& session);

}  // namespace faultline::http_link
