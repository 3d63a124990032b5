// libFuzzer target: one JSON text into frames (decode_json_text), with the
// frame invariants checked and the batch re-encoding checked byte-exact.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "mcp/ndjson_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faultline;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<mcp::Frame> frames;
  mcp::decode_json_text(text, 0, frames);
  FUZZ_CHECK(!frames.empty());
  for (const auto& frame : frames) fuzz::check_frame(frame);
  if (frames.front().batch && frames.front().batch->size > 0) {
    FUZZ_CHECK(frames.size() == frames.front().batch->size);
    std::string out;
    mcp::append_batch_text(frames, out);
    FUZZ_CHECK(out == text);
  } else {
    FUZZ_CHECK(frames.size() == 1);
    FUZZ_CHECK(frames.front().raw == text);
  }
  return 0;
}
