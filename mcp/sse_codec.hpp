#pragma once
// The SSE side of Streamable HTTP: a text/event-stream parser that follows the
// WHATWG rules (fields, comments, BOM, CR/LF/CRLF) across arbitrary chunk
// splits, keeps every event's exact bytes for pass-through, and re-emits
// edited events (id stripped, retry rewritten). JSON-RPC frames come from data.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/frame.hpp"

namespace faultline::mcp {

// One block of the stream, up to and including the blank line that ends it.
// Every input byte lands in exactly one event's raw, so passing raw through
// reproduces the stream byte for byte (a blank line alone is an event too).
struct SseEvent {
  std::string raw;                  // the block exactly as received
  std::uint64_t offset = 0;         // byte offset of raw[0] in the stream
  std::string type;                 // the "event" field; empty means "message"
  std::string data;                 // "data" fields joined with "\n"
  std::optional<std::string> id;    // the "id" field of this block, if it had one
  std::optional<std::uint64_t> retry;  // a valid "retry" field (milliseconds)
  std::vector<std::string> comments;   // text after ':' of comment lines (heartbeats)
  bool has_data = false;  // at least one data field: a browser would dispatch it
  bool complete = true;   // false for a block cut off by the end of the stream or the size limit
  std::optional<std::string> problem;  // why the block was cut off

  std::string_view event_type() const { return type.empty() ? std::string_view("message") : type; }
};

struct SseOptions {
  std::size_t max_event_bytes = 16 * 1024 * 1024;  // a larger block (not counting the LF of a final CRLF) is reported, then skipped
  DecodeLimits limits;
};

class SseDecoder {
 public:
  explicit SseDecoder(SseOptions options = {});

  // Appends every event completed by `chunk` to `out`.
  void feed(std::string_view chunk, std::vector<SseEvent>& out);

  // End of stream: bytes of an unfinished block become an event with complete == false.
  void finish(std::vector<SseEvent>& out);

  // The stream's last event id (what a client sends as Last-Event-ID), per WHATWG:
  // set by every id field, kept across events (the fields of a block dropped as
  // oversized do not count).
  const std::string& last_event_id() const { return last_event_id_; }
  // The last valid retry value seen on the stream.
  std::optional<std::uint64_t> retry() const { return retry_; }
  std::uint64_t bytes_fed() const { return stream_pos_; }
  std::uint64_t skipped_bytes() const { return skipped_bytes_; }

 private:
  void process_line(std::string_view line);
  void emit(std::size_t end, std::vector<SseEvent>& out);
  void mark_oversized(SseEvent& event);
  void feed_skipping(std::string_view chunk, std::size_t& pos);

  SseOptions options_;
  std::string buffer_;            // bytes of the current block (and maybe of later ones in this chunk)
  std::size_t block_start_ = 0;   // where the current block begins in buffer_
  std::size_t line_start_ = 0;    // where the current line begins in buffer_
  std::size_t scan_pos_ = 0;      // next byte of buffer_ to look at for a line end
  std::uint64_t buffer_offset_ = 0;  // stream offset of buffer_[0]
  std::uint64_t stream_pos_ = 0;
  bool skip_lf_ = false;          // the last line ended in CR: a following LF belongs to it
  bool first_line_ = true;        // a BOM is stripped from the stream's first line only
  bool skipping_ = false;         // inside an oversized block: drop bytes until a blank line
  bool skipping_line_empty_ = true;
  std::uint64_t skipped_bytes_ = 0;

  SseEvent current_;              // fields of the block being read
  std::string last_event_id_;
  std::optional<std::uint64_t> retry_;
  std::string id_before_block_;   // restored when a block turns out oversized
  std::optional<std::uint64_t> retry_before_block_;
};

// Appends an event exactly as it was received (pass-through).
inline void append_sse_event_raw(const SseEvent& event, std::string& out) { out += event.raw; }

// Appends an event rendered from its fields (after an edit: id stripped, retry
// rewritten, data replaced). CR and LF in type and id are dropped; data lines
// split on CR, LF and CRLF so the receiver sees the same data.
void append_sse_event(const SseEvent& event, std::string& out);

// The JSON-RPC frames an event carries: its data decoded, when it is a complete
// "message" event with non-empty data. Frame offsets are the event's offset;
// problem offsets count from the start of the data.
void decode_sse_frames(const SseEvent& event, std::vector<Frame>& out, const DecodeLimits& limits = {});

}  // namespace faultline::mcp
