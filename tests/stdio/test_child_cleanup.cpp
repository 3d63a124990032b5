// StdioChild leaves nothing behind: ending it ends the server's whole process
// group (SIGTERM, the grace period, SIGKILL), the watcher does the same when
// the owning process is SIGKILLed, retires at once when all is over, and with
// adopt_orphans what the server orphaned is ended and reaped. Real processes;
// each sleep has a duration of its own so leftovers can be told apart.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "core/stdio_child.hpp"

using namespace faultline;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// The state letter of /proc/PID/stat ('\0' when there is no such process).
char state_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return '\0';
  const auto close_paren = text.rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= text.size() ? '\0' : text[close_paren + 2];
}

bool running(pid_t pid) {
  const char s = state_of(pid);
  return s != '\0' && s != 'Z' && s != 'X';
}

// The running (not zombie) members of process group `pgid`.
std::vector<pid_t> members(pid_t pgid) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (!dir) return out;
  while (const dirent* e = readdir(dir)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || getpgid(pid) != pgid || !running(pid)) continue;
    out.push_back(pid);
  }
  closedir(dir);
  return out;
}

// Waits up to `limit` for `pred`; whether it came true.
template <class Pred>
bool within(std::chrono::milliseconds limit, Pred pred) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The server's processes once it has started its background sleep (both running).
std::vector<pid_t> started(StdioChild& child, std::size_t count) {
  std::vector<pid_t> pids;
  REQUIRE(within(5s, [&] { return (pids = child.remnants()).size() == count; }));
  return pids;
}

StdioChildOptions grace(std::chrono::milliseconds ms, bool adopt = false) { return {ms, adopt}; }

}  // namespace

TEST_CASE("ending the child ends the background process its server started") {
  auto child = std::make_unique<StdioChild>(std::vector<std::string>{"sh", "-c", "sleep 3011 & wait"}, grace(300ms));
  const auto pids = started(*child, 2);
  child.reset();
  for (pid_t p : pids) CHECK_FALSE(running(p));
}

TEST_CASE("a group that ignores SIGTERM gets SIGKILL once the grace period is over") {
  StdioChild child({"sh", "-c", "trap '' TERM; sleep 3012 & wait"}, grace(300ms));
  const auto pids = started(child, 2);
  const auto t0 = Clock::now();
  CHECK(child.end_group() == 2);
  const auto took = Clock::now() - t0;
  CHECK(took >= 290ms);
  CHECK(took < 2300ms);
  for (pid_t p : pids) CHECK_FALSE(running(p));
}

TEST_CASE("the watcher ends the group when its owner is killed with SIGKILL") {
  int report[2];
  REQUIRE(pipe(report) == 0);
  const pid_t owner = fork();
  REQUIRE(owner >= 0);
  if (owner == 0) {
    close(report[0]);
    StdioChild child({"sh", "-c", "trap '' TERM; sleep 3013 & wait"}, grace(300ms));
    const pid_t pids[2] = {child.pid(), child.watcher_pid()};
    if (write(report[1], pids, sizeof pids) != static_cast<ssize_t>(sizeof pids)) _exit(1);
    pause();
    _exit(0);
  }
  close(report[1]);
  pid_t pids[2] = {0, 0};
  REQUIRE(read(report[0], pids, sizeof pids) == static_cast<ssize_t>(sizeof pids));
  close(report[0]);
  const pid_t server = pids[0], watcher = pids[1];
  REQUIRE(within(5s, [&] { return members(server).size() == 2; }));  // the server and its sleep
  kill(owner, SIGKILL);
  int status = 0;
  waitpid(owner, &status, 0);
  const auto t0 = Clock::now();
  // SIGTERM is ignored, so the group goes at SIGKILL, a grace period later.
  CHECK(within(2300ms, [&] { return members(server).empty() && !running(watcher); }));
  CHECK(Clock::now() - t0 >= 250ms);
  kill(-server, SIGKILL);  // whatever went wrong above, leave nothing
}

TEST_CASE("the watcher retires at once when the server is gone") {
  StdioChild child({"true"}, grace(5000ms));
  REQUIRE(within(5s, [&] { return child.try_reap().has_value(); }));
  const pid_t watcher = child.watcher_pid();
  REQUIRE(running(watcher));
  const auto t0 = Clock::now();
  CHECK(child.end_group() == 0);
  CHECK(Clock::now() - t0 < 1000ms);
  CHECK(state_of(watcher) == '\0');  // exited and reaped: not even a zombie
}

TEST_CASE("with adopt_orphans, what the server orphaned is ended and reaped") {
  StdioChild child({"sh", "-c", "(trap '' TERM; exec sleep 3014) & exit 0"}, grace(300ms, true));
  REQUIRE(within(5s, [&] { return child.try_reap().has_value(); }));
  std::vector<pid_t> left;
  REQUIRE(within(5s, [&] { return (left = child.remnants()).size() == 1; }));
  const pid_t orphan = left[0];
  CHECK(state_of(orphan) != '\0');
  CHECK(child.end_group() == 1);  // it ignored SIGTERM
  CHECK(state_of(orphan) == '\0');  // reaped by us, not left a zombie
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}
