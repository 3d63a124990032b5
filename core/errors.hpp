#pragma once
// Errors that name the place: a ConfigError carries the JSON pointer (or the
// command-line option) of the bad value. Exit codes are documented in README.md.

#include <stdexcept>
#include <string>

namespace faultline {

enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,     // the run failed after starting (I/O error, a check failed)
  kExitUsage = 2,       // bad command line, bad config or scenario: nothing was started
  kExitStartup = 3,     // could not start: port in use, upstream unresolvable, missing privilege
  kExitInterrupted = 130,
};

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what), where_(std::move(where)), message_(what) {}
  const std::string& where() const { return where_; }
  // The problem without the place.
  const std::string& message() const { return message_; }

 private:
  std::string where_;
  std::string message_;
};

class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace faultline
