// mcp::Session: a session observed without recording (no event sink) keeps the
// same state as one that records, and builds no events.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "mcp/frame.hpp"
#include "mcp/session.hpp"

using faultline::mcp::DecodeLimits;
using faultline::mcp::Frame;
using faultline::mcp::Peer;
using faultline::mcp::Session;

TEST_CASE("a session observed without recording keeps its state and builds no events") {
  struct Step {
    Peer from;
    const char* text;
    const char* method;  // what observe() names the frame by
    bool events;         // whether a recording session reports something
  };
  const Step steps[] = {
      {Peer::client,
       R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
       R"("clientInfo":{"name":"c","version":"1"},"capabilities":{"roots":{}}}})",
       "initialize", true},
      {Peer::server,
       R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","serverInfo":{"name":"s"},"capabilities":{}}})",
       "initialize", true},
      {Peer::client, R"({"jsonrpc":"2.0","method":"notifications/initialized"})", "notifications/initialized", true},
      {Peer::client, R"({"jsonrpc":"2.0","id":"t","method":"tools/list"})", "tools/list", true},
      {Peer::server, R"({"jsonrpc":"2.0","id":"t","result":{"tools":[{"name":"a"},{"name":"b"}]}})", "tools/list", true},
      {Peer::client, R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"a"}})", "tools/call", true},
      {Peer::server, R"({"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"no"}})", "tools/call", true},
      {Peer::server, R"({"jsonrpc":"2.0","id":99,"result":{}})", "", true},  // an orphan
      {Peer::client, "not json", "", true},
      {Peer::client, R"({"jsonrpc":"2.0","id":4,"method":"ping"})", "ping", true},  // left unanswered
  };
  Session recorded, quiet;
  const auto at = std::chrono::steady_clock::now();
  for (const auto& step : steps) {
    CAPTURE(step.text);
    std::vector<Frame> frames;
    faultline::mcp::decode_json_text(step.text, 0, frames, DecodeLimits{.defer_message = true});
    REQUIRE(frames.size() == 1);
    const auto loud = recorded.observe(step.from, frames[0], at, false, true);
    const auto silent = quiet.observe(step.from, frames[0], at, false, false);
    CHECK(loud.method == step.method);
    CHECK(silent.method == step.method);
    CHECK(loud.events.empty() != step.events);
    CHECK(silent.events.empty());
    CHECK(quiet.pending() == recorded.pending());
  }
  CHECK(quiet.pending() == 1);
  CHECK(quiet.protocol_version() == "2025-06-18");
  CHECK(quiet.client_info() == nlohmann::json{{"name", "c"}, {"version", "1"}});
  CHECK(quiet.server_info() == nlohmann::json{{"name", "s"}});
  REQUIRE(quiet.tool_count().has_value());
  CHECK(*quiet.tool_count() == 2);
  CHECK(recorded.protocol_version() == quiet.protocol_version());
  CHECK(recorded.server_info() == quiet.server_info());
  CHECK(recorded.tool_count() == quiet.tool_count());
}
