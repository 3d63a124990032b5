#include "core/stdio_child.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "core/errors.hpp"

namespace faultline {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(10);
constexpr auto kKillWait = std::chrono::seconds(2);  // for SIGKILLed processes to be gone

// What the watcher reads: the group to end ('G', sent by the server before it
// execs) and that all is over ('D', sent by faultline once the group is gone).
// Fixed size, so each write arrives whole.
struct WatchMessage {
  std::int32_t tag;
  std::int32_t pgid;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// ---- the watcher: a forked copy of faultline that never execs, so
// async-signal-safe calls only.

long now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
}

void sleep_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Default dispositions (faultline's handlers mean nothing here), the stop
// signals ignored: only the end of faultline ends the watcher.
void watcher_signals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
  struct sigaction ign = dfl;
  ign.sa_handler = SIG_IGN;
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) ::sigaction(s, &ign, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Closes every descriptor but `keep`: the watcher holds none of faultline's
// pipes, terminals or sockets open.
void close_all_but(int keep, int max_fd) {
  if (::close_range(0, keep - 1, 0) == 0 && ::close_range(keep + 1, ~0U, 0) == 0) return;
  for (int fd = 0; fd < max_fd; ++fd)
    if (fd != keep) ::close(fd);
}

// SIGTERM (and SIGCONT, for a stopped group), the grace period while the group
// empties, then SIGKILL.
void watcher_end_group(pid_t pgid, long grace_ms) {
  if (::kill(-pgid, SIGTERM) != 0) return;  // already gone
  ::kill(-pgid, SIGCONT);
  const long deadline = now_ms() + grace_ms;
  while (::kill(-pgid, 0) == 0) {
    if (now_ms() >= deadline) {
      ::kill(-pgid, SIGKILL);
      return;
    }
    sleep_ms(10);
  }
}

[[noreturn]] void watcher_main(int fd, long grace_ms, int max_fd) {
  ::prctl(PR_SET_NAME, "faultline-watch");
  watcher_signals();
  close_all_but(fd, max_fd);
  pid_t pgid = 0;
  bool done = false;
  for (;;) {
    WatchMessage m{};
    const ssize_t n = ::read(fd, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof m)) break;  // EOF: faultline is gone or finished
    if (m.tag == 'G') pgid = m.pgid;
    if (m.tag == 'D') done = true;
  }
  if (pgid > 0 && !done) watcher_end_group(pgid, grace_ms);
  ::_exit(0);
}

int open_max() {
  const long n = ::sysconf(_SC_OPEN_MAX);
  return n > 0 && n < 65536 ? static_cast<int>(n) : 65536;
}

// ---- the server's process, between fork and exec

struct ChildPipes {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  ChildPipes() {
    for (int* p : {in, out, err, report})
      if (::pipe2(p, O_CLOEXEC) != 0) {
        const int e = errno;
        close_all();
        throw StartupError(std::string("stdio child: pipe: ") + std::strerror(e));
      }
  }
  void close_all() {
    for (int* p : {in, out, err, report}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  }
};

[[noreturn]] void exec_server(char* const* args, const ChildPipes& p, int watch_fd, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // faultline killed outright: the server hears it at once
  const WatchMessage m{'G', ::getpid()};
  [[maybe_unused]] auto sent = ::send(watch_fd, &m, sizeof m, MSG_NOSIGNAL);  // the watcher knows the group
  if (::getppid() != parent) ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(s, SIG_DFL);
  ::dup2(p.in[0], 0);
  ::dup2(p.out[1], 1);
  ::dup2(p.err[1], 2);
  ::execvp(args[0], args);
  const int e = errno;
  [[maybe_unused]] auto n = ::write(p.report[1], &e, sizeof e);
  ::_exit(127);
}

// A process's state, parent, process group and pending signals from /proc/PID/stat.
struct ProcStat {
  char state = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  unsigned long long flags = 0;    // field 9: the kernel's task flags
  unsigned long long pending = 0;  // field 31: the signals waiting for this task

  // A SIGKILL already sent is queued before kill(2) returns, and once taken
  // the task is marked exiting (PF_EXITING): either way it is as good as gone
  // while /proc still shows it running.
  bool dying() const {
    constexpr unsigned long long kExiting = 0x4;
    return (pending & (1ULL << (SIGKILL - 1))) != 0 || (flags & kExiting) != 0;
  }
};

std::optional<ProcStat> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= text.size()) return std::nullopt;
  ProcStat s;
  char* end = nullptr;
  const char* p = text.c_str() + close_paren + 2;
  s.state = *p;
  s.ppid = static_cast<pid_t>(std::strtol(p + 1, &end, 10));
  s.pgrp = static_cast<pid_t>(std::strtol(end, &end, 10));
  for (int field = 6; field <= 8 && *end; ++field) std::strtoull(end, &end, 10);
  s.flags = std::strtoull(end, &end, 10);
  for (int field = 10; field <= 30 && *end; ++field) std::strtoull(end, &end, 10);
  s.pending = std::strtoull(end, nullptr, 10);
  return s;
}

}  // namespace

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

StdioChild::StdioChild(const std::vector<std::string>& argv, StdioChildOptions options) : options_(options) {
  if (argv.empty()) throw StartupError("no command to run");
  ChildPipes pipes;
  try {
    start_watcher();  // first: whatever happens from here on, something outlives us
    if (options_.adopt_orphans) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  } catch (...) {
    pipes.close_all();
    throw;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) exec_server(args.data(), pipes, watch_fd_, parent);
  if (pid_ < 0) {
    const int e = errno;
    pipes.close_all();
    retire_watcher(true);
    throw StartupError(std::string("stdio child: fork: ") + std::strerror(e));
  }
  ::setpgid(pid_, pid_);  // also here, so signals to the group work at once
  stdin_fd_ = std::exchange(pipes.in[1], -1);
  stdout_fd_ = std::exchange(pipes.out[0], -1);
  stderr_fd_ = std::exchange(pipes.err[0], -1);
  close_fd(pipes.report[1]);
  int exec_errno = 0;
  ssize_t n;
  do n = ::read(pipes.report[0], &exec_errno, sizeof exec_errno);
  while (n < 0 && errno == EINTR);
  pipes.close_all();
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    end_group();
    close_fd(stdin_fd_);
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
    throw StartupError("cannot run \"" + argv[0] + "\": " + std::strerror(exec_errno));
  }
}

StdioChild::~StdioChild() {
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
  end_group();
}

void StdioChild::start_watcher() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw StartupError(std::string("stdio watcher: socketpair: ") + std::strerror(errno));
  const int max_fd = open_max();
  watcher_ = ::fork();
  if (watcher_ == 0) watcher_main(sv[0], static_cast<long>(options_.grace.count()), max_fd);
  const int e = errno;
  ::close(sv[0]);
  if (watcher_ < 0) {
    ::close(sv[1]);
    throw StartupError(std::string("stdio watcher: fork: ") + std::strerror(e));
  }
  watch_fd_ = sv[1];
}

// With the group gone, the watcher is told so before the socket closes and
// exits at once; otherwise the close alone makes it end the group itself.
void StdioChild::retire_watcher(bool group_gone) {
  if (watch_fd_ < 0) return;
  if (group_gone) {
    const WatchMessage m{'D', 0};
    [[maybe_unused]] auto sent = ::send(watch_fd_, &m, sizeof m, MSG_NOSIGNAL);
  }
  close_fd(watch_fd_);
  const auto deadline = Clock::now() + options_.grace + kKillWait;
  while (!watcher_reaped_ && watcher_ > 0) {
    int status = 0;
    const pid_t r = ::waitpid(watcher_, &status, WNOHANG);
    if (r == watcher_ || (r < 0 && errno == ECHILD)) watcher_reaped_ = true;
    if (watcher_reaped_ || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
}

void StdioChild::note_reaped(pid_t pid, int status) {
  if (pid == pid_) {
    reaped_ = true;
    status_ = status;
  } else if (pid == watcher_) {
    watcher_reaped_ = true;
  }
}

// Collects what has exited: the server, the watcher and, when adopting, any
// orphan that was handed to us.
void StdioChild::reap_all() {
  int status = 0;
  if (!options_.adopt_orphans) {
    for (pid_t p : {pid_, watcher_}) {
      const bool done = p == pid_ ? reaped_ : watcher_reaped_;
      if (p > 0 && !done && ::waitpid(p, &status, WNOHANG) == p) note_reaped(p, status);
    }
    return;
  }
  for (;;) {
    const pid_t r = ::waitpid(-1, &status, WNOHANG);
    if (r <= 0) return;
    note_reaped(r, status);
  }
}

bool StdioChild::signal(int signo, bool whole_group) {
  if (reaped_ || pid_ <= 0) return false;
  return ::kill(whole_group ? -pid_ : pid_, signo) == 0;
}

std::optional<int> StdioChild::try_reap() {
  if (pid_ <= 0) return std::nullopt;
  reap_all();
  if (!status_ || status_taken_) return std::nullopt;
  status_taken_ = true;
  return status_;
}

std::vector<StdioChild::Remnant> StdioChild::scan(bool with_dying) {
  reap_all();
  std::vector<Remnant> out;
  if (pid_ <= 0) return out;
  if (reaped_ && !options_.adopt_orphans && ::kill(-pid_, 0) != 0) return out;  // no group, nothing adopted
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  const pid_t self = ::getpid();
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == watcher_ || pid == self) continue;
    const auto st = read_stat(static_cast<pid_t>(pid));
    if (!st || st->state == 'Z' || st->state == 'X' || (st->dying() && !with_dying)) continue;
    const bool ours = pid == pid_ || st->pgrp == pid_ || (options_.adopt_orphans && st->ppid == self);
    if (ours) out.push_back({static_cast<pid_t>(pid), st->pgrp});
  }
  ::closedir(dir);
  return out;
}

std::vector<pid_t> StdioChild::remnants() {
  std::vector<pid_t> pids;
  for (const auto& r : scan()) pids.push_back(r.pid);
  return pids;
}

std::size_t StdioChild::signal_remnants(int signo) {
  const auto left = scan();
  const pid_t own_group = ::getpgrp();
  bool group_signalled = false;
  for (const auto& r : left) {
    pid_t target = r.pid;
    if (r.pgrp == pid_) {
      if (group_signalled) continue;
      group_signalled = true;
      target = -pid_;
    } else if (r.pgrp == r.pid && r.pgrp != own_group) {
      target = -r.pid;  // an orphan that made a group of its own takes it along
    }
    ::kill(target, signo);
    if (signo == SIGTERM) ::kill(target, SIGCONT);
  }
  if (signo == SIGTERM && !left.empty() && !term_sent_at_) term_sent_at_ = Clock::now();
  return left.size();
}

bool StdioChild::wait_remnants_gone(Clock::time_point deadline) {
  for (;;) {
    if (scan(true).empty()) return true;  // gone and reaped, not merely hit by SIGKILL
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

std::size_t StdioChild::end_group() {
  if (pid_ <= 0 || ended_) return 0;
  ended_ = true;
  std::size_t killed = 0;
  bool gone = scan(true).empty();
  if (!gone) {
    if (!term_sent_at_) signal_remnants(SIGTERM);
    gone = wait_remnants_gone(term_sent_at_.value_or(Clock::now()) + options_.grace);
  }
  if (!gone) {
    killed = signal_remnants(SIGKILL);
    gone = wait_remnants_gone(Clock::now() + kKillWait);
  }
  reap_all();
  retire_watcher(gone);
  return killed;
}

}  // namespace faultline
