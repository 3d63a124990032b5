#pragma once
// The faultline subcommands. Each lives in its own file as an options struct, a
// register function (adds the subcommand and its options to the root app) and a
// run function. main.cpp lists them explicitly.

#include <CLI/CLI.hpp>

namespace faultline::cli {

// Where a subcommand leaves its exit code (see errors.hpp for the codes).
struct CommandResult {
  int exit_code = 0;
};

void register_proxy_command(CLI::App& root, CommandResult& result);
void register_demo_command(CLI::App& root, CommandResult& result);
void register_netem_command(CLI::App& root, CommandResult& result);
void register_wrap_command(CLI::App& root, CommandResult& result);
void register_mock_server_command(CLI::App& root, CommandResult& result);
void register_simulate_command(CLI::App& root, CommandResult& result);

// Runs `body`, turning faultline's error types into a one-line message and an exit code.
int run_guarded(const char* command, const std::function<int()>& body);

}  // namespace faultline::cli
