// libFuzzer target: the stdio line decoder. The first bytes pick a frame limit
// and a chunk size; the stream decoded in chunks must equal the stream decoded
// whole, memory must stay bounded, and unmodified lines re-encode byte-exact.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "mcp/ndjson_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faultline;
  if (size < 2) return 0;
  mcp::NdjsonOptions options;
  options.max_frame_bytes = 1 + data[0] % 128 * 8;
  options.report_blank_lines = data[0] & 0x80;
  const std::size_t chunk = 1 + data[1] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<mcp::Frame> whole;
  mcp::NdjsonDecoder one_go(options);
  one_go.feed(stream, whole);
  one_go.finish(whole);

  std::vector<mcp::Frame> split;
  mcp::NdjsonDecoder chunked(options);
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    chunked.feed(stream.substr(at, chunk), split);
    FUZZ_CHECK(chunked.buffered_bytes() <= options.max_frame_bytes);
  }
  chunked.finish(split);

  FUZZ_CHECK(whole.size() == split.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    fuzz::check_frame(split[i]);
    FUZZ_CHECK(whole[i].raw == split[i].raw);
    FUZZ_CHECK(whole[i].offset == split[i].offset);
    FUZZ_CHECK(whole[i].kind == split[i].kind);
    FUZZ_CHECK(whole[i].id == split[i].id);
    FUZZ_CHECK(whole[i].line_end == split[i].line_end);
    FUZZ_CHECK(whole[i].offset + whole[i].raw.size() <= stream.size());
    FUZZ_CHECK(stream.compare(whole[i].offset, whole[i].raw.size(), whole[i].raw) == 0);
  }

  // Without oversized or blank-skipped lines, re-encoding gives the stream back
  // (a final unterminated line gains its newline).
  if (chunked.oversized_lines() == 0 && options.report_blank_lines) {
    std::string out;
    for (std::size_t i = 0; i < whole.size();) {
      const auto& frame = whole[i];
      if (frame.batch && frame.batch->size > 0) {
        mcp::append_ndjson_batch(std::span<const mcp::Frame>(whole).subspan(i, frame.batch->size), out);
        i += frame.batch->size;
      } else {
        mcp::append_ndjson_line(frame, out);
        ++i;
      }
    }
    std::string expected(stream);
    if (!expected.empty() && expected.back() != '\n') expected.push_back('\n');
    FUZZ_CHECK(out == expected);
  }
  return 0;
}
