#pragma once
// The run behind a StdioLink (stdio_link.hpp): the server child, both
// directions, stderr, and the shutdown order. Its parts live in
// stdio_link.cpp (start, the end of the run) and stdio_server.cpp (the server
// process: signals, its exit, what it leaves running, its stderr).

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mcp/session.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/fault_book.hpp"
#include "core/stdio_child.hpp"
#include "proxy/stdio_link.hpp"

namespace faultline::stdio {

using asio::posix::stream_descriptor;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Who sends what a direction carries: the client upstream, the server downstream.
inline mcp::Peer sender_of(Direction d) { return d == Direction::upstream ? mcp::Peer::client : mcp::Peer::server; }

// Logs what ended a coroutine of the run (`what`: the reader, the fault, ...).
void log_exception(std::exception_ptr e, const char* what);

class StdioDirection;

class StdioRun : public FaultHost, public std::enable_shared_from_this<StdioRun> {
 public:
  StdioRun(asio::any_io_executor ex, EventLog& events, StdioLinkOptions o);
  ~StdioRun();

  void start();
  void forward_signal(int signo);
  // After the server exited: stop reading its pipes and close the client's
  // output, dropping what a fault still holds, so the run ends.
  void abandon_output(std::string_view why);
  bool signal_server(int signo, std::string_view why);
  void end_server();

  void emit(std::string kind, nlohmann::json fields) { events_.emit(source_, std::move(kind), std::move(fields)); }
  std::string observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected);

  // A direction's output closed (end of its stream, a fault, a write error).
  void output_closed(Direction d, std::string_view why);
  void begin_shutdown(std::string reason);
  // Ends the run once the server has exited, its stdout and stderr were read
  // to their end and the client's stdout is closed: called whenever one of
  // these happens, in whatever order they come.
  void check_finished();
  bool finished() const { return finished_; }

  asio::any_io_executor executor() const { return ex_; }
  const StdioLinkOptions& options() const { return o_; }

  // FaultHost, for byte faults. The run is one connection; a fault that closes
  // it closes both outputs (the server's stdin and the client's stdout).
  std::uint64_t run_seed() override { return o_.seed; }
  const std::string& link_name() override { return o_.name; }
  std::uint64_t number() const override { return 1; }
  asio::any_io_executor executor() override { return ex_; }
  bool closing() const override { return finished_; }
  std::shared_ptr<FaultCounters> fault_counters(const std::string& name, const std::string& type) override {
    return fault_stats_.fault(name, type);
  }
  void emit_fault_event(std::string kind, nlohmann::json fields) override { emit(std::move(kind), std::move(fields)); }
  void close_for_fault(CloseMode mode, std::string reason) override;
  // Injections per fault name, frame and byte faults.
  std::map<std::string, std::uint64_t> all_injections() const {
    std::map<std::string, std::uint64_t> all;
    for (const auto& [name, c] : fault_stats_.faults()) all[name] += c.injections;
    return all;
  }
  StdioDirection& dir(Direction d) { return d == Direction::upstream ? *up_ : *down_; }
  // The faults and their schedules; they reach the directions once started.
  FaultBook& faults() { return book_; }
  std::function<void(int)> on_exit;

 private:
  asio::awaitable<void> watch_child();
  asio::awaitable<void> stderr_loop();
  asio::awaitable<void> escalate(asio::steady_timer& timer, std::string why);
  asio::awaitable<void> end_remnants();
  void on_child_exit(int status);
  void pass_stderr_on(std::string_view chunk);
  void collect_stderr_lines(std::string_view chunk);
  void record_stderr_line(std::string_view line);
  void spawn(std::function<asio::awaitable<void>()> f, const char* what);

  asio::any_io_executor ex_;
  EventLog& events_;
  StdioLinkOptions o_;
  std::string source_;
  std::string server_source_;
  asio::signal_set sigchld_;
  std::unique_ptr<StdioChild> child_;
  stream_descriptor client_in_, client_out_, child_in_, child_out_, child_err_;
  std::unique_ptr<StdioDirection> up_, down_;
  LinkStats fault_stats_;
  FaultBook book_;
  mcp::Session session_;
  asio::steady_timer shutdown_timer_;
  asio::steady_timer signal_timer_;   // escalation after a SIGINT/SIGTERM was passed on
  asio::steady_timer remnant_timer_;  // what the exited server left: SIGTERM, then SIGKILL
  asio::steady_timer drain_timer_;
  Clock::time_point started_at_;
  std::optional<int> child_status_;
  bool shutting_down_ = false;
  bool signalled_ = false;
  bool stderr_done_ = false;
  bool finished_ = false;
  // stderr record: line assembly and rate limit
  std::string stderr_line_;
  Clock::time_point stderr_window_;
  int stderr_in_window_ = 0;
  std::uint64_t stderr_suppressed_ = 0;
};

}  // namespace faultline::stdio
