// `faultline wrap -- CMD ARGS...`: runs an MCP server over stdio as a child
// and sits between the caller's stdin/stdout and the child's, recording the
// session and injecting frame faults (and byte faults on what each side is
// sent). A client config that launches
// `npx some-server` launches `faultline wrap -- npx some-server` instead:
// signals are forwarded, the child's exit status is faultline's, and nothing
// the server started outlives faultline, even when faultline is SIGKILLed.

#include <csignal>
#include <set>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/number_options.hpp"
#include "cli/runtime_options.hpp"
#include "core/errors.hpp"
#include "faults/byte_fault_spec.hpp"
#include "faults/byte_registry.hpp"
#include "faults/frame_fault_spec.hpp"
#include "faults/frame_registry.hpp"
#include "proxy/link.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/stdio_link.hpp"
#include "runtime/admin_api.hpp"

namespace faultline::cli {
namespace {

struct WrapOptions {
  std::string name = "stdio";
  std::vector<std::string> faults;
  std::string faults_file;
  EventsOptions events;
  std::optional<std::uint64_t> seed;
  std::int64_t shutdown_ms = 2000;
  std::optional<std::uint64_t> max_message;
  std::vector<std::string> command;
  ApiOptions api;
};

constexpr int kExitCannotRun = 127;  // as a shell reports a command it cannot run

// The faults of --faults FILE (a JSON array) and --fault: frame faults, and
// byte faults on the bytes each direction writes. The faults a stdio link
// cannot apply are refused, not ignored.
std::vector<FaultPtr> load_faults(const WrapOptions& o) {
  std::vector<std::pair<FaultSpec, std::string>> all;  // with where it came from
  if (!o.faults_file.empty()) {
    const auto json = read_json_file(o.faults_file);
    if (!json.is_array()) throw ConfigError(o.faults_file, "must hold a JSON array of faults");
    for (std::size_t i = 0; i < json.size(); ++i) {
      const std::string where = o.faults_file + " /" + std::to_string(i);
      all.emplace_back(parse_fault(json[i], where), where);
    }
  }
  for (const auto& text : o.faults) all.emplace_back(parse_fault_text(text), "--fault " + text + " ");
  std::vector<FaultPtr> loaded;
  std::set<std::string> names;
  for (auto& [spec, where] : all) {
    check_fault_fits_stdio(spec, where);
    if (!names.insert(spec.name).second)
      throw ConfigError(where + "/name", "a fault named \"" + spec.name + "\" already exists (give name=...)");
    loaded.push_back(make_fault(std::move(spec)));
  }
  return loaded;
}

int run_wrap(const WrapOptions& o) {
  if (o.command.empty()) throw ConfigError("wrap", "give the server command after --, as in: faultline wrap -- npx some-server");
  StdioLinkOptions link_options;
  link_options.name = o.name;
  link_options.command = o.command;
  link_options.faults = load_faults(o);
  check_api_options(o.api);
  link_options.shutdown_step = std::chrono::milliseconds(o.shutdown_ms);
  link_options.adopt_orphans = true;  // this process runs one link: the server's orphans are ours to end
  if (o.max_message) link_options.max_message = *o.max_message;

  ::signal(SIGPIPE, SIG_IGN);  // a closed pipe is an error value, not a death
  RuntimeOptions options;
  options.source = "proxy:" + o.name;
  options.seed = o.seed;
  options.start_fields = {{"transport", "stdio"}};
  const auto runtime = start_runtime(std::move(options), o.events);
  link_options.seed = runtime->seed();
  spdlog::debug("seed {}", runtime->seed());

  auto link = std::make_shared<StdioLink>(runtime->executor(), runtime->events(), std::move(link_options));
  if (!o.api.address.empty()) {
    // Before the server starts: an address in use ends the run with nothing started.
    if (auto attached = runtime->faults().attach(link); !attached) throw ConfigError("--name", attached.error().message);
    const auto& admin = runtime->serve_api(o.api.address, o.api.token);
    spdlog::info("admin API on http://{} (link {})", admin.address(), o.name);
  }
  int exit_code = kExitRuntime;
  link->on_exit([&](int code) {
    exit_code = code;
    runtime->stop();
  });
  try {
    link->start();
  } catch (const StartupError& e) {
    runtime->events().emit("server:" + o.name, "server.spawn_failed", {{"error", e.what()}});
    spdlog::error("wrap: {}", e.what());
    return kExitCannotRun;
  }
  // Signals go to the server, which decides; its exit ends the run.
  runtime->forward_signals([&](int signo) { link->forward_signal(signo); });
  runtime->run();
  link->end_server();
  runtime->end({{"exit_code", exit_code}});
  return exit_code;
}

// The fault types a stdio link takes, one a line, for --help.
std::string stdio_fault_types() {
  std::string frames, bytes;
  for (const auto& t : frame_fault_types())
    if (t.transports & kStdio) frames += "  " + std::string(t.name) + ": " + std::string(t.summary) + "\n";
  for (const auto& t : fault_types())
    if (!acts_on_connecting(t.name)) bytes += "  " + std::string(t.name) + ": " + std::string(t.summary) + "\n";
  return "Frame fault types:\n" + frames + "Byte fault types (on the bytes written to the side of their stream):\n" +
         bytes;
}

}  // namespace

void register_wrap_command(CLI::App& root, CommandResult& result) {
  auto opts = std::make_shared<WrapOptions>();
  auto* cmd = root.add_subcommand("wrap", "Run an MCP server over stdio behind faultline: wrap -- CMD ARGS...");
  cmd->add_option("--fault", opts->faults,
                  "Frame fault: TYPE[,KEY=VALUE...] with keys name, stream (upstream|downstream), probability, "
                  "after/for (a duration: 500ms, 2s, 5m), count, match keys method, id, kind "
                  "(request|response|error|notification|invalid) and the type's attributes, e.g. "
                  "error,method=tools/call,code=-32000,count=2; or a byte fault (listed below), acting on the "
                  "bytes written to that side; or a fault as JSON. Repeatable.")
      ->expected(1)
      ->allow_extra_args(false)  // one value each: a `--` right after it still starts the command
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--faults", opts->faults_file, "Faults from FILE (a JSON array of fault objects)");
  add_events_options(*cmd, opts->events);
  cmd->add_option("--seed", opts->seed, "Seed for every random decision (default: random)")->check(seed_number());
  cmd->add_option("--name", opts->name, "Name of the link in events")->capture_default_str();
  cmd->add_option("--shutdown-ms", opts->shutdown_ms,
                  "Each wait of the shutdown order: stdin closed (or SIGINT/SIGTERM passed on), wait, SIGTERM to "
                  "the server's process group, wait, SIGKILL; also the grace period from SIGTERM to SIGKILL for "
                  "what the server leaves running, and when faultline itself is killed")
      ->check(whole_number_in(0, 600'000, "a whole number of milliseconds"))
      ->capture_default_str();
  cmd->add_option("--max-message", opts->max_message,
                  "The longest line (one message) decoded, in bytes (default 4 MiB); a longer one is recorded as "
                  "invalid and passed on whole, undecoded")
      ->check(whole_number_in(kMinMaxMessage, kMaxMaxMessage, "a whole number of bytes"));
  add_api_options(*cmd, opts->api,
                  "Serve the admin API (Toxiproxy's) on HOST:PORT for this one link, so its faults can be added, "
                  "changed and removed while the server runs");
  cmd->add_option("command", opts->command, "The server command and its arguments, after --")->required();
  cmd->footer(stdio_fault_types() +
              "Exit code: the server's (128+signal when it was killed); 127 when the command cannot run; 2 bad faults.");
  cmd->callback([opts, &result] { result.exit_code = run_guarded("wrap", [&] { return run_wrap(*opts); }); });
}

}  // namespace faultline::cli
