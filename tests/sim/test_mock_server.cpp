// The mock MCP server's protocol side, message by message, on an io_context
// the test runs: answers, errors, cancellation, and each misbehaviour.

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include "mcp/frame.hpp"
#include "sim/mock_server.hpp"

using namespace faultline;
using namespace faultline::sim;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

struct Fixture {
  explicit Fixture(MockBehaviour b = {}) {
    server = std::make_shared<MockServer>(
        io.get_executor(), std::make_shared<MockBehaviour>(b), 7,
        [this](const MockServer::Outgoing& o) {
          sent.push_back(o.text);
          return std::string();
        },
        [this] { ++crashes; });
    server->start();
  }
  void send(const json& message) { send_text(message.dump()); }
  void send_text(const std::string& text) {
    std::vector<mcp::Frame> frames;
    mcp::decode_json_text(text, 0, frames);
    for (const auto& f : frames) server->receive(f);
  }
  // Runs until nothing is left to do, for at most `d` (a sanitizer build is slow).
  void run(std::chrono::milliseconds d = 2000ms) {
    io.restart();
    io.run_for(d);
  }
  json call(int id, const std::string& tool, json arguments = json::object(), json meta = nullptr) {
    json params = {{"name", tool}, {"arguments", std::move(arguments)}};
    if (!meta.is_null()) params["_meta"] = meta;
    return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", params}};
  }
  // The replies and notifications sent so far, parsed (a banner is kept as a string).
  std::vector<json> out() const {
    std::vector<json> v;
    for (const auto& s : sent) {
      auto j = json::parse(s, nullptr, false);
      v.push_back(j.is_discarded() ? json(s) : j);
    }
    return v;
  }
  json reply(int id) const {
    for (const auto& m : out())
      if (m.is_object() && m.value("id", json()) == id) return m;
    return nullptr;
  }

  boost::asio::io_context io;
  std::shared_ptr<MockServer> server;
  std::vector<std::string> sent;
  int crashes = 0;
};

json request(int id, const std::string& method, json params = json::object()) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

std::string text_of(const json& reply) { return reply["result"]["content"][0]["text"]; }

}  // namespace

TEST_CASE("initialize negotiates the version; the listings and the tools answer as a server does") {
  Fixture f;
  f.send(request(1, "initialize", {{"protocolVersion", "2025-03-26"}, {"capabilities", json::object()},
                                   {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
  f.send(request(2, "initialize", {{"protocolVersion", "1999-01-01"}}));
  f.send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  f.send(request(3, "tools/list"));
  f.send(request(4, "resources/list"));
  f.send(request(5, "resources/read", {{"uri", "faultline://mock/readme"}}));
  f.send(request(6, "prompts/get", {{"name", "greet"}, {"arguments", {{"name", "Ada"}}}}));
  f.send(request(7, "ping"));
  f.send(f.call(8, "echo", {{"message", "hi"}}));
  f.send(f.call(9, "add", {{"a", 2}, {"b", 40.5}}));
  f.send(f.call(10, "large", {{"bytes", 100000}}));
  f.run();
  CHECK(f.reply(1)["result"]["protocolVersion"] == "2025-03-26");
  CHECK(f.reply(1)["result"]["capabilities"]["tools"]["listChanged"] == true);
  CHECK(f.reply(2)["result"]["protocolVersion"] == "2025-06-18");  // unknown: the newest it speaks
  CHECK(f.reply(3)["result"]["tools"].size() == 8);
  CHECK(f.reply(4)["result"]["resources"][0]["uri"] == "faultline://mock/readme");
  CHECK(f.reply(5)["result"]["contents"][0]["text"] == "faultline's mock MCP server");
  CHECK(f.reply(6)["result"]["messages"][0]["content"]["text"] == "Hello, Ada");
  CHECK(f.reply(7)["result"] == json::object());
  CHECK(text_of(f.reply(8)) == "Echo: hi");
  CHECK(text_of(f.reply(9)) == "42.5");
  CHECK(text_of(f.reply(10)).size() == 100000);
}

TEST_CASE("bad requests get JSON-RPC errors naming what is wrong") {
  Fixture f;
  f.send_text("{not json");
  f.send(request(1, "tools/frobnicate"));
  f.send(f.call(2, "nope"));
  f.send(f.call(3, "sleep", {{"ms", -5}}));
  f.send(f.call(4, "echo"));
  f.send(request(5, "resources/read", {{"uri", "faultline://elsewhere"}}));
  f.run();
  REQUIRE(!f.out().empty());
  CHECK(f.out()[0]["error"]["code"] == -32700);
  CHECK(f.out()[0]["id"].is_null());
  CHECK(f.reply(1)["error"]["code"] == -32601);
  CHECK(f.reply(2)["error"]["message"] == "Unknown tool: nope");
  CHECK(f.reply(3)["error"]["code"] == -32602);
  CHECK(f.reply(3)["error"]["message"].get<std::string>().starts_with("argument ms must be"));
  CHECK(f.reply(4)["error"]["message"] == "argument message must be a string");
  CHECK(f.reply(5)["error"]["code"] == -32002);
}

TEST_CASE("sleep answers late; notifications/cancelled ends it without an answer") {
  Fixture f;
  f.send(f.call(1, "sleep", {{"ms", 80}}));
  f.send(f.call(2, "sleep", {{"ms", 80}}));
  f.run(20ms);
  CHECK(f.sent.empty());
  f.send({{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", 2}}}});
  f.run(150ms);
  CHECK(text_of(f.reply(1)) == "slept 80 ms");
  CHECK(f.reply(2).is_null());
}

TEST_CASE("progress sends a notification per step with the caller's token, then answers") {
  Fixture f;
  f.send(f.call(1, "progress", {{"steps", 3}, {"interval", 5}}, {{"progressToken", "tok"}}));
  f.run(200ms);
  const auto out = f.out();
  REQUIRE(out.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(out[i]["method"] == "notifications/progress");
    CHECK(out[i]["params"]["progressToken"] == "tok");
    CHECK(out[i]["params"]["progress"] == i + 1);
  }
  CHECK(text_of(out[3]) == "done 3 steps");
}

TEST_CASE("notify adds a tool and says so; flaky fails as often as asked; crash_after crashes on the n-th call") {
  Fixture f;
  f.send(f.call(1, "notify"));
  f.send(request(2, "tools/list"));
  f.send(f.call(3, "extra_1", {{"message", "x"}}));
  f.run();
  CHECK(f.out()[0]["method"] == "notifications/tools/list_changed");
  CHECK(f.reply(2)["result"]["tools"].size() == 9);
  CHECK(text_of(f.reply(3)) == "Echo: x");

  int failed = 0;
  for (int i = 0; i < 200; ++i) f.send(f.call(100 + i, "flaky", {{"p", 0.25}}));
  f.run();
  for (int i = 0; i < 200; ++i) failed += f.reply(100 + i)["result"].value("isError", false) ? 1 : 0;
  CHECK(failed > 25);
  CHECK(failed < 75);

  f.send(f.call(4, "crash_after", {{"n", 2}}));
  f.send(f.call(5, "crash_after", {{"n", 2}}));
  f.run();
  CHECK(text_of(f.reply(4)) == "call 1 of 2");
  CHECK(f.reply(5).is_null());
  CHECK(f.crashes == 1);
}

TEST_CASE("misbehaviours: a banner first, a slow start, a stall after n requests, late answers") {
  Fixture banner({.banner = "starting up..."});
  CHECK(banner.sent == std::vector<std::string>{"starting up..."});

  Fixture slow({.slow_start = 100ms});
  slow.send(request(1, "ping"));
  slow.run(40ms);
  CHECK(slow.sent.empty());
  slow.run(150ms);
  CHECK(slow.reply(1)["result"] == json::object());

  Fixture stall({.stall_after = 2});
  for (int i = 1; i <= 4; ++i) stall.send(request(i, "ping"));
  stall.run();
  CHECK(!stall.reply(2).is_null());
  CHECK(stall.reply(3).is_null());
  CHECK(stall.reply(4).is_null());

  Fixture late({.answer_late = 60ms});
  late.send(late.call(1, "echo", {{"message", "m"}}));
  late.send(request(2, "ping"));
  late.run(20ms);
  CHECK(late.reply(1).is_null());
  CHECK(!late.reply(2).is_null());  // only tools/call answers late
  late.run(100ms);
  CHECK(text_of(late.reply(1)) == "Echo: m");
}
