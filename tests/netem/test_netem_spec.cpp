// netem/ without privileges: the parameter parser, its refusals, and the delay tables.
#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "netem/distribution_table.hpp"
#include "netem/netem_spec.hpp"

using namespace faultline::netem;
using faultline::ConfigError;

namespace {
NetemSpec parse(const std::string& text) { return parse_netem_spec(split_words(text)); }
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("delay, jitter, correlation and distribution parse") {
  const auto s = parse("delay 100ms 10ms 25% distribution normal loss 10% 5%");
  CHECK(s.delay_us == 100000);
  CHECK(s.jitter_us == 10000);
  CHECK(s.delay_correlation == 25);
  CHECK(s.distribution == Distribution::kNormal);
  REQUIRE(s.loss);
  CHECK(s.loss->percent == 10);
  CHECK(s.loss->correlation == 5);
  CHECK(s.needs_netem());
  CHECK_FALSE(s.needs_tbf());
}

TEST_CASE("every parameter round-trips through describe") {
  for (const char* text : {"delay 20ms 5ms 25% distribution pareto loss gemodel 1% 10% 70% 0.1% duplicate 1% "
                           "corrupt 0.5% reorder 5% 50% gap 3 rate 10mbit 20 0 0 limit 500 bandwidth 5mbit burst 32k latency 20ms",
                           "delay 1s loss state 1% 30% 1% 50% 0.1%", "partition", "bandwidth 1mbit"}) {
    const auto once = parse(text);
    const auto twice = parse(once.describe());
    CHECK(once.describe() == twice.describe());
  }
  const auto s = parse("rate 10mbit 20 0 0 bandwidth 5mbit");
  CHECK(s.rate_bytes_per_s == 1250000);
  CHECK(s.packet_overhead == 20);
  CHECK(s.bandwidth_bytes_per_s == 625000);
  CHECK(s.burst_bytes >= 3200);
}

TEST_CASE("reorder gets a gap of 1 by default") { CHECK(parse("delay 10ms reorder 25%").gap == 1); }

TEST_CASE("bad input names the parameter and the range") {
  CHECK(error_of("loss 120%").find("loss: '120%' is out of range 0..100%") != std::string::npos);
  CHECK(error_of("delay -5ms").find("negative") != std::string::npos);
  CHECK(error_of("delay 100").find("no unit") != std::string::npos);
  CHECK(error_of("delay 10parsecs").find("unknown time unit") != std::string::npos);
  CHECK(error_of("frobnicate 3").find("unknown parameter 'frobnicate'") != std::string::npos);
  CHECK(error_of("distribution weird").find("not one of") != std::string::npos);
  CHECK(error_of("delay 10ms distribution normal").find("needs a jitter") != std::string::npos);
  CHECK(error_of("reorder 10%").find("needs a delay") != std::string::npos);
  CHECK(error_of("bandwidth 0mbit").find("more than 0") != std::string::npos);
  CHECK(error_of("bandwidth 1mbit burst 10").find("at least 1600") != std::string::npos);
  CHECK(error_of("delay").find("missing") != std::string::npos);
  CHECK(error_of("").find("no parameters") != std::string::npos);
  CHECK(error_of("loss nan%") != "");
  CHECK(error_of("delay 0x10ms") != "");
  CHECK(error_of("partition loss 5%").find("partition") != std::string::npos);
}

TEST_CASE("delay tables are standardized samples") {
  CHECK(make_distribution_table(Distribution::kUniform).empty());
  for (auto d : {Distribution::kNormal, Distribution::kPareto, Distribution::kParetoNormal}) {
    const auto t = make_distribution_table(d);
    REQUIRE(t.size() == kDistTableSize);
    double mean = 0, var = 0;
    for (auto v : t) mean += v / double(kDistScale);
    mean /= double(t.size());
    for (auto v : t) var += std::pow(v / double(kDistScale) - mean, 2);
    const double sd = std::sqrt(var / double(t.size()));
    INFO(std::string(distribution_name(d)));
    CHECK(std::fabs(mean) < 0.1);
    CHECK(sd > 0.7);  // the tails beyond 4 sd are clipped by the 16-bit table
    CHECK(sd < 1.05);
  }
}
