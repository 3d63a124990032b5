// Workloads and load patterns: parsing (every error names its JSON pointer),
// the stage arithmetic, the open model's arrival times and the seeded choices.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "sim/load_pattern.hpp"
#include "sim/workload.hpp"

using namespace faultline;
using namespace faultline::sim;
using json = nlohmann::json;
using dms = std::chrono::duration<double, std::milli>;

namespace {

std::string error_where(const json& j) {
  try {
    parse_workload(j, "", 1);
  } catch (const ConfigError& e) {
    return e.where() + " | " + e.message();
  }
  return "(accepted)";
}

std::vector<double> arrivals(const LoadPattern& p) {
  ArrivalSchedule s(p);
  std::vector<double> out;
  while (auto t = s.next()) out.push_back(t->count());
  return out;
}

}  // namespace

TEST_CASE("constant-arrival-rate starts rate x duration calls, evenly spaced") {
  auto p = parse_load_pattern(json{{"executor", "constant-arrival-rate"}, {"rate", 10}, {"duration", "2s"}}, "/load", 1);
  CHECK(p.open_model());
  CHECK(p.duration() == std::chrono::milliseconds(2000));
  const auto t = arrivals(p);
  REQUIRE(t.size() == 20);
  CHECK(t[0] == doctest::Approx(50));
  for (std::size_t i = 1; i < t.size(); ++i) CHECK(t[i] - t[i - 1] == doctest::Approx(100));
  CHECK(t.back() < 2000);

  // timeUnit: 30 per minute is one every 2 s.
  auto per_minute = parse_load_pattern(
      json{{"executor", "constant-arrival-rate"}, {"rate", 30}, {"timeUnit", "1m"}, {"duration", "10s"}}, "/load", 1);
  CHECK(arrivals(per_minute).size() == 5);
}

TEST_CASE("ramping-arrival-rate: the count follows the area under the stages") {
  // 0 -> 100/s over 2 s (100 calls), then 100/s for 1 s (100 calls), then 100 -> 0 over 1 s (50 calls).
  auto p = parse_load_pattern(json::parse(R"({"executor":"ramping-arrival-rate","startRate":0,"stages":[
      {"duration":"2s","target":100},{"duration":"1s","target":100},{"duration":"1s","target":0}]})"),
                              "/load", 1);
  const auto t = arrivals(p);
  CHECK(t.size() == 250);
  // The ramp packs calls towards its end: half the first 100 come in the last 0.6 s of it.
  const auto in_first_second = std::count_if(t.begin(), t.end(), [](double x) { return x < 1000; });
  CHECK(in_first_second == 25);
  const auto before_2s = std::count_if(t.begin(), t.end(), [](double x) { return x < 2000; });
  CHECK(before_2s == 100);
  for (std::size_t i = 1; i < t.size(); ++i) CHECK(t[i] >= t[i - 1]);
  CHECK(p.target_at(dms(1000)) == doctest::Approx(50));
  CHECK(p.target_at(dms(3500)) == doctest::Approx(50));
  CHECK(p.peak() == doctest::Approx(100));
}

TEST_CASE("ramping-vus: clients at a time, rounded; a zero-length stage jumps") {
  auto p = parse_load_pattern(json::parse(R"({"executor":"ramping-vus","startVUs":2,"stages":[
      {"duration":"10s","target":12},{"duration":0,"target":30},{"duration":"5s","target":30}]})"),
                              "/load", 1);
  CHECK_FALSE(p.open_model());
  CHECK(p.vus_at(dms(0)) == 2);
  CHECK(p.vus_at(dms(5000)) == 7);
  CHECK(p.vus_at(dms(9999)) == 12);
  CHECK(p.vus_at(dms(10'000)) == 30);
  CHECK(p.vus_at(dms(20'000)) == 30);
  CHECK(p.peak() == 30);
  // Written back out, it reads in again the same.
  auto again = parse_load_pattern(p.to_json(), "/load", 1);
  CHECK(again.to_json() == p.to_json());
}

TEST_CASE("shapes turn into stages") {
  SUBCASE("spike") {
    auto p = parse_load_pattern(json::parse(R"({"executor":"ramping-vus","shape":"spike","base":5,"peak":50,
        "duration":"60s","at":"20s","rise":"2s","hold":"10s"})"), "/load", 1);
    CHECK(p.duration() == std::chrono::milliseconds(60'000));
    CHECK(p.vus_at(dms(10'000)) == 5);
    CHECK(p.vus_at(dms(21'000)) == 28);  // halfway up the rise
    CHECK(p.vus_at(dms(25'000)) == 50);
    CHECK(p.vus_at(dms(40'000)) == 5);
  }
  SUBCASE("wave") {
    auto p = parse_load_pattern(json::parse(R"({"executor":"ramping-arrival-rate","shape":"wave","min":10,"max":30,
        "period":"8s","duration":"16s"})"), "/load", 1);
    CHECK(p.target_at(dms(0)) == doctest::Approx(20));
    CHECK(p.target_at(dms(2000)) == doctest::Approx(30));
    CHECK(p.target_at(dms(6000)) == doctest::Approx(10));
    CHECK(p.target_at(dms(10'000)) == doctest::Approx(30));
    // The average rate is the middle: 20/s over 16 s.
    CHECK(arrivals(p).size() == 320);
  }
  SUBCASE("burst") {
    auto p = parse_load_pattern(json::parse(R"({"executor":"ramping-arrival-rate","shape":"burst","base":0,"peak":100,
        "every":"1s","length":"100ms","duration":"5s"})"), "/load", 1);
    const auto t = arrivals(p);
    CHECK(t.size() == 50);  // 10 calls in each of 5 bursts, none in between
    for (double x : t) CHECK(std::fmod(x, 1000.0) >= 900);
  }
  SUBCASE("random: seeded") {
    const auto j = json::parse(R"({"executor":"ramping-vus","shape":"random","min":1,"max":100,"every":"1s","duration":"30s"})");
    auto a = parse_load_pattern(j, "/load", 7), b = parse_load_pattern(j, "/load", 7), c = parse_load_pattern(j, "/load", 8);
    CHECK(a.to_json() == b.to_json());
    CHECK(a.to_json() != c.to_json());
    for (double t = 0; t < 30'000; t += 250) {
      CHECK(a.target_at(dms(t)) >= 1);
      CHECK(a.target_at(dms(t)) <= 100);
    }
  }
}

TEST_CASE("load patterns: bad values are named by pointer") {
  auto where = [](const char* text) {
    try {
      parse_load_pattern(json::parse(text), "/load", 1);
    } catch (const ConfigError& e) {
      return e.where() + " | " + e.message();
    }
    return std::string("(accepted)");
  };
  CHECK(where(R"({"executor":"constant-vu","vus":1,"duration":"1s"})") ==
        "/load/executor | unknown executor \"constant-vu\"; did you mean \"constant-vus\"?");
  CHECK(where(R"({"executor":"constant-vus","vus":0,"duration":"1s"})").starts_with("/load/vus | must be from 1"));
  CHECK(where(R"({"executor":"constant-vus","vus":1})") == "/load/duration | is required");
  CHECK(where(R"({"executor":"constant-vus","vus":1,"duraton":"1s"})") ==
        "/load/duraton | unknown key; did you mean \"duration\"?");
  CHECK(where(R"({"executor":"ramping-vus","stages":[]})").starts_with("/load/stages | must be a non-empty array"));
  CHECK(where(R"({"executor":"ramping-vus","stages":[{"duration":"1s","target":-1}]})")
            .starts_with("/load/stages/0/target | must be from 0"));
  CHECK(where(R"({"executor":"ramping-vus","stages":[{"duration":"1s","target":1,"x":1}]})") ==
        "/load/stages/0/x | unknown key");
  CHECK(where(R"({"executor":"ramping-vus","timeUnit":"1s","stages":[{"duration":"1s","target":1}]})") ==
        "/load/timeUnit | belongs to the arrival-rate executors");
  CHECK(where(R"({"executor":"ramping-vus","shape":"spik","peak":3,"duration":"1s"})") ==
        "/load/shape | unknown shape \"spik\"; did you mean \"spike\"?");
  CHECK(where(R"({"executor":"ramping-vus","shape":"spike","peak":3,"duration":"1s","at":"990ms"})") ==
        "/load | the spike (at + rise + hold + rise) must end within `duration`");
  CHECK(where(R"({"executor":"constant-arrival-rate","rate":0,"duration":"1s"})") == "/load/rate | must be more than 0");
  CHECK(where(R"({"executor":"ramping-vus","stages":[{"duration":"8d","target":1}]})").starts_with("/load/stages/0/duration | must be from"));
  CHECK(where(R"({"executor":"ramping-vus","shape":"burst","peak":3,"every":"2ms","length":"2ms","duration":"1s"})") ==
        "/load/length | must be shorter than `every`");
  CHECK(where(R"(["constant-vus"])").starts_with("/load | must be an object"));
}

TEST_CASE("workloads: steps, think time, and their errors") {
  const auto w = parse_workload(json::parse(R"({
    "steps": [
      {"method": "tools/call", "tool": "echo", "arguments": {"message": "hi"}, "weight": 3},
      {"method": "tools/call"},
      {"method": "tools/list", "weight": 0.5},
      {"method": "resources/read", "uri": "faultline://mock/readme", "weight": 0.5},
      {"method": "ping"}
    ],
    "think": {"min": "10ms", "max": "30ms"},
    "duration": "1m"})"), "", 1);
  REQUIRE(w.steps.size() == 5);
  CHECK(w.steps[0].label() == "tools/call echo");
  CHECK(w.steps[1].label() == "tools/call *");
  CHECK_FALSE(w.steps[1].arguments.has_value());
  CHECK(w.steps[3].label() == "resources/read faultline://mock/readme");
  CHECK(w.length() == std::chrono::milliseconds(60'000));

  // Steps come by weight (3 : 1 : 0.5 : 0.5 : 1 of 6), the same for the same seed.
  Rng rng(42), again(42);
  std::map<std::string, int> seen;
  for (int i = 0; i < 60'000; ++i) {
    const auto& step = w.choose(rng);
    CHECK(&step == &w.choose(again));
    ++seen[step.label()];
  }
  CHECK(seen["tools/call echo"] == doctest::Approx(30'000).epsilon(0.03));
  CHECK(seen["tools/list"] == doctest::Approx(5'000).epsilon(0.06));
  CHECK(seen["ping"] == doctest::Approx(10'000).epsilon(0.05));
  for (int i = 0; i < 1000; ++i) {
    const auto pause = w.think(rng);
    CHECK(pause >= std::chrono::milliseconds(10));
    CHECK(pause <= std::chrono::milliseconds(30));
  }
  // What to_json writes reads back the same.
  CHECK(parse_workload(w.to_json(), "", 1).to_json() == w.to_json());

  CHECK(error_where(json::parse(R"({"steps":[{"method":"tools/cal"}]})")) ==
        "/steps/0/method | unknown method \"tools/cal\"; did you mean \"tools/call\"?");
  CHECK(error_where(json::parse(R"({"steps":[{"method":"ping","wieght":2}]})")) ==
        "/steps/0/wieght | unknown key; did you mean \"weight\"?");
  CHECK(error_where(json::parse(R"({"steps":[{"method":"ping","weight":0}]})"))
            .starts_with("/steps/0/weight | must be a number above 0"));
  CHECK(error_where(json::parse(R"({"steps":[{"method":"tools/call","arguments":[1]}]})"))
            .starts_with("/steps/0/arguments | must be an object"));
  CHECK(error_where(json::parse(R"({"steps":[]})")) == "/steps | is required: a non-empty array of steps");
  CHECK(error_where(json::parse(R"({"steps":[{"method":"ping"}],"think":{"min":"2s","max":"1s"}})"))
            .starts_with("/think/max | must be from 2000 ms"));
  CHECK(error_where(json::parse(R"({"steps":[{"method":"ping"}],"duration":"1m",
      "load":{"executor":"constant-vus","vus":1,"duration":"1s"}})")) ==
        "/duration | conflicts with `load`, which has its own duration");
  CHECK(error_where(json::parse(R"({"step":[]})")) == "/step | unknown key; did you mean \"steps\"?");
}

TEST_CASE("a workload file: errors name the file and the pointer") {
  const std::string path = "/tmp/faultline-test-workload.json";
  {
    std::ofstream(path) << R"({"steps":[{"method":"ping"}],"load":{"executor":"ramping-vus","stages":[{"duration":"1s","target":"x"}]}})";
  }
  try {
    load_workload_file(path, 1);
    FAIL("a bad workload file was taken");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == path + ": /load/stages/0/target: must be a number, got \"x\"");
  }
  { std::ofstream(path) << std::string(600, '[') << std::string(600, ']'); }
  CHECK_THROWS_WITH_AS(load_workload_file(path, 1), doctest::Contains("nests deeper"), ConfigError);
  { std::ofstream(path) << R"({"steps":[{"method":"ping"}]})"; }
  CHECK(load_workload_file(path, 1).steps.size() == 1);
  std::remove(path.c_str());
  CHECK_THROWS_WITH_AS(load_workload_file("/nonexistent/w.json", 1), doctest::Contains("cannot read"), ConfigError);
}
