// The WebSocket framing codec: frames round trip, fragments join, any split of
// the byte stream decodes the same, and every protocol violation a correct
// endpoint checks gives its close code (1002, 1007, 1009) and stops decoding.
#include <doctest/doctest.h>

#include "mcp/ws_codec.hpp"

using namespace faultline::mcp;

namespace {

std::string frame(WsOpcode op, bool fin, std::string_view payload, bool masked) {
  std::string out;
  append_ws_frame(out, op, fin, payload, masked ? std::optional<std::uint32_t>(0x37fa213d) : std::nullopt);
  return out;
}

std::vector<WsEvent> decode(std::string_view bytes, bool from_client = true, std::size_t limit = 1 << 20) {
  WsDecoder d(WsDecoderOptions{from_client, limit});
  std::vector<WsEvent> out;
  d.feed(bytes, out);
  return out;
}

WsEvent only_violation(std::string_view bytes, bool from_client = true, std::size_t limit = 1 << 20) {
  auto events = decode(bytes, from_client, limit);
  REQUIRE(!events.empty());
  CHECK(events.back().kind == WsEvent::violation);
  return events.back();
}

}  // namespace

TEST_CASE("messages of every length class round trip, masked and unmasked") {
  for (std::size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u, 200000u}) {
    std::string payload(n, 'a');
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    for (bool masked : {true, false}) {
      auto events = decode(frame(WsOpcode::text, true, payload, masked), masked);
      REQUIRE(events.size() == 1);
      CHECK(events[0].kind == WsEvent::message);
      CHECK(events[0].opcode == WsOpcode::text);
      CHECK(events[0].payload == payload);
      CHECK(events[0].frames == 1);
    }
  }
}

TEST_CASE("a masked frame is the RFC 6455 example") {
  // RFC 6455 5.7: a masked "Hello" from a client.
  const std::string bytes = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  CHECK(frame(WsOpcode::text, true, "Hello", true) == bytes);
  auto events = decode(bytes);
  REQUIRE(events.size() == 1);
  CHECK(events[0].payload == "Hello");
}

TEST_CASE("fragments join into one message, with pings between them, at every split of the stream") {
  std::string stream = frame(WsOpcode::text, false, "{\"a\":", true) + frame(WsOpcode::ping, true, "p", true) +
                       frame(WsOpcode::continuation, false, "12", true) +
                       frame(WsOpcode::continuation, true, "3}", true) + frame(WsOpcode::pong, true, "", true) +
                       frame(WsOpcode::close, true, ws_close_payload(1000, "bye"), true);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    WsDecoder d;
    std::vector<WsEvent> out;
    d.feed(std::string_view(stream).substr(0, split), out);
    d.feed(std::string_view(stream).substr(split), out);
    REQUIRE(out.size() == 4);
    CHECK(out[0].kind == WsEvent::ping);
    CHECK(out[0].payload == "p");
    CHECK(out[1].kind == WsEvent::message);
    CHECK(out[1].payload == "{\"a\":123}");
    CHECK(out[1].frames == 3);
    CHECK(out[1].offset == 0);
    CHECK(out[2].kind == WsEvent::pong);
    CHECK(out[3].kind == WsEvent::close);
    CHECK(out[3].code == 1000);
    CHECK(out[3].reason == "bye");
    CHECK(d.stopped());
  }
}

TEST_CASE("byte at a time decoding gives offsets of each frame") {
  const std::string a = frame(WsOpcode::text, true, "[1]", false);
  const std::string b = frame(WsOpcode::binary, true, std::string(300, 'x'), false);
  const std::string stream = a + b;
  WsDecoder d(WsDecoderOptions{false});
  std::vector<WsEvent> out;
  for (char c : stream) d.feed(std::string_view(&c, 1), out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].offset == 0);
  CHECK(out[1].offset == a.size());
  CHECK(out[1].opcode == WsOpcode::binary);
  CHECK(out[1].payload.size() == 300);
  CHECK(d.buffered_bytes() == 0);
}

TEST_CASE("protocol violations give 1002 and stop decoding") {
  SUBCASE("an unmasked frame from a client") {
    auto e = only_violation(frame(WsOpcode::text, true, "x", false));
    CHECK(e.violation_code == 1002);
    CHECK(e.problem.find("unmasked") != std::string::npos);
  }
  SUBCASE("a masked frame from a server") {
    CHECK(only_violation(frame(WsOpcode::text, true, "x", true), false).violation_code == 1002);
  }
  SUBCASE("reserved bits without an extension") {
    auto bytes = frame(WsOpcode::text, true, "x", true);
    bytes[0] = static_cast<char>(bytes[0] | 0x40);
    CHECK(only_violation(bytes).problem.find("reserved bits") != std::string::npos);
  }
  SUBCASE("an unknown opcode") {
    auto bytes = frame(WsOpcode::text, true, "x", true);
    bytes[0] = static_cast<char>(0x83);
    CHECK(only_violation(bytes).problem == "unknown opcode 3");
  }
  SUBCASE("a control frame over 125 bytes") {
    CHECK(only_violation(frame(WsOpcode::ping, true, std::string(126, 'p'), true)).violation_code == 1002);
  }
  SUBCASE("a fragmented control frame") {
    CHECK(only_violation(frame(WsOpcode::ping, false, "p", true)).problem == "a fragmented control frame");
  }
  SUBCASE("a continuation with no message") {
    CHECK(only_violation(frame(WsOpcode::continuation, true, "x", true)).violation_code == 1002);
  }
  SUBCASE("a new message inside a fragmented one") {
    auto bytes = frame(WsOpcode::text, false, "a", true) + frame(WsOpcode::text, true, "b", true);
    auto e = only_violation(bytes);
    CHECK(e.offset == 7);
  }
  SUBCASE("a close frame with a 1-byte payload, or a code that may not be sent") {
    CHECK(only_violation(frame(WsOpcode::close, true, "x", true)).violation_code == 1002);
    CHECK(only_violation(frame(WsOpcode::close, true, ws_close_payload(1005, ""), true)).violation_code == 1002);
    CHECK(only_violation(frame(WsOpcode::close, true, ws_close_payload(999, ""), true)).violation_code == 1002);
  }
  WsDecoder d;
  std::vector<WsEvent> out;
  d.feed(frame(WsOpcode::text, true, "x", false), out);
  d.feed(frame(WsOpcode::text, true, "y", true), out);
  CHECK(out.size() == 1);  // nothing after the violation
  CHECK(d.stopped());
}

TEST_CASE("invalid UTF-8 in a text message or close reason gives 1007; binary may hold any bytes") {
  CHECK(only_violation(frame(WsOpcode::text, true, "{\"a\":\"\xff\xfe\"}", true)).violation_code == 1007);
  // Split inside a multi-byte character across fragments is fine.
  auto split = frame(WsOpcode::text, false, "\xe2\x82", true) + frame(WsOpcode::continuation, true, "\xac", true);
  auto events = decode(split);
  REQUIRE(events.size() == 1);
  CHECK(events[0].payload == "\xe2\x82\xac");
  CHECK(decode(frame(WsOpcode::binary, true, "\xff", true))[0].kind == WsEvent::message);
  CHECK(only_violation(frame(WsOpcode::close, true, ws_close_payload(1000, "\xc0\xaf"), true)).violation_code == 1007);
}

TEST_CASE("a message over the limit gives 1009 as soon as its header says so") {
  std::string header = "\x81\xff";  // text, masked, 64-bit length
  for (int i = 0; i < 8; ++i) header.push_back(i == 4 ? '\x01' : '\0');  // 2^24 bytes
  auto e = only_violation(header, true, 1 << 20);
  CHECK(e.violation_code == 1009);
  CHECK(e.problem.find("over the limit") != std::string::npos);
  // Fragments add up.
  auto bytes = frame(WsOpcode::text, false, std::string(600, 'a'), true) +
               frame(WsOpcode::continuation, true, std::string(600, 'a'), true);
  CHECK(only_violation(bytes, true, 1000).violation_code == 1009);
}

TEST_CASE("valid_utf8 and sendable close codes") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii text that is longer than eight bytes"));
  CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  CHECK_FALSE(valid_utf8("\xc3"));              // cut short
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(valid_utf8("abcdefgh\x80"));
  CHECK(ws_close_code_sendable(1000));
  CHECK(ws_close_code_sendable(4999));
  CHECK_FALSE(ws_close_code_sendable(1005));
  CHECK_FALSE(ws_close_code_sendable(1006));
  CHECK_FALSE(ws_close_code_sendable(1015));
  CHECK_FALSE(ws_close_code_sendable(2000));
  CHECK(ws_close_payload(std::nullopt, "x").empty());
  CHECK(ws_close_payload(1001, std::string(200, 'r')).size() == 125);
}
