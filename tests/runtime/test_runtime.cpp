// The runtime's events file (never truncated by accident), run.start and
// run.end with the seed, and the drain.

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <doctest/doctest.h>

#include "reports/jsonl_recorder.hpp"
#include "runtime/runtime.hpp"

namespace faultline {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "faultline-runtime-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

RuntimeOptions with_file(const std::filesystem::path& p, JsonlRecorder::Mode mode, std::uint64_t seed = 5) {
  RuntimeOptions o;
  o.source = "test";
  o.seed = seed;
  o.events_path = p.string();
  o.events_mode = mode;
  return o;
}

std::size_t count(const std::vector<Event>& events, const std::string& kind) {
  std::size_t n = 0;
  for (const auto& e : events) n += e.kind == kind;
  return n;
}

}  // namespace

TEST_CASE("a run writes run.start and run.end with its seed, and no second run.end") {
  TempDir dir;
  const auto file = dir.path / "events.jsonl";
  {
    Runtime rt(with_file(file, JsonlRecorder::Mode::create, 42));
    CHECK(rt.seed() == 42);
    rt.end({{"exit_code", 3}});
  }
  const auto events = read_events(file.string());
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == "run.start");
  CHECK(events[0].fields["seed"] == 42);
  CHECK(events[0].fields.contains("version"));
  CHECK(events[1].kind == "run.end");
  CHECK(events[1].fields["exit_code"] == 3);
  CHECK(events[1].fields["seed"] == 42);
}

TEST_CASE("without a seed a run picks one, and two runs differ") {
  RuntimeOptions o;
  Runtime a(o), b(o);
  CHECK(a.seed() != b.seed());
}

TEST_CASE("an events file holding a history is refused, kept, appended to or replaced, as asked") {
  TempDir dir;
  const auto file = dir.path / "events.jsonl";
  { Runtime first(with_file(file, JsonlRecorder::Mode::create, 1)); }
  const auto before = slurp(file);
  REQUIRE(count(read_events(file.string()), "run.start") == 1);

  SUBCASE("create: refused with a ConfigError naming the file; the file is untouched") {
    try {
      Runtime again(with_file(file, JsonlRecorder::Mode::create));
      FAIL("an events file with a history was opened for a new run");
    } catch (const ConfigError& e) {
      CHECK(e.where() == file.string());
      CHECK(e.message().find("holds") != std::string::npos);
    }
    CHECK(slurp(file) == before);
  }
  SUBCASE("append: the earlier run stays first, the new one follows") {
    { Runtime again(with_file(file, JsonlRecorder::Mode::append, 2)); }
    const auto after = slurp(file);
    CHECK(after.starts_with(before));
    const auto events = read_events(file.string());
    CHECK(count(events, "run.start") == 2);
    CHECK(events[2].fields["seed"] == 2);
  }
  SUBCASE("replace: only the new run is left") {
    { Runtime again(with_file(file, JsonlRecorder::Mode::replace, 3)); }
    const auto events = read_events(file.string());
    CHECK(count(events, "run.start") == 1);
    CHECK(events[0].fields["seed"] == 3);
  }
}

TEST_CASE("an empty events file and a device are written to without question") {
  TempDir dir;
  const auto file = dir.path / "empty.jsonl";
  { std::ofstream touch(file); }
  { Runtime rt(with_file(file, JsonlRecorder::Mode::create)); }
  CHECK(count(read_events(file.string()), "run.start") == 1);
  CHECK_NOTHROW(Runtime(with_file("/dev/null", JsonlRecorder::Mode::create)));
}

TEST_CASE("drain stops the main loop once no session is open, and stop_after drains on time") {
  RuntimeOptions o;
  o.source = "test";
  Runtime rt(o);
  rt.links().create({{"name", "a"}, {"listen", "127.0.0.1:0"}, {"upstream", "127.0.0.1:9"}});
  const auto t0 = std::chrono::steady_clock::now();
  rt.stop_after(std::chrono::milliseconds(150), std::chrono::milliseconds(1000), "test deadline");
  boost::asio::steady_timer guard(rt.io(), std::chrono::seconds(10));
  bool hung = false;
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      hung = true;
      rt.stop();
    }
  });
  rt.run();
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK_FALSE(hung);
  CHECK(ms >= 140);
  CHECK(ms < 1000);  // no session open: no wait for the grace period
  CHECK_FALSE(rt.links().find("a")->listening());
}

}  // namespace faultline
