// mcp::Session: requests matched to replies by id, with latency; orphans,
// notifications, the initialize handshake and tool listings, from frames alone.

#include <doctest/doctest.h>

#include "mcp/session.hpp"

using namespace faultline::mcp;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

Frame frame_of(const std::string& text) {
  std::vector<Frame> out;
  decode_json_text(text, 0, out);
  REQUIRE(out.size() == 1);
  return out[0];
}

const SessionEvent* find(const Observation& o, const std::string& kind) {
  for (const auto& e : o.events)
    if (e.kind == kind) return &e;
  return nullptr;
}

const Session::TimePoint t0{};

}  // namespace

TEST_CASE("a request and its response are matched by id, with latency") {
  Session s;
  auto req = s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})"), t0);
  REQUIRE(find(req, "rpc.request"));
  CHECK(req.method == "tools/call");
  CHECK(find(req, "rpc.request")->fields["id"] == 1);
  CHECK(s.pending() == 1);
  auto res = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":1,"result":{}})"), t0 + 250ms);
  const auto* e = find(res, "rpc.response");
  REQUIRE(e);
  CHECK(res.method == "tools/call");
  CHECK(e->fields["method"] == "tools/call");
  CHECK(e->fields["latency_ms"].get<double>() == doctest::Approx(250.0));
  CHECK(e->fields["ok"] == true);
  CHECK(s.pending() == 0);
}

TEST_CASE("an error response carries its code; a string id is not the integer id") {
  Session s;
  s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":"7","method":"ping"})"), t0);
  auto orphan = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":7,"result":{}})"), t0);
  CHECK(find(orphan, "rpc.orphan_response"));
  CHECK(orphan.method.empty());
  auto err = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":"7","error":{"code":-32601,"message":"nope"}})"), t0 + 1ms);
  const auto* e = find(err, "rpc.response");
  REQUIRE(e);
  CHECK(e->fields["error_code"] == -32601);
  CHECK(e->fields["error_message"] == "nope");
  CHECK(e->fields["ok"] == false);
}

TEST_CASE("requests from the server are matched to replies from the client, apart from the client's") {
  Session s;
  s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":0,"method":"tools/list"})"), t0);
  s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":0,"method":"roots/list"})"), t0);
  CHECK(s.pending() == 2);
  auto r = s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":0,"result":{"roots":[]}})"), t0 + 5ms);
  CHECK(r.method == "roots/list");
  auto r2 = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":0,"result":{"tools":[]}})"), t0 + 6ms);
  CHECK(r2.method == "tools/list");
  CHECK(s.pending() == 0);
}

TEST_CASE("initialize, its result, tools/list and notifications are recorded") {
  Session s;
  auto init = s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{}},"clientInfo":{"name":"c","version":"1"}}})"), t0);
  const auto* e = find(init, "session.initialize");
  REQUIRE(e);
  CHECK(e->fields["protocolVersion"] == "2025-06-18");
  CHECK(e->fields["clientInfo"]["name"] == "c");
  CHECK(e->fields["capabilities"] == json::array({"roots"}));
  auto done = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-03-26","capabilities":{"tools":{}},"serverInfo":{"name":"srv","version":"2"}}})"), t0 + 3ms);
  const auto* d = find(done, "session.initialized");
  REQUIRE(d);
  CHECK(d->fields["serverInfo"]["name"] == "srv");
  CHECK(s.protocol_version() == "2025-03-26");
  auto note = s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"), t0);
  REQUIRE(find(note, "rpc.notification"));
  CHECK(note.method == "notifications/initialized");
  s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})"), t0);
  auto tools = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"add"}]}})"), t0);
  const auto* t = find(tools, "tools.listed");
  REQUIRE(t);
  CHECK(t->fields["count"] == 2);
  CHECK(t->fields["names"] == json::array({"echo", "add"}));
  CHECK(s.tool_count() == 2u);
}

TEST_CASE("invalid lines, duplicate ids and unanswered requests") {
  Session s;
  auto bad = s.observe(Peer::server, frame_of("hello from the server"), t0);
  REQUIRE(find(bad, "rpc.invalid"));
  CHECK(find(bad, "rpc.invalid")->fields["sample"] == "hello from the server");
  s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":3,"method":"a"})"), t0);
  auto dup = s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":3,"method":"b"})"), t0);
  CHECK(find(dup, "rpc.duplicate_id"));
  auto left = s.unanswered(t0 + 2s);
  REQUIRE(left.size() == 1);
  CHECK(left[0].fields["method"] == "b");
  CHECK(left[0].fields["waited_ms"].get<double>() == doctest::Approx(2000.0));
}

TEST_CASE("an injected reply is marked") {
  Session s;
  s.observe(Peer::client, frame_of(R"({"jsonrpc":"2.0","id":1,"method":"x"})"), t0);
  auto r = s.observe(Peer::server, frame_of(R"({"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}})"), t0, true);
  CHECK(find(r, "rpc.response")->fields["injected"] == true);
}
