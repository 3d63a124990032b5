#pragma once
// An MCP server run over stdio (the one a stdio link wraps, or a simulated
// client's server): a child process started with fork/exec in
// its own process group, its stdin, stdout and stderr on pipes. Nothing of it
// outlives faultline: the group is ended (SIGTERM, grace, SIGKILL) on every
// exit, and a watcher process forked first does the same when faultline dies
// without running any code (SIGKILL).

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace faultline {

struct StdioChildOptions {
  // SIGTERM to SIGKILL when the server's process group is ended (here and in the watcher).
  std::chrono::milliseconds grace{2000};
  // Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER): what the
  // server leaves orphaned becomes our child, so it is ended and reaped here
  // even after leaving the group. Process-wide, and every child of this process
  // is then reaped by the link: for a process that runs one link (`wrap`).
  bool adopt_orphans = false;
};

class StdioChild {
 public:
  // Starts argv[0] (searched in PATH). Throws StartupError when it cannot be run.
  explicit StdioChild(const std::vector<std::string>& argv, StdioChildOptions options = {});
  // Ends what is left of the group (see end_group) and retires the watcher.
  ~StdioChild();
  StdioChild(const StdioChild&) = delete;
  StdioChild& operator=(const StdioChild&) = delete;

  pid_t pid() const { return pid_; }
  pid_t watcher_pid() const { return watcher_; }
  // The parent's ends of the pipes; the caller takes them over (and closes them).
  int release_stdin() { return std::exchange(stdin_fd_, -1); }
  int release_stdout() { return std::exchange(stdout_fd_, -1); }
  int release_stderr() { return std::exchange(stderr_fd_, -1); }

  // False when the child was already reaped or the signal could not be sent.
  bool signal(int signo, bool whole_group);
  // Reaps the child if it has exited; the raw wait status, once. Also reaps
  // adopted orphans (with adopt_orphans) and a watcher that died.
  std::optional<int> try_reap();
  bool exited() const { return reaped_; }

  // Processes still running from the server: its group's live members and,
  // with adopt_orphans, our other children (but the watcher). Zombies are reaped first.
  std::vector<pid_t> remnants();
  // Signals the remnants (the group, and adopted orphans with their own groups);
  // how many there were. SIGTERM also sends SIGCONT and starts the grace period.
  std::size_t signal_remnants(int signo);
  // Blocks until no remnant is left: SIGTERM (unless sent within the grace
  // period already), wait out the grace period, SIGKILL. Then tells the watcher
  // all is done and reaps it. Returns how many processes needed SIGKILL.
  std::size_t end_group();

 private:
  struct Remnant {
    pid_t pid;
    pid_t pgrp;
  };
  void start_watcher();
  void retire_watcher(bool group_gone);
  void note_reaped(pid_t pid, int status);
  void reap_all();
  // The processes of the server's group (and, adopting, its orphans) still
  // alive; `with_dying` also counts those a SIGKILL already dooms.
  std::vector<Remnant> scan(bool with_dying = false);
  bool wait_remnants_gone(std::chrono::steady_clock::time_point deadline);

  StdioChildOptions options_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::optional<int> status_;
  bool status_taken_ = false;
  int stdin_fd_ = -1, stdout_fd_ = -1, stderr_fd_ = -1;
  pid_t watcher_ = -1;
  bool watcher_reaped_ = false;
  bool ended_ = false;
  int watch_fd_ = -1;  // the write end only we hold: EOF without "done" makes the watcher act
  std::optional<std::chrono::steady_clock::time_point> term_sent_at_;
};

// The exit code a shell would report for a wait status: the code, or 128+signal.
int exit_code_of(int wait_status);

}  // namespace faultline
