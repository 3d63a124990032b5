// The fault API on real links of each protocol (created, not connected to):
// add, list, get, change, remove, and the kind and JSON pointer of each error.

#include <doctest/doctest.h>

#include "runtime/runtime.hpp"

namespace faultline {
namespace {

RuntimeOptions quiet() {
  RuntimeOptions o;
  o.source = "test";
  o.seed = 11;
  return o;
}

nlohmann::json link_body(const std::string& name, const std::string& protocol) {
  return {{"name", name}, {"listen", "127.0.0.1:0"}, {"upstream", "127.0.0.1:9"}, {"protocol", protocol}};
}

const nlohmann::json kLatency = {{"name", "slow"}, {"type", "latency"}, {"stream", "downstream"},
                                 {"attributes", {{"latency", 100}}}};

}  // namespace

TEST_CASE("add, list, get, change and remove a byte fault; each change reaches the link") {
  Runtime rt(quiet());
  auto link = rt.links().create(link_body("api", "tcp"));
  auto& faults = rt.faults();

  auto added = faults.add("api", kLatency);
  REQUIRE(added.ok());
  CHECK(added.value()->name == "slow");
  CHECK(added.value()->to_json()["attributes"]["latency"] == 100);
  REQUIRE(link->faults().size() == 1);
  CHECK(link->faults()[0] == added.value());

  auto listed = faults.list("api");
  REQUIRE(listed.ok());
  REQUIRE(listed.value().size() == 1);
  CHECK(listed.value()[0]->type == "latency");

  auto changed = faults.change("api", "slow", {{"attributes", {{"latency", 250}}}});
  REQUIRE(changed.ok());
  CHECK(changed.value()->to_json()["attributes"]["latency"] == 250);
  CHECK(link->find_fault("slow")->to_json()["attributes"]["latency"] == 250);
  CHECK(faults.get("api", "slow").value() == changed.value());

  REQUIRE(faults.remove("api", "slow").ok());
  CHECK(link->faults().empty());
  CHECK(faults.list("api").value().empty());
}

TEST_CASE("errors are values with a kind and the JSON pointer of the bad value") {
  Runtime rt(quiet());
  rt.links().create(link_body("plain", "tcp"));
  rt.links().create(link_body("ws", "websocket"));
  auto& faults = rt.faults();

  SUBCASE("a link that does not exist: not_found, for every operation") {
    CHECK(faults.list("nope").error().kind == Error::Kind::not_found);
    CHECK(faults.add("nope", kLatency).error().kind == Error::Kind::not_found);
    CHECK(faults.get("nope", "slow").error().kind == Error::Kind::not_found);
    CHECK(faults.change("nope", "slow", nlohmann::json::object()).error().kind == Error::Kind::not_found);
    CHECK(faults.remove("nope", "slow").error().kind == Error::Kind::not_found);
  }
  SUBCASE("a fault that does not exist: not_found") {
    const auto r = faults.remove("plain", "ghost");
    CHECK(r.error().kind == Error::Kind::not_found);
    CHECK(r.error().message == "toxic not found");
    CHECK(faults.change("plain", "ghost", nlohmann::json::object()).error().kind == Error::Kind::not_found);
  }
  SUBCASE("an attribute out of range: invalid, pointing at it, and nothing is added") {
    auto bad = kLatency;
    bad["attributes"]["latency"] = -5;
    const auto r = faults.add("plain", bad, "/steps/2/fault");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == Error::Kind::invalid);
    CHECK(r.error().pointer == "/steps/2/fault/attributes/latency");
    CHECK(r.error().text().starts_with("/steps/2/fault/attributes/latency: "));
    CHECK(faults.list("plain").value().empty());
  }
  SUBCASE("an unknown type: invalid at /type") {
    const auto r = faults.add("plain", {{"type", "teleport"}});
    CHECK(r.error().kind == Error::Kind::invalid);
    CHECK(r.error().pointer == "/type");
  }
  SUBCASE("a frame fault on a tcp link, a websocket fault on an http link: invalid at /type") {
    const auto drop = faults.add("plain", {{"type", "drop"}, {"stream", "downstream"}});
    CHECK(drop.error().kind == Error::Kind::invalid);
    CHECK(drop.error().pointer == "/type");
    CHECK(drop.error().message.find("JSON-RPC") != std::string::npos);
    CHECK(faults.add("ws", {{"type", "drop"}, {"stream", "downstream"}}).ok());
    const auto kill = faults.add("ws", {{"type", "kill"}, {"stream", "upstream"}});
    CHECK(kill.error().kind == Error::Kind::invalid);
    CHECK(kill.error().message.find("stdio") != std::string::npos);
  }
  SUBCASE("the same name twice: conflict; the first stays as it was") {
    REQUIRE(faults.add("plain", kLatency).ok());
    auto again = kLatency;
    again["attributes"]["latency"] = 1;
    const auto r = faults.add("plain", again);
    CHECK(r.error().kind == Error::Kind::conflict);
    CHECK(faults.get("plain", "slow").value()->to_json()["attributes"]["latency"] == 100);
  }
  SUBCASE("a change with a bad value: invalid, and the fault keeps its settings") {
    REQUIRE(faults.add("plain", kLatency).ok());
    const auto r = faults.change("plain", "slow", {{"attributes", {{"latency", "soon"}}}});
    CHECK(r.error().kind == Error::Kind::invalid);
    CHECK(r.error().pointer == "/attributes/latency");
    CHECK(faults.get("plain", "slow").value()->to_json()["attributes"]["latency"] == 100);
  }
  SUBCASE("expect() throws the error for callers that cannot go on") {
    CHECK_THROWS_AS(faults.add("nope", kLatency).expect(), ErrorException);
  }
}

TEST_CASE("a link attached to the API outside the registry is reached by name; names stay unique") {
  Runtime rt(quiet());
  rt.links().create(link_body("api", "tcp"));
  LinkConfig config;
  config.name = "side";
  config.listen = "127.0.0.1:0";
  config.upstream = "127.0.0.1:9";
  config.protocol = "http";
  auto side = std::make_shared<Link>(rt.executor(), config, rt.env());
  REQUIRE(rt.faults().attach(side).ok());
  CHECK(rt.faults().has_link("side"));

  REQUIRE(rt.faults().add("side", {{"type", "drop"}, {"name", "d"}, {"stream", "downstream"}}).ok());
  CHECK(side->find_fault("d") != nullptr);

  LinkConfig clash = config;
  clash.name = "api";
  const auto r = rt.faults().attach(std::make_shared<Link>(rt.executor(), clash, rt.env()));
  CHECK(r.error().kind == Error::Kind::conflict);

  rt.faults().clear();
  CHECK(side->faults().empty());
  rt.faults().detach("side");
  CHECK(rt.faults().list("side").error().kind == Error::Kind::not_found);
}

}  // namespace faultline
