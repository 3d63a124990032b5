#pragma once
// The process side of a benchmark run: starting the programs measured,
// waiting for them to listen, their memory, a config file for them, and the
// CPU warmers (see CpuWarmers). Used by faultline-bench-ws-rate.

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

namespace faultline::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

// Resident memory of a process in KiB, -1 when it cannot be read.
inline long rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Starts ARGS as a child with its stdout on /dev/null; returns its pid.
inline pid_t spawn(std::vector<std::string> args) {
  std::fflush(nullptr);  // or the child's freopen writes a copy of what is buffered
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!::freopen("/dev/null", "w", stdout)) ::_exit(126);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// A file of TEXT in /tmp, removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/faultline-ws-rate-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) throw std::runtime_error("cannot create a file in /tmp");
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    path_ = name;
    if (!ok) throw std::runtime_error("cannot write " + path_);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline bool on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
  }
  return false;
}

// --warm-cpus: one spinning SCHED_IDLE thread per CPU. Any other thread that
// wakes preempts it at once, but no CPU ever goes idle, so a wakeup never pays
// for leaving an idle state (on a VM: the exit to the hypervisor and back, tens
// of microseconds, paid once per process on the path). It stands in for a host
// tuned for latency (idle=poll, C-states off). Only the round trips run with
// it: it would take CPU time from the rate runs.
class CpuWarmers {
 public:
  CpuWarmers() {
    for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
      threads_.emplace_back([this] {
        sched_param param{};
        if (::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) != 0) return;
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
  }
  ~CpuWarmers() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

inline bool wait_listening(asio::io_context& io, std::uint16_t port) {
  for (int i = 0; i < 500; ++i) {
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace faultline::bench
