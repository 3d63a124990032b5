// libFuzzer target: the text/event-stream decoder. Decoded in chunks or whole,
// the dispatched events must agree, raw bytes must add up to the stream, and a
// re-rendered event must decode to the same fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "mcp/sse_codec.hpp"

namespace {

using faultline::mcp::SseEvent;

bool dispatched(const SseEvent& event) { return event.complete && event.has_data; }

bool same_fields(const SseEvent& a, const SseEvent& b) {
  return a.type == b.type && a.data == b.data && a.id == b.id && a.retry == b.retry && a.has_data == b.has_data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faultline;
  if (size < 2) return 0;
  mcp::SseOptions options;
  options.max_event_bytes = 1 + data[0] * 16;
  const std::size_t chunk = 1 + data[1] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<SseEvent> whole;
  mcp::SseDecoder one_go(options);
  one_go.feed(stream, whole);
  one_go.finish(whole);

  std::vector<SseEvent> split;
  mcp::SseDecoder chunked(options);
  for (std::size_t at = 0; at < stream.size(); at += chunk) chunked.feed(stream.substr(at, chunk), split);
  chunked.finish(split);
  FUZZ_CHECK(one_go.last_event_id() == chunked.last_event_id());
  FUZZ_CHECK(one_go.retry() == chunked.retry());

  std::vector<const SseEvent*> a, b;
  for (const auto& event : whole) if (dispatched(event)) a.push_back(&event);
  for (const auto& event : split) if (dispatched(event)) b.push_back(&event);
  FUZZ_CHECK(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) FUZZ_CHECK(same_fields(*a[i], *b[i]));

  for (const auto* events : {&whole, &split}) {
    std::string raw;
    for (const auto& event : *events) {
      FUZZ_CHECK(event.offset + event.raw.size() <= stream.size());
      FUZZ_CHECK(stream.compare(event.offset, event.raw.size(), event.raw) == 0);
      FUZZ_CHECK(event.raw.size() <= options.max_event_bytes + 1);  // + the LF of a final CRLF
      raw += event.raw;
    }
    if (one_go.skipped_bytes() == 0 && chunked.skipped_bytes() == 0) FUZZ_CHECK(raw == stream);
  }

  for (const auto& event : whole) {
    std::vector<mcp::Frame> frames;
    mcp::decode_sse_frames(event, frames);
    for (const auto& frame : frames) fuzz::check_frame(frame);
    if (!dispatched(event)) continue;
    std::string rendered;
    mcp::append_sse_event(event, rendered);
    std::vector<SseEvent> again;
    mcp::SseDecoder redecoder;
    redecoder.feed(rendered, again);
    redecoder.finish(again);
    FUZZ_CHECK(again.size() == 1);
    // Rendering drops CR/LF from type and id, and a NUL-bearing id never parses.
    if (event.type.find_first_of("\r\n") == std::string::npos) FUZZ_CHECK(again[0].type == event.type);
    FUZZ_CHECK(again[0].data == event.data);
    FUZZ_CHECK(again[0].retry == event.retry);
  }
  return 0;
}
