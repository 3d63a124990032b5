// Frame fault configuration: the wrapper, the match, each type's attributes,
// and the errors for bad input, each naming its place.

#include <csignal>

#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "faults/frame_fault_spec.hpp"
#include "faults/frame_registry.hpp"

using namespace faultline;
using json = nlohmann::json;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}
std::string json_error(const std::string& text) {
  return error_of([&] { parse_frame_fault(json::parse(text), "/faults/0"); });
}
std::string text_error(const std::string& text) {
  return error_of([&] { parse_frame_fault_text(text); });
}

}  // namespace

TEST_CASE("every registered type parses with its defaults") {
  for (const auto& type : frame_fault_types()) {
    auto spec = parse_frame_fault(json{{"type", type.name}}, "");
    CHECK(spec.type == type.name);
    CHECK(spec.direction == type.default_direction);
    CHECK(spec.fault);
    CHECK(spec.fault->attributes().is_object());
    // to_json parses back to the same thing
    CHECK(parse_frame_fault(spec.to_json(), "").to_json() == spec.to_json());
  }
}

TEST_CASE("the text form: wrapper keys, match keys and attributes") {
  auto s = parse_frame_fault_text("error,name=e1,method=tools/call,id=4,kind=request,probability=0.25,code=-32000,message=nope");
  CHECK(s.name == "e1");
  CHECK(s.direction == Direction::upstream);
  CHECK(s.probability == 0.25);
  CHECK(s.match.method == "tools/call");
  CHECK(s.match.id == mcp::MessageId::integer(4));
  CHECK(s.match.kinds == std::vector<mcp::FrameKind>{mcp::FrameKind::request});
  CHECK(s.fault->attributes() == json{{"code", -32000}, {"message", "nope"}});
  CHECK(parse_frame_fault_text("drop,id=\"4\"").match.id == mcp::MessageId::string("4"));
  CHECK(parse_frame_fault_text("drop,id=abc").match.id == mcp::MessageId::string("abc"));
  CHECK(parse_frame_fault_text("kill,signal=SIGTERM").fault->attributes()["signal"] == "SIGTERM");
  CHECK(parse_frame_fault_text("kill,signal=15").fault->attributes()["signal"] == "SIGTERM");
  CHECK(parse_frame_fault_text("drop").name == "drop_downstream");
  CHECK(parse_frame_fault_text(R"({"type":"delay","attributes":{"delay":5}})").fault->attributes()["delay"] == 5);
}

TEST_CASE("bad faults name the place") {
  CHECK(json_error(R"({"type":"nosuch"})").find("/faults/0/type: unknown frame fault type \"nosuch\"") == 0);
  CHECK(json_error(R"({"type":"drop","attributes":{"x":1}})") == "/faults/0/attributes/x: unknown attribute");
  CHECK(json_error(R"({"type":"delay","attributes":{"delay":-1}})").find("/faults/0/attributes/delay:") == 0);
  CHECK(json_error(R"({"type":"delay","attributes":{"delay":"5"}})").find("/faults/0/attributes/delay: must be a number") == 0);
  CHECK(json_error(R"({"type":"error","stream":"downstream"})").find("/faults/0/stream: a error fault acts on requests") == 0);
  CHECK(json_error(R"({"type":"late_response","direction":"upstream"})").find("/faults/0/direction:") == 0);
  CHECK(json_error(R"({"type":"drop","match":{"kind":"reply"}})").find("/faults/0/match/kind: unknown kind \"reply\"") == 0);
  CHECK(json_error(R"({"type":"drop","match":{"id":1.5}})").find("/faults/0/match/id:") == 0);
  CHECK(json_error(R"({"type":"drop","match":{"verb":"x"}})").find("/faults/0/match/verb: unknown match field") == 0);
  CHECK(json_error(R"({"type":"drop","probability":2})").find("/faults/0/probability:") == 0);
  CHECK(json_error(R"({"type":"drop","toxicity":1,"probability":1})").find("/faults/0/probability:") == 0);
  CHECK(json_error(R"({"type":"drop","extra":1})") == "/faults/0/extra: unknown field");
  CHECK(json_error(R"({"type":"malformed","attributes":{"mode":"weird"}})").find("/faults/0/attributes/mode: must be one of") == 0);
  CHECK(json_error(R"({"type":"malformed","attributes":{"mode":"strip_field","field":"/a~9"}})").find("/faults/0/attributes/field:") == 0);
  CHECK(json_error(R"({"type":"kill","attributes":{"signal":"SIGNOPE"}})").find("/faults/0/attributes/signal:") == 0);
  CHECK(json_error(R"({"type":"banner","attributes":{"text":"a\nb"}})").find("/faults/0/attributes/text: must be one line") == 0);
  CHECK(json_error(R"({"type":"drop","name":"a/b"})") == "/faults/0/name: must not contain '/'");
  CHECK(json_error(R"([1])") == "/faults/0: a fault must be a JSON object");
  CHECK(error_of([] { parse_frame_faults(json::parse(R"([{"type":"drop"},{"type":"drop"}])"), "f.json "); })
            .find("f.json /1/name: a fault named \"drop_downstream\" already exists") == 0);
  CHECK(text_error("method=x").find("--fault method=x: must start with the fault type") == 0);
  CHECK(text_error("delay,delay=abc").find("--fault delay,delay=abc: /attributes/delay: must be a number") == 0);
  CHECK(text_error("drop,foo").find("is not KEY=VALUE") != std::string::npos);
  CHECK(text_error("drop,probability=x").find("/probability: must be a number") != std::string::npos);
}

TEST_CASE("a session match: parsed from JSON and text, selects frames of that session only") {
  auto s = parse_frame_fault_text("drop,session=abc-123,method=tools/call");
  CHECK(s.match.session == "abc-123");
  CHECK(s.match.method == "tools/call");
  CHECK_FALSE(s.match.empty());
  CHECK(s.to_json()["match"]["session"] == "abc-123");
  CHECK(parse_frame_fault(s.to_json(), "").match.session == "abc-123");  // round trip
  CHECK(parse_frame_fault(json::parse(R"({"type":"drop","match":{"session":"s2"}})"), "").match.session == "s2");

  std::vector<mcp::Frame> decoded;
  mcp::decode_json_text(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})", 0, decoded);
  REQUIRE(decoded.size() == 1);
  WireFrame f{decoded[0], Clock::now(), "tools/call", "abc-123"};
  CHECK(s.match.matches(f));
  f.session = "other";
  CHECK_FALSE(s.match.matches(f));
  f.session = "";  // no session (yet, or a websocket/stdio frame)
  CHECK_FALSE(s.match.matches(f));
  f.session = "abc-123";
  f.method = "tools/list";
  CHECK_FALSE(s.match.matches(f));  // every key must match
  CHECK(FrameMatch{}.matches(f));

  CHECK(json_error(R"({"type":"drop","match":{"session":""}})").find("/faults/0/match/session: must be a non-empty string") == 0);
  CHECK(json_error(R"({"type":"drop","match":{"session":7}})").find("/faults/0/match/session:") == 0);
}

TEST_CASE("a link refuses faults its transport cannot apply") {
  auto where = [](const std::string& text, std::string_view transport) {
    try {
      check_frame_fault_transport(parse_frame_fault_text(text), transport, "f.json /0");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(where("drop,session=s1", "http") == "(no error)");
  CHECK(where("drop,session=s1", "stdio").find("f.json /0/match/session: a session match needs an http link") == 0);
  CHECK(where("drop,session=s1", "websocket").find("f.json /0/match/session:") == 0);
  CHECK(where("ws_close", "stdio") ==
        "f.json /0/type: a ws_close fault does not work on a stdio link (websocket only: faultline proxy --protocol websocket)");
  CHECK(where("get_405", "stdio") ==
        "f.json /0/type: a get_405 fault does not work on a stdio link (http only: faultline proxy --protocol http)");
  CHECK(where("kill", "http").find("(stdio only: faultline wrap)") != std::string::npos);
  for (const auto& type : frame_fault_types()) {
    const bool fits = type.transports & kStdio;
    CHECK_MESSAGE((where(std::string(type.name), "stdio") == "(no error)") == fits, type.name);
  }
}

TEST_CASE("a schedule (after, for, count) is read from JSON and the text form, and written back") {
  auto s = parse_frame_fault_text("drop,method=tools/call,after=1.5s,for=250,count=3");
  CHECK(s.schedule.after == std::chrono::milliseconds(1500));
  CHECK(s.schedule.for_ == std::chrono::milliseconds(250));
  CHECK(s.schedule.count == 3u);
  const auto j = s.to_json();
  CHECK(j["after"] == 1500);
  CHECK(j["for"] == 250);
  CHECK(j["count"] == 3);
  CHECK(parse_frame_fault(j, "").schedule == s.schedule);  // round trip
  CHECK(parse_frame_fault(json::parse(R"({"type":"drop","after":"2m","for":"1h"})"), "").schedule.for_ ==
        std::chrono::milliseconds(3'600'000));
  CHECK(parse_frame_fault_text("drop").schedule.empty());
  CHECK(!parse_frame_fault_text("drop").to_json().contains("after"));
  // A type with an attribute of that name keeps it in the text form; its schedule is given in JSON.
  auto dup = parse_frame_fault_text("duplicate,count=4");
  CHECK(dup.fault->attributes()["count"] == 4);
  CHECK(!dup.schedule.count);
  auto dup_json = parse_frame_fault(json::parse(R"({"type":"duplicate","count":2,"attributes":{"count":4}})"), "");
  CHECK(dup_json.schedule.count == 2u);
  CHECK(dup_json.fault->attributes()["count"] == 4);
  CHECK(parse_frame_fault_text("reorder,after=3").fault->attributes()["after"] == 3);

  CHECK(json_error(R"({"type":"drop","after":"soon"})").starts_with("/faults/0/after: must be a duration"));
  CHECK(json_error(R"({"type":"drop","count":0})").starts_with("/faults/0/count: must be a whole number"));
  CHECK(json_error(R"({"type":"drop","for":"8d"})").starts_with("/faults/0/for: must be from 1 ms to one week"));
  CHECK(text_error("drop,count=x").find("/count: must be a whole number") != std::string::npos);
}
