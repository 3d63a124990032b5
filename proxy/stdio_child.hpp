#pragma once
// The MCP server a stdio link wraps: a child process started with fork/exec in
// its own process group, its stdin, stdout and stderr on pipes. Signals can go
// to the child alone (forwarded ones) or to its whole group (faults, the final
// SIGKILL), so a server started through `npx` or a shell goes with it.

#include <sys/types.h>

#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace faultline {

class StdioChild {
 public:
  // Starts argv[0] (searched in PATH). Throws StartupError when it cannot be run.
  explicit StdioChild(const std::vector<std::string>& argv);
  ~StdioChild();
  StdioChild(const StdioChild&) = delete;
  StdioChild& operator=(const StdioChild&) = delete;

  pid_t pid() const { return pid_; }
  // The parent's ends of the pipes; the caller takes them over (and closes them).
  int release_stdin() { return std::exchange(stdin_fd_, -1); }
  int release_stdout() { return std::exchange(stdout_fd_, -1); }
  int release_stderr() { return std::exchange(stderr_fd_, -1); }

  // False when the child was already reaped or the signal could not be sent.
  bool signal(int signo, bool whole_group);
  // Reaps the child if it has exited; the raw wait status, once.
  std::optional<int> try_reap();
  bool exited() const { return reaped_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int stdin_fd_ = -1, stdout_fd_ = -1, stderr_fd_ = -1;
};

// The exit code a shell would report for a wait status: the code, or 128+signal.
int exit_code_of(int wait_status);

}  // namespace faultline
