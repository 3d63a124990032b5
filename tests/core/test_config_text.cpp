#include <doctest/doctest.h>

#include "core/config_text.hpp"
#include "core/errors.hpp"

using namespace faultline;
using ms = std::chrono::milliseconds;

TEST_CASE("durations: a number of milliseconds or text with a unit") {
  CHECK(duration_text_ms("250") == 250);
  CHECK(duration_text_ms("250ms") == 250);
  CHECK(duration_text_ms("1.5s") == 1500);
  CHECK(duration_text_ms("2m") == 120'000);
  CHECK(duration_text_ms("1h") == 3'600'000);
  CHECK(duration_text_ms("1d") == 86'400'000);
  CHECK_FALSE(duration_text_ms("").has_value());
  CHECK_FALSE(duration_text_ms("s").has_value());
  CHECK_FALSE(duration_text_ms("5 s").has_value());
  CHECK_FALSE(duration_text_ms("5sec").has_value());

  CHECK(read_duration(nlohmann::json("2s"), "/think", ms(0), ms(10'000)) == ms(2000));
  CHECK(read_duration(nlohmann::json(40), "/think", ms(0), ms(10'000)) == ms(40));
  try {
    read_duration(nlohmann::json("20s"), "/think", ms(0), ms(10'000));
    FAIL("a duration above the maximum was taken");
  } catch (const ConfigError& e) {
    CHECK(e.where() == "/think");
    CHECK(std::string(e.what()).find("10000 ms") != std::string::npos);
  }
  CHECK_THROWS_AS(read_duration(nlohmann::json(true), "/x", ms(0), ms(1)), ConfigError);
  CHECK_THROWS_AS(read_duration(nlohmann::json(-1), "/x", ms(0), ms(1)), ConfigError);
  CHECK_THROWS_AS(read_duration(nlohmann::json("nan"), "/x", ms(0), ms(100)), ConfigError);
}

TEST_CASE("an unknown key is named with the nearest valid one") {
  CHECK(nearest_name("timout", {"timeout", "ping", "reconnect"}) == "timeout");
  CHECK(nearest_name("recconect", {"timeout", "ping", "reconnect"}) == "reconnect");
  CHECK(nearest_name("zzzzzzzz", {"timeout", "ping", "reconnect"}).empty());

  const nlohmann::json ok = {{"min", 1}, {"max", 2}};
  CHECK_NOTHROW(check_keys(ok, "/think", {"min", "max"}));
  const nlohmann::json typo = {{"min", 1}, {"mx", 2}};
  try {
    check_keys(typo, "/think", {"min", "max"});
    FAIL("an unknown key was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.where() == "/think/mx");
    CHECK(e.message() == "unknown key; did you mean \"max\"?");
  }
  try {
    check_keys(nlohmann::json::array(), "/think", {"min"});
    FAIL("an array was taken for an object");
  } catch (const ConfigError& e) {
    CHECK(e.where() == "/think");
  }
}
