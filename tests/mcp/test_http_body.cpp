// Streamable HTTP bodies: single messages, batches, empty and oversized bodies,
// chunked collection, and telling JSON from SSE by Content-Type.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mcp/http_body.hpp"

using faultline::mcp::BodyType;
using faultline::mcp::Frame;
using faultline::mcp::FrameKind;
using faultline::mcp::HttpBodyDecoder;
using faultline::mcp::HttpBodyOptions;

TEST_CASE("content types") {
  CHECK(faultline::mcp::body_type("application/json") == BodyType::json);
  CHECK(faultline::mcp::body_type("Application/JSON; charset=utf-8") == BodyType::json);
  CHECK(faultline::mcp::body_type(" text/event-stream ;charset=utf-8") == BodyType::event_stream);
  CHECK(faultline::mcp::body_type("text/plain") == BodyType::other);
  CHECK(faultline::mcp::body_type("") == BodyType::other);
  CHECK(faultline::mcp::body_type("application/jsonx") == BodyType::other);
}

TEST_CASE("a body holds one message or a batch") {
  std::vector<Frame> frames;
  faultline::mcp::decode_http_body(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})", frames);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == FrameKind::request);
  CHECK(frames[0].offset == 0);

  frames.clear();
  const std::string batch = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}},\n {\"jsonrpc\":\"2.0\",\"method\":\"n\"}]\n";
  faultline::mcp::decode_http_body(batch, frames);
  REQUIRE(frames.size() == 2);
  CHECK(frames[1].offset == batch.find("{\"jsonrpc\":\"2.0\",\"method\""));
  CHECK(frames[1].batch->size == 2);
}

TEST_CASE("empty, garbage and oversized bodies are one invalid frame") {
  for (const std::string body : {"", " \r\n", "<html>502 Bad Gateway</html>", "{\"jsonrpc\":\"2.0\"", "\xff\xfe"}) {
    CAPTURE(body);
    std::vector<Frame> frames;
    faultline::mcp::decode_http_body(body, frames);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].kind == FrameKind::invalid);
    CHECK_NOTHROW((void)nlohmann::json(frames[0].problem->reason).dump());
  }
  HttpBodyOptions small;
  small.max_body_bytes = 10;
  std::vector<Frame> frames;
  faultline::mcp::decode_http_body(R"({"jsonrpc":"2.0","method":"m"})", frames, small);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].raw.size() == 10);
  CHECK(frames[0].problem->offset == 10);
}

TEST_CASE("a body collected in chunks decodes the same at every split") {
  const std::string body = R"([{"jsonrpc":"2.0","id":"a","method":"x"},{"jsonrpc":"2.0","id":"b","method":"y"}])";
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    HttpBodyDecoder decoder;
    decoder.feed(std::string_view(body).substr(0, cut));
    decoder.feed(std::string_view(body).substr(cut));
    std::vector<Frame> frames;
    decoder.finish(frames);
    REQUIRE(frames.size() == 2);
    CHECK(frames[1].id == faultline::mcp::MessageId::string("b"));
  }
  HttpBodyOptions small;
  small.max_body_bytes = 16;
  HttpBodyDecoder decoder(small);
  for (int i = 0; i < 100; ++i) decoder.feed(body);
  std::vector<Frame> frames;
  decoder.finish(frames);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].raw.size() == 16);
  CHECK(frames[0].problem->reason.find(std::to_string(100 * body.size())) != std::string::npos);
}
