// `faultline simulate`: real MCP clients with chosen policies against a
// server (a stdio command, ws://, http:// Streamable HTTP or the legacy
// HTTP+SSE transport), each writing its history as client:N. Without a
// duration each client makes one pass: initialize, list the tools, call each
// once with arguments made up from its schema, close (what the MCP
// conformance runner expects of a client command; it appends the URL).

#include <cmath>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/number_options.hpp"
#include "cli/runtime_options.hpp"
#include "core/errors.hpp"
#include "sim/client/policy.hpp"
#include "sim/client/simulator.hpp"
#include "sim/client/workload_run.hpp"
#include "sim/workload.hpp"

namespace faultline::cli {
namespace {

struct SimulateOptions {
  std::string target;
  std::string url;  // the target given last, bare (as the conformance runner does)
  std::string transport = "auto";
  int clients = 1;
  bool clients_given = false;
  std::string workload;  // a workload FILE
  std::string profile = "resilient";
  double duration = 0;
  std::optional<std::uint64_t> seed;
  EventsOptions events;
  bool list_profiles = false;
  std::string show_profile;
  std::vector<std::string> tools;  // NAME or NAME=JSON
};

// --tool NAME[=JSON]: the tool and its arguments (null: made up from its schema).
std::pair<std::string, nlohmann::json> parse_tool(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == 0) throw ConfigError("--tool " + text, "needs a tool name before =");
  if (eq == std::string::npos) return {text, nullptr};
  auto arguments = nlohmann::json::parse(text.substr(eq + 1), nullptr, false);
  if (arguments.is_discarded() || !arguments.is_object())
    throw ConfigError("--tool " + text, "the arguments after = must be a JSON object");
  return {text.substr(0, eq), std::move(arguments)};
}

int list_profiles() {
  for (const auto& name : sim::builtin_profile_names()) {
    const auto profile = *sim::builtin_profile(name);
    std::cout << name << ": " << profile.value("description", "") << "\n";
  }
  return kExitOk;
}

int show_profile(const std::string& name) {
  // The built-in profiles print as complete files; a file prints with its base filled in.
  const auto policy = sim::load_profile(name);
  std::cout << sim::profile_to_json(policy).dump(2) << "\n";
  return kExitOk;
}

int run_simulate(const SimulateOptions& o) {
  if (o.list_profiles) return list_profiles();
  if (!o.show_profile.empty()) return show_profile(o.show_profile);
  if (!o.target.empty() && !o.url.empty())
    throw ConfigError("simulate", "give the target once: --target " + o.target + " or " + o.url + ", not both");
  const std::string target_text = o.target.empty() ? o.url : o.target;
  if (target_text.empty()) throw ConfigError("simulate", "no target: give --target stdio:CMD|ws://...|http://... or a URL last");
  const auto target = sim::parse_target(target_text, o.transport == "sse");
  auto policy = sim::load_profile(o.profile);
  for (const auto& t : o.tools) (void)parse_tool(t);  // refused before anything starts
  const auto seed = o.seed ? *o.seed : random_seed();
  std::optional<sim::Workload> workload;
  int clients = o.clients;
  if (!o.workload.empty()) {
    if (!o.tools.empty()) throw ConfigError("--tool", "conflicts with --workload, whose steps name the tools");
    workload = sim::load_workload_file(o.workload, seed);
    if (o.duration > 0) {
      if (workload->length()) throw ConfigError("--duration", "conflicts with the workload's own duration or load pattern");
      workload->duration = std::chrono::milliseconds(static_cast<std::int64_t>(o.duration * 1000));
    }
    // A vus pattern says how many clients work at its peak: that many are connected unless --clients says more.
    if (workload->load && !workload->load->open_model()) {
      const auto peak = static_cast<int>(std::ceil(workload->load->peak()));
      if (o.clients_given && o.clients < peak)
        throw ConfigError("--clients", std::to_string(o.clients) + " is fewer than the " + std::to_string(peak) +
                                           " clients the workload's load pattern has working at its peak");
      if (!o.clients_given) clients = std::max(1, peak);
    }
  }

  ::signal(SIGPIPE, SIG_IGN);  // a server gone mid-write is an error value, not a death
  RuntimeOptions options;
  options.source = "simulate";
  options.seed = seed;
  options.start_fields = {{"target", target_text}, {"clients", clients}, {"profile", o.profile}};
  if (workload) options.start_fields["workload"] = workload->to_json();
  const auto runtime = start_runtime(std::move(options), o.events);
  spdlog::debug("seed {}", runtime->seed());

  sim::SimulationOptions so;
  so.target = target;
  so.policy = std::move(policy);
  so.clients = clients;
  if (o.duration > 0 && !workload) so.duration = std::chrono::milliseconds(static_cast<std::int64_t>(o.duration * 1000));
  for (const auto& t : o.tools) so.tools.push_back(parse_tool(t));
  so.seed = runtime->seed();
  so.events = &runtime->events();
  std::shared_ptr<sim::WorkloadRun> workload_run;
  if (workload) {
    workload_run = std::make_shared<sim::WorkloadRun>(runtime->executor(), std::move(*workload), clients, seed);
    so.work = workload_run->work();
  }
  auto simulation = std::make_shared<sim::Simulation>(runtime->executor(), std::move(so));
  std::optional<sim::SimulationSummary> summary;
  boost::asio::co_spawn(runtime->executor(), simulation->run(),
                        [&](std::exception_ptr error, sim::SimulationSummary s) {
                          if (error) {
                            try {
                              std::rethrow_exception(error);
                            } catch (const std::exception& e) {
                              spdlog::error("simulate: {}", e.what());
                            }
                          } else {
                            summary = std::move(s);
                          }
                          runtime->stop();
                        });
  runtime->forward_signals([&](int) { simulation->stop(); });
  runtime->run();
  if (!summary) {
    runtime->end({{"exit_code", kExitRuntime}});
    return kExitRuntime;
  }
  const int code = summary->exit_code();
  if (summary->startup_errors > 0) spdlog::error("simulate: {}", summary->startup_error);
  if (summary->start_failures > 0)
    spdlog::error("simulate: {} client(s) could not set a session up; the first: {}", summary->start_failures,
                  summary->start_failure);
  if (summary->started > 0 || summary->startup_errors == 0) std::cerr << summary->text() << "\n";
  nlohmann::json load;
  if (workload_run && summary->started > 0) {
    const auto& stats = workload_run->stats();
    load = stats.to_json();
    std::cerr << "simulate: workload: " << stats.started << " steps started, " << stats.dropped
              << " dropped (no free client), at most " << stats.peak_busy << " at once";
    if (!stats.lateness_us.empty())
      std::cerr << "; start lateness p50 " << stats.lateness_ms(0.5) << " ms, p99 " << stats.lateness_ms(0.99)
                << " ms, max " << stats.lateness_ms(1.0) << " ms";
    std::cerr << "; tool errors " << workload_run->tool_errors() << "\n";
  }
  runtime->end({{"exit_code", code},
                {"load", load},
                {"clients", summary->clients},
                {"passed", summary->passed},
                {"ok", summary->ok},
                {"fail", summary->fail},
                {"timeout", summary->timeout},
                {"lost", summary->lost},
                {"reconnects", summary->reconnects}});
  return code;
}

}  // namespace

void register_simulate_command(CLI::App& root, CommandResult& result) {
  auto opts = std::make_shared<SimulateOptions>();
  auto* cmd = root.add_subcommand("simulate", "Run simulated MCP clients with chosen policies against a server");
  cmd->add_option("--target", opts->target,
                  "Where the clients go: stdio:CMD ARGS... (one server child per client), ws://HOST:PORT/PATH, "
                  "http://HOST:PORT/PATH (Streamable HTTP; with --transport sse the legacy HTTP+SSE URL)");
  cmd->add_option("--transport", opts->transport, "auto (from the target), or sse for the legacy HTTP+SSE transport")
      ->check(CLI::IsMember({"auto", "sse"}))
      ->capture_default_str();
  cmd->add_option("--clients", opts->clients, "How many clients, all in this process")
      ->check(whole_number_in(1, 100'000, "a whole number"))
      ->capture_default_str()
      ->each([opts](const std::string&) { opts->clients_given = true; });
  cmd->add_option("--workload", opts->workload,
                  "A workload FILE: weighted steps, think time, and a load pattern (constant-vus, ramping-vus, "
                  "constant-arrival-rate, ramping-arrival-rate; shapes spike, wave, burst, random)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--profile", opts->profile,
                  "The clients' policies: naive, sdk-default, claude-code-like, resilient, or a JSON profile FILE")
      ->capture_default_str();
  cmd->add_option("--duration", opts->duration,
                  "Repeat each client's pass for this many seconds (default: one pass)")
      ->check(number_in(0, 31'536'000, "a number of seconds"));
  cmd->add_option("--seed", opts->seed, "Seed for every random choice (default: random)")->check(seed_number());
  cmd->add_option("--tool", opts->tools,
                  "The pass calls this tool (NAME, or NAME={\"arg\":...} with its arguments) instead of every listed "
                  "tool; repeatable, called in order")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_events_options(*cmd, opts->events);
  cmd->add_flag("--list-profiles", opts->list_profiles, "List the built-in profiles and exit");
  cmd->add_option("--show-profile", opts->show_profile, "Print a profile (NAME or FILE) as JSON to copy and edit, and exit");
  cmd->add_option("url", opts->url, "The target, given last instead of --target (as the MCP conformance runner does)");
  cmd->footer(
      "Events (--events): rpc.invoke then one of rpc.ok, rpc.fail, rpc.timeout, rpc.lost per request; "
      "client.connected, client.disconnected, client.reconnect_attempt, client.reconnected, client.gave_up, "
      "session.initialized, session.lost, tools.listed, notification.received, client.cancelled; source client:N.\n"
      "Exit code: 0 every client's pass succeeded; 1 a request failed, timed out or was lost, or a client gave up; "
      "2 bad options, profile or workload; 3 the target cannot be reached.");
  cmd->callback([opts, &result] { result.exit_code = run_guarded("simulate", [&] { return run_simulate(*opts); }); });
}

}  // namespace faultline::cli
