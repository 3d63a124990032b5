// The stdio framing: lines at every chunk split, CRLF, banners, blank lines,
// oversized lines with resync, the unterminated tail, and byte-exact re-encoding.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "mcp/ndjson_codec.hpp"

using faultline::mcp::Frame;
using faultline::mcp::FrameKind;
using faultline::mcp::LineEnd;
using faultline::mcp::NdjsonDecoder;
using faultline::mcp::NdjsonOptions;

namespace {

// Feeds `input` cut at the given positions, then finishes the stream.
std::vector<Frame> decode_split(std::string_view input, const std::vector<std::size_t>& cuts,
                                NdjsonOptions options = {}) {
  NdjsonDecoder decoder(options);
  std::vector<Frame> frames;
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    decoder.feed(input.substr(from, cut - from), frames);
    from = cut;
  }
  decoder.feed(input.substr(from), frames);
  CHECK(decoder.bytes_fed() == input.size());
  decoder.finish(frames);
  return frames;
}

void check_same(const std::vector<Frame>& got, const std::vector<Frame>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].raw == want[i].raw);
    CHECK(got[i].offset == want[i].offset);
    CHECK(got[i].kind == want[i].kind);
    CHECK(got[i].id == want[i].id);
    CHECK(got[i].line_end == want[i].line_end);
    CHECK(got[i].problem.has_value() == want[i].problem.has_value());
    if (got[i].problem && want[i].problem) CHECK(got[i].problem->reason == want[i].problem->reason);
  }
}

// Re-encodes decoded frames, grouping batch members back into their line.
std::string encode_all(const std::vector<Frame>& frames) {
  std::string out;
  for (std::size_t i = 0; i < frames.size();) {
    if (frames[i].batch && frames[i].batch->size > 0) {
      const std::size_t n = frames[i].batch->size;
      faultline::mcp::append_ndjson_batch(std::span<const Frame>(frames).subspan(i, n), out);
      i += n;
    } else {
      faultline::mcp::append_ndjson_line(frames[i], out);
      ++i;
    }
  }
  return out;
}

const std::string kStream =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}\n"
    "Server running on stdio \xe2\x9c\x93\n"
    "{\"jsonrpc\":\"2.0\",\"id\":\"k\",\"result\":{\"tools\":[]}}\r\n"
    "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}, {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"b\"}]\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"caf\xc3\xa9\"}\n"
    "{\"bad\xff\":1}\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

}  // namespace

TEST_CASE("a stream of lines decodes into frames with offsets") {
  const auto frames = decode_split(kStream, {});
  REQUIRE(frames.size() == 8);
  CHECK(frames[0].kind == FrameKind::request);
  CHECK(frames[0].method == "initialize");
  CHECK(frames[0].offset == 0);
  CHECK(frames[0].line_end == LineEnd::lf);
  CHECK(frames[1].kind == FrameKind::invalid);  // the banner does not stop decoding
  CHECK(frames[1].offset == kStream.find("Server"));
  CHECK(frames[2].kind == FrameKind::response);
  CHECK(frames[2].line_end == LineEnd::crlf);
  CHECK(frames[2].raw.back() == '}');
  CHECK(frames[3].batch->index == 0);
  CHECK(frames[4].batch->index == 1);
  CHECK(frames[4].id == faultline::mcp::MessageId::integer(2));
  CHECK(frames[4].offset == kStream.find("{\"jsonrpc\":\"2.0\",\"id\":2"));
  CHECK(frames[5].method == "caf\xc3\xa9");
  CHECK(frames[6].kind == FrameKind::invalid);
  CHECK(frames[7].kind == FrameKind::notification);
  for (const auto& frame : frames) CHECK(kStream.compare(frame.offset, frame.raw.size(), frame.raw) == 0);
}

TEST_CASE("every split point gives the same frames") {
  const auto whole = decode_split(kStream, {});
  for (std::size_t cut = 0; cut <= kStream.size(); ++cut) {
    CAPTURE(cut);
    check_same(decode_split(kStream, {cut}), whole);
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < kStream.size(); ++i) every_byte.push_back(i);
  check_same(decode_split(kStream, every_byte), whole);
}

TEST_CASE("random chunkings give the same frames") {
  const auto whole = decode_split(kStream, {});
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::size_t> cuts;
    std::size_t at = 0;
    while (true) {
      at += std::uniform_int_distribution<std::size_t>(1, 40)(rng);
      if (at >= kStream.size()) break;
      cuts.push_back(at);
    }
    check_same(decode_split(kStream, cuts), whole);
  }
}

TEST_CASE("unmodified frames re-encode byte for byte") {
  CHECK(encode_all(decode_split(kStream, {})) == kStream);
  auto frames = decode_split(kStream, {});
  // Dropping one batch member re-serializes the batch from the rest.
  std::vector<Frame> kept{frames[4]};
  std::string out;
  faultline::mcp::append_ndjson_batch(kept, out);
  CHECK(out == "[{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"b\"}]\n");
  // An edited member also breaks byte-exactness on purpose.
  faultline::mcp::set_message(frames[3], {{"jsonrpc", "2.0"}, {"method", "z"}});
  out.clear();
  faultline::mcp::append_ndjson_batch(std::span<const Frame>(frames).subspan(3, 2), out);
  CHECK(out == "[{\"jsonrpc\":\"2.0\",\"method\":\"z\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"b\"}]\n");
}

TEST_CASE("blank lines are reported, or skipped when asked") {
  const std::string input = "\n \r\n{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\n";
  const auto reported = decode_split(input, {});
  REQUIRE(reported.size() == 3);
  CHECK(reported[0].problem->reason == "blank line");
  CHECK(reported[1].raw == " ");
  CHECK(reported[1].line_end == LineEnd::crlf);
  CHECK(reported[2].offset == 4);
  CHECK(encode_all(reported) == input);

  NdjsonOptions skip;
  skip.report_blank_lines = false;
  const auto skipped = decode_split(input, {}, skip);
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].kind == FrameKind::notification);
}

TEST_CASE("oversized lines become one invalid frame, then decoding resyncs") {
  NdjsonOptions small;
  small.max_frame_bytes = 64;
  const std::string ok = "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}";
  const std::string big = "{\"jsonrpc\":\"2.0\",\"method\":\"" + std::string(300, 'x') + "\"}";
  const std::string input = ok + "\n" + big + "\n" + ok + "\n" + big + "\n" + big + "\r\n" + ok + "\n";
  const auto whole = decode_split(input, {}, small);
  REQUIRE(whole.size() == 6);
  CHECK(whole[0].kind == FrameKind::notification);
  CHECK(whole[1].kind == FrameKind::invalid);
  CHECK(whole[1].offset == ok.size() + 1);
  CHECK(whole[1].raw.size() == 64);
  CHECK(whole[1].problem->reason.find("64 bytes") != std::string::npos);
  CHECK(whole[2].kind == FrameKind::notification);
  CHECK(whole[2].offset == ok.size() + 1 + big.size() + 1);
  CHECK(whole[3].kind == FrameKind::invalid);
  CHECK(whole[4].kind == FrameKind::invalid);
  CHECK(whole[5].kind == FrameKind::notification);
  CHECK(whole[5].offset == input.size() - ok.size() - 1);

  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    check_same(decode_split(input, {cut}, small), whole);
  }
  // Byte by byte, memory stays bounded by the limit.
  NdjsonDecoder decoder(small);
  std::vector<Frame> frames;
  for (const char c : input) {
    decoder.feed(std::string_view(&c, 1), frames);
    CHECK(decoder.buffered_bytes() <= 64);
  }
  decoder.finish(frames);
  check_same(frames, whole);
  CHECK(decoder.oversized_lines() == 3);
}

TEST_CASE("a line of exactly the limit still decodes") {
  NdjsonOptions small;
  const std::string ok = "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}";
  small.max_frame_bytes = ok.size();
  const auto frames = decode_split(ok + "\n" + ok, {5}, small);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].kind == FrameKind::notification);
}

TEST_CASE("the end of the stream flushes an unterminated line") {
  const std::string ok = "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}";
  auto frames = decode_split(ok, {3});
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == FrameKind::notification);
  CHECK(frames[0].line_end == LineEnd::none);

  frames = decode_split(ok + "\n{\"jsonrpc\":\"2.0\",\"me", {});
  REQUIRE(frames.size() == 2);
  CHECK(frames[1].kind == FrameKind::invalid);
  CHECK(frames[1].problem->reason.starts_with("stream ended inside this line"));
  CHECK(frames[1].offset == ok.size() + 1);

  CHECK(decode_split("", {}).empty());
  CHECK(decode_split("\n", {}).size() == 1);
}

TEST_CASE("garbage never stops the decoder") {
  std::mt19937 rng(7);
  std::string garbage;
  for (int i = 0; i < 20000; ++i) garbage.push_back(static_cast<char>(rng() & 0xff));
  const std::string ok = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"m\"}\n";
  NdjsonOptions small;
  small.max_frame_bytes = 512;
  const auto frames = decode_split(garbage + "\n" + ok, {4096, 8192}, small);
  REQUIRE_FALSE(frames.empty());
  CHECK(frames.back().kind == FrameKind::request);
  CHECK(frames.back().offset == garbage.size() + 1);
  for (const auto& frame : frames) {
    if (frame.problem) CHECK_NOTHROW((void)nlohmann::json(frame.problem->reason).dump());
  }
}
