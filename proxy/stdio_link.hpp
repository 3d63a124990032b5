#pragma once
// The stdio transport's link: faultline between a caller's stdin/stdout and an
// MCP server child's stdin/stdout (`faultline wrap -- CMD`). Each direction
// reads bytes, decodes NDJSON into frames (recorded by an mcp::Session as they
// arrive), queues them, and pumps them through its FrameChain to the other
// side. stderr passes through and is recorded. Shutdown follows the MCP stdio
// order: close the child's stdin, wait, SIGTERM, wait, SIGKILL; whatever the
// server leaves running is ended the same way (see StdioChild). The run
// behind it is in stdio_run.hpp, its directions in stdio_direction.hpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/event_log.hpp"
#include "faults/byte_fault_spec.hpp"
#include "proxy/fault_target.hpp"

namespace faultline {

struct StdioLinkOptions {
  std::string name = "stdio";
  std::vector<std::string> command;
  // Frame faults on each direction's messages, and byte faults (latency,
  // bandwidth, slicer, limit_data, ...) on the bytes each direction writes,
  // after its frame faults (rolled once for the run). Checked with
  // check_fault_fits_stdio.
  std::vector<FaultPtr> faults;
  std::uint64_t seed = 0;
  std::chrono::milliseconds shutdown_step{2000};  // each wait of the shutdown sequence, and every grace period
  std::chrono::milliseconds drain_after_exit{2000};  // how long the server's pipes may stay open after it exits
  // The caller's side. 0 and 1 are taken over (and replaced by /dev/null) so
  // that closing them reaches the caller; other descriptors are used as they are.
  int client_in = 0;
  int client_out = 1;
  int client_err = 2;
  std::size_t max_queued_bytes = 8u << 20;  // per direction, before reading pauses
  // The longest line decoded. A longer one is recorded as one invalid frame
  // (its first max_message bytes) and passed on whole, streamed, undecoded.
  std::size_t max_message = 4u << 20;
  std::size_t stderr_line_bytes = 2048;     // longer stderr lines are cut in the record
  int stderr_lines_per_second = 50;         // more are counted, not recorded
  // The server's orphans become this process's children, to be ended and
  // reaped (StdioChildOptions::adopt_orphans): for a process running one link.
  bool adopt_orphans = false;
};

// Byte faults about connecting (down, slow_open): a stdio link has no
// connection to refuse or delay.
inline bool acts_on_connecting(std::string_view type) { return type == "down" || type == "slow_open"; }

// Throws ConfigError (at `pointer`) for a fault a stdio link cannot apply:
// websocket and http types, a session match, and byte faults about connecting
// (a stdio link has no connection to refuse or delay).
void check_fault_fits_stdio(const FaultSpec& spec, const std::string& pointer);

namespace stdio {
class StdioRun;
}

// Its faults change while it runs through the FaultTarget interface (`wrap
// --api`): a fault added or removed acts on the live run at once.
class StdioLink final : public FaultTarget {
 public:
  StdioLink(asio::any_io_executor ex, EventLog& events, StdioLinkOptions options);
  ~StdioLink() override;

  // FaultTarget
  const std::string& name() const override;
  const std::string& protocol() const override;
  // listen "stdio", upstream the server's command line.
  nlohmann::json describe() const override;
  const std::vector<FaultPtr>& faults() const override;
  FaultPtr find_fault(const std::string& name) const override;
  void check_fault_fits(const FaultSpec& spec, const std::string& pointer) const override {
    check_fault_fits_stdio(spec, pointer);
  }
  void add_fault(FaultPtr spec) override;
  void replace_fault(std::string name, FaultPtr spec) override;
  void remove_fault(std::string name) override;

  // Starts the child and both directions. Throws StartupError if the command cannot run.
  void start();
  // Passes a signal faultline received on to the child. After SIGINT or
  // SIGTERM, a server still running a shutdown step later gets the rest of
  // the shutdown order: SIGTERM to its group, wait, SIGKILL.
  void forward_signal(int signo);
  // Called once with the exit code to use (the child's, or 128+signal) when
  // the child has exited and its output was delivered.
  void on_exit(std::function<void(int)> callback);
  // Injections per fault name, frame and byte faults (those removed included).
  std::map<std::string, std::uint64_t> injections() const;
  // Ends whatever is left of the server's process group (SIGTERM, a shutdown
  // step, SIGKILL) and retires the watcher; blocks. For after the loop
  // stopped; the run's end (its last reference gone) does it too.
  void end_server();

 private:
  std::shared_ptr<stdio::StdioRun> run_;
};

}  // namespace faultline
