// The JSONL recorder: every event from every thread reaches the file, in the
// order the log stamped them, as one JSON object a line that reads back as the
// event; flush() makes lines visible while the run goes on; a full disk is an
// error the recorder reports, not a crash.

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/errors.hpp"
#include "reports/jsonl_recorder.hpp"

using namespace faultline;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("faultline-" + name + "-" + std::to_string(::getpid()) + ".jsonl"))
      .string();
}

std::vector<std::string> file_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("events from four threads all reach the file, in stamp order, each thread's in its own order") {
  const auto path = temp_path("threads");
  constexpr int kThreads = 4, kEach = 5000;
  {
    EventLog log;
    JsonlRecorder recorder(path);
    recorder.attach(log);
    std::vector<std::thread> threads;
    for (int w = 0; w < kThreads; ++w)
      threads.emplace_back([&log, w] {
        for (int i = 0; i < kEach; ++i) log.emit("client:" + std::to_string(w), "test.tick", {{"worker", w}, {"seq", i}});
      });
    for (auto& t : threads) t.join();
    CHECK(recorder.lines() == kThreads * kEach);
  }  // the destructor writes what is pending
  const auto lines = file_lines(path);
  REQUIRE(lines.size() == kThreads * kEach);
  std::map<int, int> next;
  double last_t = -1;
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j["kind"] == "test.tick");
    const int w = j["worker"];
    CHECK(j["source"] == "client:" + std::to_string(w));
    CHECK(j["seq"] == next[w]);
    next[w] = j["seq"].get<int>() + 1;
    CHECK(j["t"].get<double>() >= last_t);
    last_t = j["t"].get<double>();
  }
  for (int w = 0; w < kThreads; ++w) CHECK(next[w] == kEach);
  std::filesystem::remove(path);
}

TEST_CASE("a line reads back as the event: escaping, nesting, and a field named like the envelope") {
  const auto path = temp_path("format");
  Event e;
  e.t = 12.345678;
  e.wall_time = std::chrono::system_clock::now();
  e.source = "proxy:a \"quoted\" link\twith tab and \xc3\xa9";
  e.kind = "conn.close";
  e.fields = {{"bytes", 42}, {"nested", {{"list", {1, 2, 3}}, {"ok", true}}}, {"reason", "line\nbreak"}, {"kind", "shadow"}};
  Event plain = e;
  plain.fields.erase("kind");
  {
    JsonlRecorder recorder(path);
    recorder.record(e);
    recorder.record(plain);
    Event empty;
    empty.source = "timeline";
    empty.kind = "run.end";
    empty.fields = nlohmann::json::object();
    recorder.record(empty);
  }
  const auto lines = file_lines(path);
  REQUIRE(lines.size() == 3);
  // Each line is the same JSON as to_json() gives, field for field.
  CHECK(nlohmann::json::parse(lines[0]) == e.to_json());
  CHECK(nlohmann::json::parse(lines[1]) == plain.to_json());
  CHECK(nlohmann::json::parse(lines[0])["field.kind"] == "shadow");
  // The envelope leads a line without collisions, so a reader sees when and what first.
  CHECK(lines[1].rfind("{\"t\":12.345678,\"wall\":\"", 0) == 0);
  const auto back = read_events(path);
  REQUIRE(back.size() == 3);
  CHECK(back[1].source == plain.source);
  CHECK(back[1].kind == "conn.close");
  CHECK(back[1].t == doctest::Approx(12.345678));
  CHECK(back[1].fields == plain.fields);
  CHECK(back[1].wall == plain.wall_text());
  CHECK(back[2].kind == "run.end");
  CHECK(back[2].fields.empty());
  std::filesystem::remove(path);
}

TEST_CASE("flush: what was recorded is in the file while the recorder runs") {
  const auto path = temp_path("flush");
  EventLog log;
  JsonlRecorder recorder(path);
  recorder.attach(log);
  for (int round = 1; round <= 50; ++round) {
    log.emit("timeline", "test.step", {{"round", round}});
    recorder.flush();
    const auto lines = file_lines(path);
    REQUIRE(lines.size() == static_cast<std::size_t>(round));
    CHECK(nlohmann::json::parse(lines.back())["round"] == round);
  }
  CHECK(recorder.error().empty());
  std::filesystem::remove(path);
}

TEST_CASE("a disk that refuses writes is reported once; recording goes on without a crash") {
  if (!std::filesystem::exists("/dev/full")) return;
  JsonlRecorder recorder("/dev/full");
  Event e;
  e.source = "timeline";
  e.kind = "test.full";
  e.fields = {{"n", 1}};
  recorder.record(e);
  recorder.flush();
  CHECK(recorder.error().find("No space") != std::string::npos);
  for (int i = 0; i < 100; ++i) recorder.record(e);
  recorder.flush();
  CHECK(recorder.lines() == 101);
}

TEST_CASE("a file that cannot be created is a start-up error naming it") {
  const std::string path = "/nonexistent-dir-for-faultline/events.jsonl";
  try {
    JsonlRecorder recorder(path);
    FAIL("no error");
  } catch (const StartupError& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}
