// The simulated client's pure parts: arguments made up from a tool's
// inputSchema, and profiles (built-in, from JSON, refused with the place and
// the nearest valid name).

#include <doctest/doctest.h>

#include <string>

#include "core/config_text.hpp"
#include "core/errors.hpp"
#include "sim/client/policy.hpp"
#include "sim/client/schema_args.hpp"
#include "sim/client/transport.hpp"

using namespace faultline;
using namespace faultline::sim;
using nlohmann::json;

TEST_CASE("arguments cover every required property with a value of its type") {
  const json schema = json::parse(R"({
    "type": "object",
    "properties": {
      "message": {"type": "string"},
      "count": {"type": "integer", "minimum": 3, "maximum": 5},
      "ratio": {"type": "number", "minimum": 0.5, "maximum": 0.75},
      "flag": {"type": "boolean"},
      "colour": {"enum": ["red", "green"]},
      "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
      "inner": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
      "optional": {"type": "string"}
    },
    "required": ["message", "count", "ratio", "flag", "colour", "tags", "inner"]
  })");
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    Rng rng(seed);
    const auto args = generate_arguments(schema, rng);
    CHECK(args["message"].is_string());
    CHECK_FALSE(args["message"].get<std::string>().empty());
    REQUIRE(args["count"].is_number_integer());
    CHECK(args["count"].get<int>() >= 3);
    CHECK(args["count"].get<int>() <= 5);
    REQUIRE(args["ratio"].is_number());
    CHECK(args["ratio"].get<double>() >= 0.5);
    CHECK(args["ratio"].get<double>() <= 0.75);
    CHECK(args["flag"].is_boolean());
    CHECK((args["colour"] == "red" || args["colour"] == "green"));
    REQUIRE(args["tags"].is_array());
    CHECK(args["tags"].size() >= 2);
    for (const auto& t : args["tags"]) CHECK(t.is_string());
    CHECK(args["inner"]["x"].is_number_integer());
    CHECK_FALSE(args.contains("optional"));
  }
}

TEST_CASE("arguments are seeded: the same seed, the same arguments") {
  const json schema = {{"type", "object"},
                       {"properties", {{"a", {{"type", "string"}}}, {"b", {{"type", "number"}}}}},
                       {"required", {"a", "b"}}};
  Rng one(42), two(42), other(43);
  const auto a = generate_arguments(schema, one);
  CHECK(a == generate_arguments(schema, two));
  bool differs = false;
  for (int i = 0; i < 5 && !differs; ++i) differs = generate_arguments(schema, other) != a;
  CHECK(differs);
}

TEST_CASE("schemas without required properties, const, type lists and no schema at all") {
  Rng rng(1);
  CHECK(generate_arguments(json::object(), rng) == json::object());
  CHECK(generate_arguments(json(), rng) == json::object());
  CHECK(generate_arguments({{"type", "object"}, {"properties", {{"x", {{"type", "string"}}}}}}, rng) == json::object());
  CHECK(generate_value({{"const", 7}}, rng) == 7);
  CHECK(generate_value({{"type", json::array({"null", "integer"})}}, rng).is_number_integer());
  CHECK(generate_value({{"type", "integer"}, {"exclusiveMinimum", 10}, {"maximum", 11}}, rng) == 11);
}

TEST_CASE("every built-in profile parses and prints back as itself") {
  for (const auto& name : builtin_profile_names()) {
    CAPTURE(name);
    const auto builtin = *builtin_profile(name);
    const auto policy = parse_profile(builtin, name);
    CHECK(profile_to_json(policy) == builtin);
  }
  const auto sdk = load_profile("sdk-default");
  CHECK(sdk.request_timeout == Millis(60'000));
  CHECK(sdk.reconnect_delay == Millis(1000));
  CHECK(sdk.reconnect_multiplier == 1.5);
  CHECK(sdk.reconnect_max_delay == Millis(30'000));
  CHECK(sdk.max_attempts == 2u);
  CHECK_FALSE(sdk.ping_interval);
  const auto naive = load_profile("naive");
  CHECK_FALSE(naive.request_timeout);
  CHECK(naive.reconnect == ReconnectMode::none);
  const auto claude = load_profile("claude-code-like");
  CHECK_FALSE(claude.reconnect_sse_stream);
  CHECK_FALSE(claude.relist_after_reconnect);
  CHECK_FALSE(claude.reinitialize_on_404);
}

TEST_CASE("a profile keeps its base's values for the keys it does not give") {
  const auto p = parse_profile(json::parse(R"({"base": "sdk-default", "request_timeout_ms": 250})"), "p.json");
  CHECK(p.request_timeout == Millis(250));
  CHECK(p.reconnect_multiplier == 1.5);
  const auto r = parse_profile(json::parse(R"({"ping_interval_ms": null})"), "p.json");
  CHECK_FALSE(r.ping_interval);
  CHECK(r.reinitialize_on_404);  // resilient is the default base
}

TEST_CASE("an unknown key is refused with its pointer and the nearest valid name") {
  try {
    (void)parse_profile(json::parse(R"({"request_timout_ms": 5})"), "my.json");
    FAIL("accepted");
  } catch (const ConfigError& e) {
    CHECK(e.where() == "my.json /request_timout_ms");
    CHECK(std::string(e.what()).find("did you mean \"request_timeout_ms\"") != std::string::npos);
  }
  try {
    (void)parse_profile(json::parse(R"({"relist_on_listchanged": true})"), "my.json");
    FAIL("accepted");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("\"relist_on_list_changed\"") != std::string::npos);
  }
  CHECK(faultline::nearest_name("resilent", builtin_profile_names()) == "resilient");
}

TEST_CASE("out-of-range and ill-typed values are refused, naming the key") {
  const char* bad[] = {R"({"request_timeout_ms": 0})", R"({"request_timeout_ms": 86400001})",
                       R"({"reconnect_jitter": 1.5})", R"({"reconnect_multiplier": 0.5})",
                       R"({"missed_pings_limit": 0})", R"({"reconnect": "sometimes"})",
                       R"({"honour_retry": "yes"})", R"({"max_attempts": -1})", R"({"base": "paranoid"})"};
  for (const char* text : bad) {
    CAPTURE(text);
    const auto profile = json::parse(text);
    const auto key = profile.begin().key();
    try {
      (void)parse_profile(profile, "p.json");
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK(e.where() == "p.json /" + key);
    }
  }
  CHECK_THROWS_AS((void)parse_profile(json::array(), "p.json"), ConfigError);
  CHECK_THROWS_AS((void)load_profile("resilent"), ConfigError);
}

TEST_CASE("targets: stdio commands, ws and http URLs, refused shapes") {
  const auto s = parse_target("stdio:node server.js --flag", false);
  CHECK(s.kind == Target::Kind::stdio);
  CHECK(s.command == std::vector<std::string>{"node", "server.js", "--flag"});
  const auto h = parse_target("http://127.0.0.1:8080/mcp", false);
  CHECK(h.kind == Target::Kind::http);
  CHECK(h.address.port == 8080);
  CHECK(h.path == "/mcp");
  CHECK(h.host_header == "127.0.0.1:8080");
  CHECK(parse_target("http://localhost:9/sse", true).kind == Target::Kind::sse);
  const auto w = parse_target("ws://127.0.0.1:7/", false);
  CHECK(w.kind == Target::Kind::ws);
  CHECK(parse_target("http://localhost:3000", false).path == "/");
  CHECK_THROWS_AS(parse_target("ftp://x", false), ConfigError);
  CHECK_THROWS_AS(parse_target("stdio:", false), ConfigError);
  CHECK_THROWS_AS(parse_target("ws://127.0.0.1:7/", true), ConfigError);
}

TEST_CASE("a stdio command is split into words as a shell would, without expanding anything") {
  using V = std::vector<std::string>;
  CHECK(parse_target("stdio:sh -c 'echo $HOME; exit 0'", false).command == V{"sh", "-c", "echo $HOME; exit 0"});
  CHECK(parse_target(R"(stdio:prog "a b" "say \"hi\"" c\ d 'it'"'"'s')", false).command ==
        V{"prog", "a b", "say \"hi\"", "c d", "it's"});
  CHECK(parse_target("stdio:  prog   ''  x ", false).command == V{"prog", "", "x"});
  CHECK_THROWS_WITH_AS(parse_target("stdio:sh -c 'oops", false), "--target: stdio: a ' is not closed", ConfigError);
  CHECK_THROWS_WITH_AS(parse_target("stdio:sh -c \"oops", false), "--target: stdio: a \" is not closed", ConfigError);
}
