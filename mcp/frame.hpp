#pragma once
// A Frame is one JSON-RPC 2.0 message as it crossed the wire: its exact bytes,
// the parsed message if it parsed, and its strict JSON-RPC classification. Every
// codec (stdio lines, SSE events, HTTP bodies) turns JSON text into Frames with
// decode_json_text(); frame faults and the recorder work on Frames. A proxy
// may defer building the parsed message (DecodeLimits::defer_message): the
// text is still fully validated and classified in one pass, and
// ensure_message() builds the message when a fault or the recorder needs it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_depth.hpp"
#include "mcp/message_id.hpp"

namespace faultline::mcp {

enum class FrameKind : std::uint8_t {
  request,       // method + id
  notification,  // method, no id
  response,      // result + id
  error,         // error + id (id may be null)
  invalid,       // not JSON, not an object, or breaks a JSON-RPC 2.0 rule
};

std::string_view to_string(FrameKind kind);

// Why a frame is invalid, and where: `offset` counts bytes from the start of
// Frame::raw (for SSE frames, from the start of the event's data).
struct FrameProblem {
  std::string reason;
  std::size_t offset = 0;
};

// Membership of a frame in a JSON array batch. `text` is the whole batch exactly
// as received (shared by its members), so an unmodified batch re-encodes
// byte-exact; `offset_in_batch` is where this member's raw bytes start in it.
struct BatchSlot {
  std::uint32_t index = 0;
  std::uint32_t size = 0;
  std::size_t offset_in_batch = 0;
  std::shared_ptr<const std::string> text;
};

// How a stdio line ended; other transports leave it `none`.
enum class LineEnd : std::uint8_t { none, lf, crlf };

struct Frame {
  std::string raw;              // the JSON text exactly as received (a batch member's own bytes)
  std::uint64_t offset = 0;     // byte offset of raw[0] in its stream (SSE: of the event)
  nlohmann::json message;       // the parsed message; null when it did not parse or is deferred
  bool parsed = false;          // raw was valid JSON
  bool message_deferred = false;  // parsed, but `message` not built yet: see ensure_message()
  FrameKind kind = FrameKind::invalid;
  MessageId id;                 // absent when the message has no "id"
  std::string method;           // requests and notifications
  std::optional<FrameProblem> problem;  // set exactly when kind == invalid
  std::optional<BatchSlot> batch;       // set when the frame came inside a JSON array
  LineEnd line_end = LineEnd::none;

  bool valid() const { return kind != FrameKind::invalid; }
  bool is_call() const { return kind == FrameKind::request || kind == FrameKind::notification; }
  bool is_reply() const { return kind == FrameKind::response || kind == FrameKind::error; }
};

struct DecodeLimits {
  std::size_t max_batch_size = 1024;  // larger batches become one invalid frame
  // Classify a single message in one validating pass without building its DOM
  // (Frame::message stays null, message_deferred is set). Batches are parsed as usual.
  bool defer_message = false;
  // A text that nests deeper is one invalid frame, its bytes kept, never parsed.
  std::size_t max_depth = kMaxJsonDepth;
};

// Decodes one JSON text (a stdio line, an SSE event's data, an HTTP body):
// appends one frame for a single message, a parse error, or an empty batch;
// one frame per member for a batch. Never throws on any input bytes.
void decode_json_text(std::string_view text, std::uint64_t offset, std::vector<Frame>& out,
                      const DecodeLimits& limits = {});

// decode_json_text() for a text the caller gives away: a single message with
// defer_message set keeps the text's buffer as Frame::raw instead of copying it.
void decode_owned_json_text(std::string&& text, std::uint64_t offset, std::vector<Frame>& out,
                            const DecodeLimits& limits = {});

// Builds frame.message from frame.raw when decoding deferred it; a no-op otherwise.
// Returns frame.message.
const nlohmann::json& ensure_message(Frame& frame);

// The parsed message of a frame that may be deferred, without changing the
// frame: frame.message, or `scratch` filled from frame.raw.
const nlohmann::json& message_of(const Frame& frame, nlohmann::json& scratch);

// Fills kind, id, method and problem from frame.message (built first if deferred); frame.raw is used only
// to point problems at the offending member.
void classify(Frame& frame);

// A frame for a message built in code (a simulated peer, a fault that rewrites
// a message): raw is the compact serialization, then classified.
Frame make_frame(nlohmann::json message);

// Replaces a frame's message (after a fault edited it): re-serializes raw,
// reclassifies, and leaves offset, batch and line_end as they were.
void set_message(Frame& frame, nlohmann::json message);

// Text safe to put in a report: bytes outside printable ASCII become \xNN.
std::string printable(std::string_view bytes, std::size_t max_bytes = 64);

}  // namespace faultline::mcp
