// `faultline mock-server`: a small MCP server that misbehaves on cue, for
// reproducing what a client does when its server is slow to start, stops
// answering, writes a log line on stdout, answers late or crashes. Its tools:
// echo, add, sleep, flaky, large, crash_after, notify, progress; one resource
// and one prompt.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "cli/number_options.hpp"
#include "runtime/runtime.hpp"  // random_seed
#include "sim/mock_stdio.hpp"

namespace faultline::cli {

namespace {

struct MockServerOptions {
  std::string transport = "stdio";
  std::optional<std::uint64_t> seed;
  std::string banner;
  std::uint64_t slow_start_ms = 0;
  std::optional<std::uint64_t> stall_after;
  std::uint64_t answer_late_ms = 0;
};

int run_mock_server(const MockServerOptions& o) {
  sim::MockBehaviour behaviour;
  behaviour.banner = o.banner;
  behaviour.slow_start = std::chrono::milliseconds(o.slow_start_ms);
  behaviour.stall_after = o.stall_after;
  behaviour.answer_late = std::chrono::milliseconds(o.answer_late_ms);
  return sim::run_mock_stdio(behaviour, o.seed ? *o.seed : random_seed());
}

}  // namespace

void register_mock_server_command(CLI::App& root, CommandResult& result) {
  auto opts = std::make_shared<MockServerOptions>();
  auto* cmd = root.add_subcommand("mock-server", "Serve a mock MCP server that misbehaves on cue (stdio)");
  cmd->add_option("--transport", opts->transport, "How clients reach it: stdio (newline-delimited JSON on stdin/stdout)")
      ->check(CLI::IsMember({"stdio"}))
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed for the flaky tool's rolls (default: random)")->check(seed_number());
  cmd->add_option("--banner", opts->banner, "Write this non-JSON line on stdout before anything else");
  cmd->add_option("--slow-start", opts->slow_start_ms, "Answer nothing until this many ms after start")
      ->check(whole_number_in(0, 3'600'000, "a whole number of milliseconds"));
  cmd->add_option("--stall-after", opts->stall_after,
                  "Answer this many requests, then none (the connection stays open)")
      ->check(whole_number_in(0, UINT64_MAX, "a whole number"));
  cmd->add_option("--answer-late", opts->answer_late_ms, "Answer every tools/call this many ms late")
      ->check(whole_number_in(0, 3'600'000, "a whole number of milliseconds"));
  cmd->footer("Tools: echo(message), add(a, b), sleep(ms), flaky(p), large(bytes), crash_after(n), notify, "
              "progress(steps, interval). Resource faultline://mock/readme; prompt greet(name).\n"
              "Exit code: 0 when stdin ends; 1 when crash_after crashes it; 2 bad options.");
  cmd->callback([opts, &result] { result.exit_code = run_guarded("mock-server", [&] { return run_mock_server(*opts); }); });
}

}  // namespace faultline::cli
