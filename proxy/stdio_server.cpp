// The server process of a stdio run: signals to it (passed on, or the
// shutdown order), its exit, what it leaves running, and its stderr (passed
// through and recorded).

#include "proxy/stdio_run.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <vector>

#include "faults/attribute_reader.hpp"  // signal_name
#include "proxy/stdio_direction.hpp"

namespace faultline::stdio {

bool StdioRun::signal_server(int signo, std::string_view why) {
  const bool sent = child_ && child_->signal(signo, true);
  emit("server.signal", {{"signal", signal_name(signo)}, {"group", true}, {"reason", why}, {"sent", sent}});
  return sent;
}

void StdioRun::forward_signal(int signo) {
  const bool sent = child_ && child_->signal(signo, false);
  emit("server.signal", {{"signal", signal_name(signo)}, {"group", false}, {"reason", "forwarded"}, {"sent", sent}});
  if (signo != SIGINT && signo != SIGTERM) return;
  if (child_status_) {
    // The server is gone and something (a fault holding the stream) keeps the
    // run open: a signal to end it must not go unanswered.
    abandon_output("signalled after the server exited");
    return;
  }
  if (signalled_ || !child_) return;
  signalled_ = true;
  auto self = shared_from_this();
  spawn([self]() { return self->escalate(self->signal_timer_, "signalled: server still running"); },
        "signal escalation");
}

void StdioRun::end_server() {
  if (!child_) return;
  const std::size_t killed = child_->end_group();
  if (killed > 0)
    emit("server.group_killed", {{"processes", killed}, {"reason", "still running a grace period after SIGTERM"}});
}

asio::awaitable<void> StdioRun::watch_child() {
  auto self = shared_from_this();
  while (!child_status_) {
    if (auto status = child_->try_reap()) {
      on_child_exit(*status);
      co_return;
    }
    auto [ec, signo] = co_await sigchld_.async_wait(use_tuple);
    if (ec) co_return;
  }
}

void StdioRun::on_child_exit(int status) {
  child_status_ = status;
  const double uptime = std::chrono::duration<double>(Clock::now() - started_at_).count();
  nlohmann::json fields = {{"pid", child_->pid()}, {"exit_code", exit_code_of(status)}, {"uptime_s", uptime},
                           {"during_shutdown", shutting_down_}};
  if (WIFSIGNALED(status)) fields["signal"] = signal_name(WTERMSIG(status));
  else fields["status"] = WEXITSTATUS(status);
  events_.emit(server_source_, "server.exit", std::move(fields));
  shutdown_timer_.cancel();
  signal_timer_.cancel();
  spawn([self = shared_from_this()]() { return self->end_remnants(); }, "remnants");
  // The server is gone: its stdin is useless, and its pipes get a bounded time to drain.
  up_->close_output("server exited");
  drain_timer_.expires_after(o_.drain_after_exit);
  drain_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    self->child_out_.cancel(ignored);
    self->child_err_.cancel(ignored);
    // What a fault still holds (timeout, half_open hold a stream forever) gets
    // one more period, then the client's output closes: the run ends.
    self->drain_timer_.expires_after(self->o_.drain_after_exit);
    self->drain_timer_.async_wait([self](boost::system::error_code ec2) {
      if (!ec2) self->abandon_output("server exited; a fault still held its output");
    });
  });
  check_finished();
}

void StdioRun::abandon_output(std::string_view why) {
  if (finished_) return;
  boost::system::error_code ignored;
  child_out_.cancel(ignored);
  child_err_.cancel(ignored);
  down_->close_output(why);
}

void StdioRun::begin_shutdown(std::string reason) {
  if (shutting_down_ || child_status_) return;
  shutting_down_ = true;
  emit("server.shutdown", {{"reason", reason}, {"step_ms", o_.shutdown_step.count()}});
  up_->close_output("shutdown");
  auto self = shared_from_this();
  spawn([self]() { return self->escalate(self->shutdown_timer_, "shutdown: server still running"); }, "shutdown");
}

// The MCP stdio order once stdin is closed (or a signal was passed on): wait;
// SIGTERM to the group; wait; SIGKILL.
asio::awaitable<void> StdioRun::escalate(asio::steady_timer& timer, std::string why) {
  auto self = shared_from_this();
  for (int signo : {SIGTERM, SIGKILL}) {
    timer.expires_after(o_.shutdown_step);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec || child_status_) co_return;
    signal_server(signo, why);
    if (signo == SIGTERM) child_->signal(SIGCONT, true);  // a stopped server could not act on it
  }
}

// The server has exited: what it started and left running (in its group, or
// orphaned to us) gets SIGTERM now and SIGKILL a shutdown step later, so
// nothing outlives it or holds its pipes open.
asio::awaitable<void> StdioRun::end_remnants() {
  auto self = shared_from_this();
  for (int signo : {SIGTERM, SIGKILL}) {
    const std::size_t n = child_->signal_remnants(signo);
    if (n == 0) co_return;
    emit("server.signal", {{"signal", signal_name(signo)}, {"group", true}, {"processes", n},
                           {"reason", "server exited, what it started still runs"}, {"sent", true}});
    if (signo == SIGKILL) co_return;
    remnant_timer_.expires_after(o_.shutdown_step);
    auto [ec] = co_await remnant_timer_.async_wait(use_tuple);
    if (ec) co_return;
  }
}

// The server's stderr: passed through to ours as it comes, and recorded line
// by line (long lines cut, at most stderr_lines_per_second a second).
asio::awaitable<void> StdioRun::stderr_loop() {
  auto self = shared_from_this();
  std::vector<char> buffer(16 * 1024);
  for (;;) {
    auto [ec, n] = co_await child_err_.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec) break;
    const std::string_view chunk(buffer.data(), n);
    pass_stderr_on(chunk);
    collect_stderr_lines(chunk);
  }
  if (!stderr_line_.empty()) record_stderr_line(stderr_line_);
  if (stderr_suppressed_ > 0) events_.emit(server_source_, "server.stderr_suppressed", {{"lines", stderr_suppressed_}});
  stderr_suppressed_ = 0;
  stderr_done_ = true;
  check_finished();
}

void StdioRun::pass_stderr_on(std::string_view chunk) {
  std::size_t done = 0;
  while (done < chunk.size()) {
    const auto w = ::write(o_.client_err, chunk.data() + done, chunk.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += static_cast<std::size_t>(w);
  }
}

// Adds a chunk to the line being assembled (keeping one byte more than
// stderr_line_bytes, to know it was cut) and records each line it completes.
void StdioRun::collect_stderr_lines(std::string_view chunk) {
  const std::size_t keep = o_.stderr_line_bytes + 1;
  while (!chunk.empty()) {
    const auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      if (stderr_line_.size() < keep) stderr_line_.append(chunk.substr(0, keep - stderr_line_.size()));
      break;
    }
    if (stderr_line_.size() < keep) stderr_line_.append(chunk.substr(0, std::min(nl, keep - stderr_line_.size())));
    record_stderr_line(stderr_line_);
    stderr_line_.clear();
    chunk.remove_prefix(nl + 1);
  }
}

void StdioRun::record_stderr_line(std::string_view line) {
  const auto now = Clock::now();
  if (now - stderr_window_ >= std::chrono::seconds(1)) {
    if (stderr_suppressed_ > 0) events_.emit(server_source_, "server.stderr_suppressed", {{"lines", stderr_suppressed_}});
    stderr_window_ = now;
    stderr_in_window_ = 0;
    stderr_suppressed_ = 0;
  }
  if (stderr_in_window_++ >= o_.stderr_lines_per_second) {
    ++stderr_suppressed_;
    return;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const bool cut = line.size() > o_.stderr_line_bytes;
  nlohmann::json fields = {{"line", mcp::printable(line.substr(0, o_.stderr_line_bytes), o_.stderr_line_bytes)}};
  if (cut) fields["truncated"] = true;
  events_.emit(server_source_, "server.stderr", std::move(fields));
}

}  // namespace faultline::stdio
