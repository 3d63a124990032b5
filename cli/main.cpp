// faultline: network chaos and fault injection for MCP clients and servers.

#include <sys/prctl.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "cli/commands.hpp"
#include "core/errors.hpp"

namespace {

using Register = void (*)(CLI::App&, faultline::cli::CommandResult&);

// Every subcommand, in the order `--help` lists them.
constexpr Register kCommands[] = {
    faultline::cli::register_demo_command,
    faultline::cli::register_proxy_command,
    faultline::cli::register_netem_command,
    faultline::cli::register_wrap_command,
    faultline::cli::register_mock_server_command,
    faultline::cli::register_simulate_command,
};

}  // namespace

int main(int argc, char** argv) {
  // Timers wake on time: the default 50 us slack would show up in latency fidelity.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  // A link holds two descriptors per connection: take every descriptor the hard
  // limit allows (the soft limit is often 1024, about 500 connections).
  if (rlimit fds{}; getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fds);
  }
  CLI::App app{"faultline: network chaos and fault injection for MCP clients and servers"};
  app.set_version_flag("--version", std::string("faultline ") + FAULTLINE_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.footer(
      "Exit codes: 0 success; 1 the run failed; 2 bad command line, config or scenario;\n"
      "3 could not start (port in use, upstream unresolvable, missing privilege).");

  faultline::cli::CommandResult result;
  for (auto reg : kCommands) reg(app, result);

  app.parse_complete_callback([&] {
    auto logger = spdlog::stderr_color_mt("faultline");
    logger->set_pattern("%H:%M:%S.%e %^%l%$ %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(log_level));
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : faultline::kExitUsage;
  }
  return result.exit_code;
}
