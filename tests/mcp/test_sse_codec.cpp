// text/event-stream per WHATWG: fields, comments, BOM, CR/LF/CRLF at every
// chunk split, byte-exact pass-through, edited re-emission, frames from data.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "mcp/sse_codec.hpp"

using faultline::mcp::Frame;
using faultline::mcp::FrameKind;
using faultline::mcp::SseDecoder;
using faultline::mcp::SseEvent;
using faultline::mcp::SseOptions;

namespace {

std::vector<SseEvent> decode_split(std::string_view input, const std::vector<std::size_t>& cuts,
                                   SseOptions options = {}, SseDecoder* keep = nullptr) {
  SseDecoder local(options);
  SseDecoder& decoder = keep ? *keep : local;
  std::vector<SseEvent> events;
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    decoder.feed(input.substr(from, cut - from), events);
    from = cut;
  }
  decoder.feed(input.substr(from), events);
  decoder.finish(events);
  return events;
}

// Only the events a browser would dispatch.
std::vector<SseEvent> dispatched(const std::vector<SseEvent>& events) {
  std::vector<SseEvent> out;
  for (const auto& event : events) {
    if (event.complete && event.has_data) out.push_back(event);
  }
  return out;
}

std::string concat_raw(const std::vector<SseEvent>& events) {
  std::string out;
  for (const auto& event : events) faultline::mcp::append_sse_event_raw(event, out);
  return out;
}

void check_same(const std::vector<SseEvent>& got, const std::vector<SseEvent>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].type == want[i].type);
    CHECK(got[i].data == want[i].data);
    CHECK(got[i].id == want[i].id);
    CHECK(got[i].retry == want[i].retry);
    CHECK(got[i].comments == want[i].comments);
    CHECK(got[i].has_data == want[i].has_data);
    CHECK(got[i].complete == want[i].complete);
  }
}

// Dispatched events must not depend on where the chunks were cut, and the raw
// bytes must always add up to the input.
void check_every_split(const std::string& input, SseOptions options = {}) {
  const auto whole = decode_split(input, {}, options);
  CHECK(concat_raw(whole) == input);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    const auto split = decode_split(input, {cut}, options);
    check_same(dispatched(split), dispatched(whole));
    CHECK(concat_raw(split) == input);
    for (const auto& event : split) CHECK(input.compare(event.offset, event.raw.size(), event.raw) == 0);
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
  const auto bytewise = decode_split(input, every_byte, options);
  check_same(dispatched(bytewise), dispatched(whole));
  CHECK(concat_raw(bytewise) == input);
}

}  // namespace

TEST_CASE("WHATWG example: multi-line data") {
  const auto events = dispatched(decode_split("data: YHOO\ndata: +2\ndata: 10\n\n", {}));
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "YHOO\n+2\n10");
  CHECK(events[0].event_type() == "message");
}

TEST_CASE("WHATWG example: comments, ids and the leading space") {
  const std::string input =
      ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
  SseDecoder decoder;
  const auto all = decode_split(input, {}, {}, &decoder);
  REQUIRE(all.size() == 4);
  CHECK(all[0].comments == std::vector<std::string>{" test stream"});
  CHECK_FALSE(all[0].has_data);
  CHECK(all[1].data == "first event");
  CHECK(all[1].id == "1");
  CHECK(all[2].data == "second event");
  CHECK(all[2].id == "");
  CHECK(all[3].data == " third event");
  CHECK_FALSE(all[3].id.has_value());
  CHECK(decoder.last_event_id().empty());
  CHECK(all[1].offset == input.find("data: first"));
  check_every_split(input);
}

TEST_CASE("WHATWG example: empty data fields and the unfinished tail") {
  const auto all = decode_split("data\n\ndata\ndata\n\ndata:", {});
  REQUIRE(all.size() == 3);
  CHECK(all[0].has_data);
  CHECK(all[0].data == "");
  CHECK(all[1].data == "\n");
  CHECK_FALSE(all[2].complete);  // discarded by a browser, kept here for pass-through
  CHECK(all[2].raw == "data:");
  CHECK(dispatched(decode_split("data:test\n\ndata: test\n\n", {})).size() == 2);
}

TEST_CASE("event type, retry and ignored fields") {
  const std::string input =
      "event: endpoint\ndata: /messages?session=1\n\n"
      "retry: 3000\nid: 42\ndata: {}\n\n"
      "retry: 3s\nretry: -1\nretry:\nretry: +5\nfoo: bar\ndata: x\n\n"
      "event\ndata: z\n\n";
  const std::string with_nul = std::string("id: a") + '\0' + "b\ndata: y\n\n";
  SseDecoder decoder;
  const auto all = decode_split(std::string(input) + with_nul, {}, {}, &decoder);
  REQUIRE(all.size() == 5);
  CHECK(all[0].event_type() == "endpoint");
  CHECK(all[1].retry == 3000u);
  CHECK(all[1].id == "42");
  CHECK_FALSE(all[2].retry.has_value());
  CHECK(all[2].data == "x");
  CHECK(all[3].event_type() == "message");
  CHECK_FALSE(all[4].id.has_value());  // an id containing NUL is ignored
  CHECK(decoder.last_event_id() == "42");
  CHECK(decoder.retry() == 3000u);
}

TEST_CASE("CR, LF and CRLF line endings, split anywhere") {
  check_every_split("data: a\r\ndata: b\r\n\r\nid: 7\rdata: c\r\rdata: d\n\r\n: ping\r\n\r\n");
  const auto events = dispatched(decode_split("data: a\r\ndata: b\r\n\r\nid: 7\rdata: c\r\rdata: d\n\r\n", {}));
  REQUIRE(events.size() == 3);
  CHECK(events[0].data == "a\nb");
  CHECK(events[1].data == "c");
  CHECK(events[1].id == "7");
  CHECK(events[2].data == "d");
  // A CR at the end of one chunk and its LF at the start of the next is one line end.
  const auto split = decode_split("data: a\r\n\r\ndata: b\r\n\r\n", {8, 10});
  CHECK(dispatched(split).size() == 2);
  CHECK(concat_raw(split) == "data: a\r\n\r\ndata: b\r\n\r\n");
}

TEST_CASE("a BOM is stripped from the first line only") {
  const std::string input = "\xEF\xBB\xBF" "data: one\n\n\xEF\xBB\xBF" "data: two\n\n";
  const auto all = decode_split(input, {});
  REQUIRE(all.size() == 2);
  CHECK(all[0].data == "one");
  CHECK(all[0].raw.starts_with("\xEF\xBB\xBF"));
  CHECK_FALSE(all[1].has_data);  // the field name is "\xEF\xBB\xBFdata": ignored
  check_every_split(input);
}

TEST_CASE("MCP stream: priming event, responses, heartbeats, split anywhere") {
  const std::string input =
      "id: ev-0\ndata:\n\n"
      ": keepalive\n\n"
      "event: message\nid: ev-1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n"
      "id: ev-2\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\n"
      "data: \"result\":{\"content\":[{\"type\":\"text\",\"text\":\"caf\xc3\xa9\"}]}}\n\n"
      "retry: 1000\n\n";
  check_every_split(input);
  const auto all = decode_split(input, {});
  std::vector<Frame> frames;
  for (const auto& event : all) faultline::mcp::decode_sse_frames(event, frames);
  REQUIRE(frames.size() == 2);  // the priming event has empty data: no frame
  CHECK(frames[0].kind == FrameKind::notification);
  CHECK(frames[1].kind == FrameKind::response);
  CHECK(frames[1].id == faultline::mcp::MessageId::integer(7));
  CHECK(frames[1].offset == input.find("id: ev-2"));
  CHECK(frames[1].raw == all[3].data);

  std::vector<Frame> none;
  faultline::mcp::decode_sse_frames(decode_split("event: endpoint\ndata: /messages\n\n", {})[0], none);
  CHECK(none.empty());  // legacy endpoint events carry a URL, not JSON-RPC
  faultline::mcp::decode_sse_frames(decode_split("data: not json\n\n", {})[0], none);
  REQUIRE(none.size() == 1);
  CHECK(none[0].kind == FrameKind::invalid);
}

TEST_CASE("edited events re-encode to what a browser would read") {
  const std::string input = ": hb\nevent: message\nid: 5\nretry: 100\ndata: {\"a\":1}\ndata:  two\n\n";
  auto events = decode_split(input, {});
  REQUIRE(events.size() == 1);
  std::string out;
  faultline::mcp::append_sse_event_raw(events[0], out);
  CHECK(out == input);

  out.clear();
  faultline::mcp::append_sse_event(events[0], out);
  check_same(decode_split(out, {}), events);

  SseEvent edited = events[0];
  edited.id.reset();
  edited.retry = 60000;
  out.clear();
  faultline::mcp::append_sse_event(edited, out);
  CHECK(out.find("id") == std::string::npos);
  const auto again = decode_split(out, {});
  REQUIRE(again.size() == 1);
  CHECK_FALSE(again[0].id.has_value());
  CHECK(again[0].retry == 60000u);
  CHECK(again[0].data == "{\"a\":1}\n two");

  SseEvent built;
  built.has_data = true;
  built.data = "x\r\ny\rz";
  built.id = "i\nd";
  out.clear();
  faultline::mcp::append_sse_event(built, out);
  const auto parsed = decode_split(out, {});
  REQUIRE(parsed.size() == 1);
  CHECK(parsed[0].data == "x\ny\nz");
  CHECK(parsed[0].id == "id");

  SseEvent empty_id;
  empty_id.id = "";
  empty_id.has_data = true;
  out.clear();
  faultline::mcp::append_sse_event(empty_id, out);
  CHECK(out == "id\ndata: \n\n");
}

TEST_CASE("oversized events are reported and skipped up to the blank line") {
  SseOptions small;
  small.max_event_bytes = 32;
  const std::string big = "data: " + std::string(100, 'x') + "\ndata: more\n\n";
  const std::string ok = "data: ok\n\n";
  const std::string input = ok + big + ok + "data: " + std::string(50, 'y') + "\r\r" + ok;
  const auto whole = decode_split(input, {}, small);
  REQUIRE(whole.size() == 5);
  CHECK(whole[0].data == "ok");
  CHECK_FALSE(whole[1].complete);
  CHECK(whole[1].problem.has_value());
  CHECK(whole[1].raw.size() == 32);
  CHECK(whole[1].offset == ok.size());
  CHECK(whole[2].data == "ok");
  CHECK(whole[2].offset == ok.size() + big.size());
  CHECK_FALSE(whole[3].complete);
  CHECK(whole[4].data == "ok");
  CHECK(whole[4].offset == input.size() - ok.size());
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    const auto split = decode_split(input, {cut}, small);
    check_same(dispatched(split), dispatched(whole));
    const auto last = split.back();
    CHECK(last.offset == input.size() - ok.size());
  }
}

TEST_CASE("random bytes never break the decoder") {
  std::mt19937 rng(99);
  const char alphabet[] = {'d', 'a', 't', ':', ' ', '\r', '\n', 'i', 'e', 'v', '\xEF', '\xBB', '\xBF', 'x', '\0'};
  for (int round = 0; round < 200; ++round) {
    std::string input;
    const int size = static_cast<int>(rng() % 200);
    for (int i = 0; i < size; ++i) input.push_back(alphabet[rng() % sizeof alphabet]);
    CAPTURE(round);
    check_every_split(input);
  }
}

TEST_CASE("fuzzer findings: chunking must not change the verdict on oversized events") {
  // Replays fuzz_sse inputs: byte 0 picks the limit, byte 1 the chunk size.
  const std::string findings[] = {
      std::string(
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x03\xef\xbb\xe4\x3a\x40\x03"
      "\xef\xbb\xbf\x3a\x20\x68\xef\xbb\xbf\x62\x0a\x0a\x69\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\xff\x64\x3a\x20\x65\x76\x20\x68\x62\x0a"
      "\x0a\x69\x64\x3a\x20\x65\x76\x2d\x30\x0a\x72\x65\x74\x72\x79\x0d\x0a\x3a\x22\x32\x2e\x30\x22\x2c"
      "\x22\x69\x64\x22\x3a\x31\x2c\x0d\x0a\x64\x61\x65\x74\x74\x61\x3a\x20\x72",
          114),
      std::string(
      "\x03\x40\xef\xbb\xbf\x3a\x20\x68\x62\x0a\x0a\x69\xa5\x30\x22\x2c\x22\x69\x9f\x22\x3a\x31\x72\x67"
      "\x73\x75\x6c\x74\x22\x3a\x7b\x7d\x7d\x0d\x64\x61\x74\x61\x3a\x20\x7b\x22\x6a\x73\x35\x22\x3a\x22"
      "\x32\x75\x6c\x74\x22\x3a\x7b\x7d\x7d\x0d\x0a\x0d\x0a\x65\x76\x65\x6e\x2e\x30\x22\x2c\x22\xff\x64"
      "\x22\x65\x73\x0d\x0d",
          77),
  };
  for (const auto& input : findings) {
    SseOptions options;
    options.max_event_bytes = 1 + static_cast<unsigned char>(input[0]) * 16;
    const std::size_t chunk = 1 + static_cast<unsigned char>(input[1]) % 64;
    const std::string stream = input.substr(2);
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk; at < stream.size(); at += chunk) cuts.push_back(at);
    SseDecoder whole_decoder(options), split_decoder(options);
    const auto whole = decode_split(stream, {}, options, &whole_decoder);
    const auto split = decode_split(stream, cuts, options, &split_decoder);
    check_same(dispatched(split), dispatched(whole));
    CHECK(whole_decoder.last_event_id() == split_decoder.last_event_id());
    CHECK(whole_decoder.retry() == split_decoder.retry());
  }
}
