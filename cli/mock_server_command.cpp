// `faultline mock-server`: a small MCP server that misbehaves on cue, for
// reproducing what a client does when its server is slow to start, stops
// answering, forgets its sessions, exits while idle, writes a log line on
// stdout, answers late or crashes. Its tools: echo, add, sleep, flaky, large,
// crash_after, notify, progress; one resource and one prompt.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/number_options.hpp"
#include "cli/runtime_options.hpp"
#include "core/errors.hpp"
#include "sim/mock_hub.hpp"
#include "sim/mock_run.hpp"

namespace faultline::cli {

namespace {

struct MockServerOptions {
  std::string transport = "stdio";
  std::string listen = "127.0.0.1:0";
  std::string control;
  std::optional<std::uint64_t> seed;
  std::string banner;
  std::uint64_t slow_start_ms = 0;
  std::optional<std::uint64_t> stall_after;
  std::uint64_t answer_late_ms = 0;
  bool stall = false;
  std::uint64_t session_ttl_ms = 0;
  int unknown_session_status = 404;
  std::uint64_t idle_exit_ms = 0;
  std::vector<std::string> drop_notifications;
  EventsOptions events;
};

HostPort address(const std::string& text, const char* option) {
  std::string error;
  auto hp = parse_host_port(text, &error);
  if (!hp) throw ConfigError(option, "\"" + text + "\" is not HOST:PORT: " + error);
  return *hp;
}

int run_mock_server(const MockServerOptions& o) {
  sim::MockRunOptions run;
  run.transport = o.transport;
  run.listen = address(o.listen, "--listen");
  if (!o.control.empty()) run.control = address(o.control, "--control");
  auto& b = run.behaviour;
  b.banner = o.banner;
  b.slow_start = std::chrono::milliseconds(o.slow_start_ms);
  b.stall_after = o.stall_after;
  b.answer_late = std::chrono::milliseconds(o.answer_late_ms);
  b.stall = o.stall;
  b.session_ttl = std::chrono::milliseconds(o.session_ttl_ms);
  b.unknown_session_status = o.unknown_session_status;
  b.idle_exit = std::chrono::milliseconds(o.idle_exit_ms);
  b.drop_notifications = o.drop_notifications;
  RuntimeOptions options;
  options.source = "server:mock";
  options.seed = o.seed;
  options.start_fields = {{"transport", o.transport}, {"behaviour", sim::to_json(b)}};
  const auto runtime = start_runtime(std::move(options), o.events);
  run.seed = runtime->seed();
  run.events = &runtime->events();
  const int code = sim::run_mock_server(run);
  runtime->end({{"exit_code", code}});
  return code;
}

}  // namespace

void register_mock_server_command(CLI::App& root, CommandResult& result) {
  auto opts = std::make_shared<MockServerOptions>();
  auto* cmd = root.add_subcommand("mock-server", "Serve a mock MCP server that misbehaves on cue");
  cmd->add_option("--transport", opts->transport,
                  "How clients reach it: stdio (newline-delimited JSON on stdin/stdout), http (Streamable HTTP "
                  "on /mcp), sse (the legacy HTTP+SSE transport on /sse), ws (WebSocket, subprotocol mcp)")
      ->check(CLI::IsMember({"stdio", "http", "sse", "ws"}))
      ->capture_default_str();
  cmd->add_option("--listen", opts->listen,
                  "HOST:PORT for http, sse and ws (port 0 picks one); the URL is written to stderr as "
                  "\"listening on URL\"")
      ->capture_default_str();
  cmd->add_option("--control", opts->control,
                  "Serve the control endpoint on HOST:PORT (loopback only): GET/PATCH /behaviour, POST /restart, "
                  "GET /sessions");
  add_events_options(*cmd, opts->events);
  cmd->add_option("--seed", opts->seed, "Seed for the flaky tool's rolls (default: random)")->check(seed_number());
  cmd->add_option("--banner", opts->banner, "Write this non-JSON line on stdout before anything else (stdio)");
  cmd->add_option("--slow-start", opts->slow_start_ms, "Answer nothing until this many ms after start")
      ->check(whole_number_in(0, 86'400'000, "a whole number of milliseconds"));
  cmd->add_option("--stall-after", opts->stall_after,
                  "Each session answers this many requests, then none (the connection stays open)")
      ->check(whole_number_in(0, UINT64_MAX, "a whole number"));
  cmd->add_option("--answer-late", opts->answer_late_ms, "Answer every tools/call this many ms late")
      ->check(whole_number_in(0, 86'400'000, "a whole number of milliseconds"));
  cmd->add_flag("--stall", opts->stall, "Answer nothing at all; connections stay open (flip it off at run time)");
  cmd->add_option("--session-ttl", opts->session_ttl_ms,
                  "Sessions expire this many ms after their initialize; their id then gets the unknown-session status")
      ->check(whole_number_in(0, 86'400'000, "a whole number of milliseconds"));
  cmd->add_option("--unknown-session-status", opts->unknown_session_status,
                  "HTTP status for an unknown or expired session id: 404 (as the spec says) or 400")
      ->check(CLI::IsMember({404, 400}))
      ->capture_default_str();
  cmd->add_option("--idle-exit", opts->idle_exit_ms,
                  "Exit (code 4) after this many ms without a request from any client")
      ->check(whole_number_in(0, 86'400'000, "a whole number of milliseconds"));
  cmd->add_option("--drop-notification", opts->drop_notifications,
                  "Record this notification method (e.g. notifications/progress) but never send it; repeatable");
  cmd->footer("Tools: echo(message), add(a, b), sleep(ms), flaky(p), large(bytes), crash_after(n), notify, "
              "progress(steps, interval). Resource faultline://mock/readme; prompt greet(name).\n"
              "Exit code: 0 when stdin ends (stdio) or on SIGINT/SIGTERM; 1 when crash_after crashes it; "
              "2 bad options; 3 when it cannot start (the address is taken); 4 when --idle-exit ends it.");
  cmd->callback([opts, &result] { result.exit_code = run_guarded("mock-server", [&] { return run_mock_server(*opts); }); });
}

}  // namespace faultline::cli
