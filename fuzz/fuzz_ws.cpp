// libFuzzer target: the WebSocket frame decoder. Fed whole or in arbitrary
// splits, it must report the same events; every event must keep the codec's
// promises (valid UTF-8 text, control payloads within 125 bytes, sendable close
// codes, nothing after a close or violation); and each decoded message, ping,
// pong or close, encoded again by append_ws_frame (masked as its side must be,
// in as many frames as it came in), must decode to the same event.
//
// Input: byte 0 bit 0: frames from the client (masked); byte 1: the message
// limit (1 + 64 * byte); byte 2: the seed of the splits; the rest: the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "mcp/ws_codec.hpp"

namespace {

using faultline::mcp::WsEvent;
using faultline::mcp::WsOpcode;

bool same_event(const WsEvent& a, const WsEvent& b) {
  return a.kind == b.kind && a.opcode == b.opcode && a.payload == b.payload && a.offset == b.offset &&
         a.frames == b.frames && a.code == b.code && a.reason == b.reason && a.violation_code == b.violation_code &&
         a.problem == b.problem;
}

// `event` encoded as a peer on this side would send it.
std::string encode(const WsEvent& event, bool from_client, std::uint32_t mask_seed) {
  using namespace faultline::mcp;
  std::string out;
  auto mask = [&](std::uint32_t i) -> std::optional<std::uint32_t> {
    if (!from_client) return std::nullopt;
    return mask_seed * 2654435761u + i;
  };
  switch (event.kind) {
    case WsEvent::ping:
      append_ws_frame(out, WsOpcode::ping, true, event.payload, mask(0));
      break;
    case WsEvent::pong:
      append_ws_frame(out, WsOpcode::pong, true, event.payload, mask(0));
      break;
    case WsEvent::close:
      append_ws_frame(out, WsOpcode::close, true, event.payload, mask(0));
      break;
    case WsEvent::message: {
      // The payload in `frames` pieces (some may be empty, as the peer's may have been).
      const std::size_t n = event.frames;
      const std::size_t size = event.payload.size();
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t from = size * i / n, to = size * (i + 1) / n;
        append_ws_frame(out, i == 0 ? event.opcode : WsOpcode::continuation, i + 1 == n,
                        std::string_view(event.payload).substr(from, to - from), mask(static_cast<std::uint32_t>(i)));
      }
      break;
    }
    case WsEvent::violation:
      break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faultline;
  if (size < 3) return 0;
  mcp::WsDecoderOptions options;
  options.from_client = data[0] & 1;
  options.max_message_bytes = 1 + std::size_t{data[1]} * 64;
  std::uint32_t split_state = data[2] * 2246822519u + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  std::vector<WsEvent> whole;
  mcp::WsDecoder one_go(options);
  one_go.feed(stream, whole);
  FUZZ_CHECK(one_go.bytes_fed() == stream.size());

  // Splits of 0 to 40 bytes (an empty feed included), drawn from the seed.
  std::vector<WsEvent> split;
  mcp::WsDecoder chunked(options);
  for (std::size_t at = 0; at < stream.size();) {
    split_state = split_state * 1664525u + 1013904223u;
    const std::size_t n = (split_state >> 16) % 41;
    chunked.feed(stream.substr(at, n), split);
    at += n;
  }
  FUZZ_CHECK(chunked.bytes_fed() == stream.size());
  FUZZ_CHECK(one_go.stopped() == chunked.stopped());
  FUZZ_CHECK(whole.size() == split.size());
  for (std::size_t i = 0; i < whole.size(); ++i) FUZZ_CHECK(same_event(whole[i], split[i]));

  std::uint64_t last_offset = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const auto& e = whole[i];
    const bool final_kind = e.kind == WsEvent::close || e.kind == WsEvent::violation;
    FUZZ_CHECK(!final_kind || i + 1 == whole.size());  // nothing decoded after a close or a violation
    FUZZ_CHECK(!final_kind || one_go.stopped());
    FUZZ_CHECK(e.offset < stream.size());
    // Control frames come in stream order; a message (and a violation inside it)
    // carries its first frame's offset, before control frames sent between its fragments.
    if (e.kind == WsEvent::ping || e.kind == WsEvent::pong || e.kind == WsEvent::close) {
      FUZZ_CHECK(e.offset >= last_offset);
      last_offset = e.offset;
    }
    switch (e.kind) {
      case WsEvent::message:
        FUZZ_CHECK(e.opcode == WsOpcode::text || e.opcode == WsOpcode::binary);
        FUZZ_CHECK(e.frames >= 1);
        FUZZ_CHECK(e.payload.size() <= options.max_message_bytes);
        if (e.opcode == WsOpcode::text) FUZZ_CHECK(mcp::valid_utf8(e.payload));
        break;
      case WsEvent::ping:
      case WsEvent::pong:
        FUZZ_CHECK(e.payload.size() <= 125);
        break;
      case WsEvent::close:
        FUZZ_CHECK(e.payload.size() <= 125);
        FUZZ_CHECK(e.payload.size() != 1);
        if (e.code) {
          FUZZ_CHECK(mcp::ws_close_code_sendable(*e.code));
          FUZZ_CHECK(mcp::valid_utf8(e.reason));
          FUZZ_CHECK(mcp::ws_close_payload(e.code, e.reason) == e.payload);
        } else {
          FUZZ_CHECK(e.payload.empty() && e.reason.empty());
        }
        break;
      case WsEvent::violation:
        FUZZ_CHECK(e.violation_code == mcp::ws_close_code::protocol_error ||
                   e.violation_code == mcp::ws_close_code::invalid_payload ||
                   e.violation_code == mcp::ws_close_code::too_big);
        FUZZ_CHECK(!e.problem.empty());
        break;
    }
  }

  // Encoded again, each event decodes to itself (at the offset of its new frames).
  for (const auto& e : whole) {
    if (e.kind == WsEvent::violation) continue;
    const std::string bytes = encode(e, options.from_client, static_cast<std::uint32_t>(e.offset));
    std::vector<WsEvent> again;
    mcp::WsDecoder redecoder(options);
    redecoder.feed(bytes, again);
    FUZZ_CHECK(again.size() == 1);
    WsEvent expected = e;
    expected.offset = 0;
    FUZZ_CHECK(same_event(again[0], expected));
    FUZZ_CHECK(redecoder.buffered_bytes() == 0 || redecoder.stopped());
  }
  return 0;
}
