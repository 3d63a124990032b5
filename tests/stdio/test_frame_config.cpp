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
