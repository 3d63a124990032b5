#pragma once
// The stdio transport's framing: newline-delimited JSON-RPC (one message per
// line, "\r\n" tolerated). NdjsonDecoder turns arbitrary byte chunks into
// Frames with stream offsets, bounded in memory; the encoder writes them back.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/frame.hpp"

namespace faultline::mcp {

struct NdjsonOptions {
  std::size_t max_frame_bytes = 4 * 1024 * 1024;  // a longer line becomes one invalid frame
  bool report_blank_lines = true;  // a blank line breaks real stdio clients, so it is an invalid frame by default
  DecodeLimits limits;
};

class NdjsonDecoder {
 public:
  explicit NdjsonDecoder(NdjsonOptions options = {});

  // Appends every frame completed by `chunk` to `out`. A line that is not JSON
  // (a log banner on stdout) becomes an invalid frame and decoding goes on.
  void feed(std::string_view chunk, std::vector<Frame>& out);

  // End of stream: a final line without its newline is decoded too (LineEnd::none);
  // if it does not parse, its problem says the stream ended inside it.
  void finish(std::vector<Frame>& out);

  std::uint64_t bytes_fed() const { return stream_pos_; }
  std::size_t buffered_bytes() const { return pending_.size(); }
  std::uint64_t oversized_lines() const { return oversized_lines_; }

 private:
  void decode_line(std::string_view line, std::uint64_t line_offset, bool terminated, std::vector<Frame>& out);
  void report_oversized(std::vector<Frame>& out);

  NdjsonOptions options_;
  std::string pending_;             // the start of a line whose newline has not arrived
  std::uint64_t pending_offset_ = 0;
  std::uint64_t stream_pos_ = 0;    // bytes fed so far
  bool discarding_ = false;         // inside an oversized line: drop bytes until the next newline
  std::uint64_t oversized_lines_ = 0;
};

// Appends a frame as one stdio line: its raw bytes and its line ending
// ("\n" when none was recorded: frames built in code, a final unterminated
// line). Byte-exact for unmodified decoded lines.
void append_ndjson_line(const Frame& frame, std::string& out);

// Appends the members of one batch as one line. When they are the complete,
// unmodified batch in order, the original bytes are written; otherwise the
// remaining members' raw bytes are joined into a new array.
void append_ndjson_batch(std::span<const Frame> members, std::string& out);

// The JSON text of a batch from its members (shared with other encoders).
void append_batch_text(std::span<const Frame> members, std::string& out);

}  // namespace faultline::mcp
