// Fault configuration: the wrapper, each type's attributes, the command-line
// form, updates, and every kind of bad value with the place it names.

#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "core/rng.hpp"
#include "faults/fault_spec.hpp"
#include "faults/registry.hpp"

using namespace faultline;

namespace {
std::string error_of(const nlohmann::json& toxic) {
  try {
    parse_fault(toxic, "/toxics/0");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("every registered type parses with its Toxiproxy attribute names and defaults") {
  const std::map<std::string, nlohmann::json> samples = {
      {"latency", {{"latency", 100}, {"jitter", 10}}},
      {"bandwidth", {{"rate", 100}}},
      {"slicer", {{"average_size", 64}, {"size_variation", 32}, {"delay", 10}}},
      {"slow_close", {{"delay", 100}}},
      {"timeout", {{"timeout", 100}}},
      {"reset_peer", {{"timeout", 100}}},
      {"limit_data", {{"bytes", 100}}},
      {"down", nlohmann::json::object()},
      {"half_open", nlohmann::json::object()},
      {"slow_open", {{"delay", 100}}},
  };
  CHECK(fault_types().size() == samples.size());
  for (const auto& type : fault_types()) {
    INFO(type.name);
    const auto spec = parse_fault({{"type", type.name}, {"attributes", samples.at(std::string(type.name))}}, "");
    CHECK(spec.name == std::string(type.name) + "_downstream");
    CHECK(spec.toxicity == 1.0);
    CHECK(spec.to_json()["attributes"] == samples.at(std::string(type.name)));
  }
  const auto latency = parse_fault({{"type", "latency"}}, "");
  CHECK(latency.to_json()["attributes"] == nlohmann::json{{"latency", 0}, {"jitter", 0}});
}

TEST_CASE("bad faults name the place and the problem") {
  CHECK(error_of({{"type", "latncy"}}).find("/toxics/0/type: unknown fault type \"latncy\"") == 0);
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latency", -5}}}}) ==
        "/toxics/0/attributes/latency: must be from 0 to 3600000, got -5");
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latenzy", 5}}}}) == "/toxics/0/attributes/latenzy: unknown attribute");
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latency", "100ms"}}}}) ==
        "/toxics/0/attributes/latency: must be a number, got string");
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latency", 1.5}}}}) == "/toxics/0/attributes/latency: must be a whole number");
  CHECK(error_of({{"type", "latency"}, {"toxicity", 1.2}}) == "/toxics/0/toxicity: must be from 0 to 1, got 1.2");
  CHECK(error_of({{"type", "latency"}, {"stream", "sideways"}}).find("/toxics/0/stream: must be") == 0);
  CHECK(error_of({{"type", "latency"}, {"colour", "red"}}) == "/toxics/0/colour: unknown field");
  CHECK(error_of({{"attributes", {}}}).find("/toxics/0/type: a fault needs a type") == 0);
  CHECK(error_of({{"type", "slicer"}, {"attributes", {{"average_size", 10}, {"size_variation", 10}}}}) ==
        "/toxics/0/attributes/size_variation: must be smaller than average_size");
  CHECK(error_of({{"type", "down"}, {"toxicity", 0.5}}).find("/toxics/0/toxicity") == 0);
  CHECK(error_of({{"type", "bandwidth"}, {"attributes", {{"rate", 1e300}}}}).find("/toxics/0/attributes/rate") == 0);
  CHECK(error_of(nlohmann::json::array()) == "/toxics/0: a fault must be a JSON object");
}

TEST_CASE("the command-line form") {
  auto spec = parse_fault_text("latency,stream=upstream,latency=100,jitter=5,toxicity=0.25,name=slow");
  CHECK(spec.name == "slow");
  CHECK(spec.direction == Direction::upstream);
  CHECK(spec.toxicity == 0.25);
  CHECK(spec.to_json()["attributes"] == nlohmann::json{{"latency", 100}, {"jitter", 5}});
  CHECK(parse_fault_text("half_open").type == "half_open");
  CHECK(parse_fault_text(R"({"type":"timeout","attributes":{"timeout":5}})").type == "timeout");
  auto error = [](const char* text) {
    try {
      parse_fault_text(text);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error("latency,latency=abc") == "--fault latency,latency=abc: /attributes/latency: must be a number, got \"abc\"");
  CHECK(error("latency,toxicity=often") == "--fault latency,toxicity=often: /toxicity: must be a number from 0 to 1, got \"often\"");
  CHECK(error("latency,latency") == "--fault latency,latency: \"latency\" is not KEY=VALUE");
  CHECK(error("nosuch").find("unknown fault type \"nosuch\"") != std::string::npos);
  CHECK(error("{not json").find("not valid JSON") != std::string::npos);
}

TEST_CASE("updates merge attributes and keep the name and type") {
  const auto current = parse_fault({{"type", "latency"}, {"name", "l"}, {"attributes", {{"latency", 10}, {"jitter", 2}}}}, "");
  const auto next = update_fault_spec(current, {{"attributes", {{"latency", 50}}}, {"toxicity", 0.5}}, "");
  CHECK(next.to_json()["attributes"] == nlohmann::json{{"latency", 50}, {"jitter", 2}});
  CHECK(next.toxicity == 0.5);
  CHECK(next.name == "l");
  CHECK_THROWS_AS(update_fault_spec(current, {{"type", "timeout"}}, ""), ConfigError);
  CHECK_THROWS_AS(update_fault_spec(current, {{"attributes", {{"latency", -1}}}}, ""), ConfigError);
}

TEST_CASE("seeded random source: stable, and distinct per link, fault and connection") {
  Rng a(derive_seed(1, "link", "fault", 1)), b(derive_seed(1, "link", "fault", 1));
  for (int i = 0; i < 100; ++i) CHECK(a() == b());
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(2, "link", "fault", 1));
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(1, "link2", "fault", 1));
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(1, "link", "fault2", 1));
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(1, "link", "fault", 2));
  CHECK(derive_seed(1, "ab", "c", 1) != derive_seed(1, "a", "bc", 1));
  Rng r(9);
  int hits = 0;
  for (int i = 0; i < 10000; ++i) hits += r.chance(0.3);
  CHECK(hits > 2800);
  CHECK(hits < 3200);
  for (int i = 0; i < 1000; ++i) {
    const auto v = r.integer(-3, 3);
    CHECK(v >= -3);
    CHECK(v <= 3);
  }
}

TEST_CASE("HOST:PORT parsing") {
  CHECK(parse_host_port("127.0.0.1:8474")->port == 8474);
  CHECK(parse_host_port("[::1]:80")->host == "::1");
  CHECK(parse_host_port(":9000")->host == "0.0.0.0");
  std::string why;
  CHECK(!parse_host_port("localhost", &why));
  CHECK(why.find("missing ':PORT'") != std::string::npos);
  CHECK(!parse_host_port("localhost:99999", &why));
  CHECK(!parse_host_port("::1:80", &why));
  CHECK(is_loopback_host("127.0.0.2"));
  CHECK(!is_loopback_host("0.0.0.0"));
}
