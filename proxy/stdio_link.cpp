#include "proxy/stdio_link.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "proxy/stdio_direction.hpp"
#include "proxy/stdio_run.hpp"

namespace faultline {
namespace stdio {

namespace {

// Takes over one of the caller's descriptors: 0/1/2 are duplicated (close-on-exec)
// and replaced by /dev/null, so closing ours is what the caller sees.
int take_over(int fd) {
  if (fd > 2) return fd;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw StartupError("cannot use descriptor " + std::to_string(fd) + ": " + std::strerror(errno));
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, fd);
    ::close(null);
  }
  return copy;
}

}  // namespace

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("stdio {}: {}", what, ex.what());
  }
}

StdioRun::StdioRun(asio::any_io_executor ex, EventLog& events, StdioLinkOptions o)
    : ex_(ex), events_(events), o_(std::move(o)), source_("proxy:" + o_.name), server_source_("server:" + o_.name),
      sigchld_(ex, SIGCHLD), client_in_(ex), client_out_(ex), child_in_(ex), child_out_(ex), child_err_(ex),
      book_(ex, FaultBook::Hooks{
                    .start = [this](const FaultPtr& spec) {
                      if (up_ && !finished_) dir(spec->direction).attach(spec);
                    },
                    .stop = [this](const FaultPtr& spec) {
                      if (up_) dir(spec->direction).detach(*spec);
                    },
                    .change = [this](const FaultPtr& before, const FaultPtr& after) {
                      if (!up_) return;
                      const auto at = dir(before->direction).detach(*before);
                      if (!finished_) dir(after->direction).attach(after, before->direction == after->direction ? at : std::nullopt);
                    },
                    .emit = [this](std::string kind, nlohmann::json fields) { emit(std::move(kind), std::move(fields)); }}),
      shutdown_timer_(ex), signal_timer_(ex), remnant_timer_(ex), drain_timer_(ex) {}

StdioRun::~StdioRun() = default;

void StdioRun::spawn(std::function<asio::awaitable<void>()> f, const char* what) {
  asio::co_spawn(ex_, std::move(f), [what](std::exception_ptr e) { log_exception(e, what); });
}

void StdioRun::start() {
  started_at_ = Clock::now();
  nlohmann::json command = o_.command;
  // SIGCHLD is watched before the fork.
  child_ = std::make_unique<StdioChild>(o_.command, StdioChildOptions{o_.shutdown_step, o_.adopt_orphans});
  emit("server.start", {{"pid", child_->pid()}, {"command", command}});
  child_in_.assign(child_->release_stdin());
  child_out_.assign(child_->release_stdout());
  child_err_.assign(child_->release_stderr());
  client_in_.assign(take_over(o_.client_in));
  client_out_.assign(take_over(o_.client_out));

  up_ = std::make_unique<StdioDirection>(*this, Direction::upstream, client_in_, child_in_);
  down_ = std::make_unique<StdioDirection>(*this, Direction::downstream, child_out_, client_out_);
  for (const auto& spec : book_.acting()) dir(spec->direction).attach(spec);  // added before the start
  for (const auto& spec : o_.faults) book_.add(spec);

  auto self = shared_from_this();
  spawn([self]() { return self->watch_child(); }, "child watch");
  spawn([self]() { return self->stderr_loop(); }, "stderr");
  for (auto* d : {up_.get(), down_.get()}) {
    spawn([self, d]() { return d->pump_loop(); }, "pump");
    spawn([self, d]() { return d->read_loop(); }, "reader");
  }
}

std::string StdioRun::observe(mcp::Peer from, const mcp::Frame& frame, Clock::time_point at, bool injected) {
  // Without a sink the session keeps its state but builds no event fields.
  auto obs = session_.observe(from, frame, at, injected, events_.has_sinks());
  for (auto& e : obs.events) emit(std::move(e.kind), std::move(e.fields));
  return obs.method;
}

void StdioRun::output_closed(Direction d, std::string_view why) {
  if (d == Direction::upstream) {
    emit("server.stdin_closed", {{"reason", why}});
    if (!child_status_) begin_shutdown("server stdin closed: " + std::string(why));
  } else {
    emit("client.stdout_closed", {{"reason", why}});
    // The caller stopped reading (a write failed): it is gone, shut the server down.
    if (why.starts_with("write to")) begin_shutdown(std::string(why));
  }
  check_finished();
}

void StdioRun::check_finished() {
  if (finished_ || !child_status_ || !stderr_done_ || !down_->input_done() || !down_->output_closed()) return;
  finished_ = true;
  book_.end_all();
  const auto now = Clock::now();
  for (auto& e : session_.unanswered(now)) emit(std::move(e.kind), std::move(e.fields));
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [name, n] : all_injections()) counts[name] = n;
  const int code = exit_code_of(*child_status_);
  emit("stdio.end", {{"exit_code", code},
                     {"injections", counts},
                     {"discarded_downstream", down_->frames_discarded()},
                     {"discarded_upstream", up_->frames_discarded()}});
  boost::system::error_code ignored;
  for (auto* d : {&client_in_, &client_out_, &child_in_, &child_out_, &child_err_}) d->close(ignored);
  sigchld_.cancel();
  shutdown_timer_.cancel();
  signal_timer_.cancel();
  remnant_timer_.cancel();
  drain_timer_.cancel();
  up_->wake();
  down_->wake();
  if (on_exit) {
    auto cb = std::move(on_exit);
    asio::post(ex_, [cb, code] { cb(code); });
  }
}

void StdioRun::close_for_fault(CloseMode, std::string reason) {
  // Pipes have no reset: closing both outputs, once what was let through is
  // written, is how a stdio "connection" ends.
  up_->close_after_flush(reason);
  down_->close_after_flush(reason);
}

}  // namespace stdio

StdioLink::StdioLink(asio::any_io_executor ex, EventLog& events, StdioLinkOptions options)
    : run_(std::make_shared<stdio::StdioRun>(ex, events, std::move(options))) {}
StdioLink::~StdioLink() = default;
void StdioLink::start() { run_->start(); }
void StdioLink::forward_signal(int signo) { run_->forward_signal(signo); }
void StdioLink::end_server() { run_->end_server(); }
void StdioLink::on_exit(std::function<void(int)> callback) { run_->on_exit = std::move(callback); }
std::map<std::string, std::uint64_t> StdioLink::injections() const { return run_->all_injections(); }

const std::string& StdioLink::name() const { return run_->options().name; }
const std::string& StdioLink::protocol() const {
  static const std::string stdio = "stdio";
  return stdio;
}
nlohmann::json StdioLink::describe() const {
  std::string command;
  for (const auto& arg : run_->options().command) command += (command.empty() ? "" : " ") + arg;
  nlohmann::json toxics = nlohmann::json::array();
  for (const auto& f : faults()) toxics.push_back(f->to_json());
  return {{"name", name()}, {"listen", "stdio"},    {"upstream", command},
          {"enabled", true}, {"protocol", "stdio"}, {"toxics", toxics}};
}

const std::vector<FaultPtr>& StdioLink::faults() const { return run_->faults().all(); }
FaultPtr StdioLink::find_fault(const std::string& name) const { return run_->faults().find(name); }
void StdioLink::add_fault(FaultPtr spec) { run_->faults().add(std::move(spec)); }
void StdioLink::replace_fault(std::string name, FaultPtr spec) { run_->faults().replace(name, std::move(spec)); }
void StdioLink::remove_fault(std::string name) { run_->faults().remove(name); }

void check_fault_fits_stdio(const FaultSpec& spec, const std::string& pointer) {
  if (spec.is_frame()) {
    check_frame_fault_transport(*spec.frame, "stdio", pointer);
  } else if (spec.fault && acts_on_connecting(spec.type)) {
    throw ConfigError(pointer + "/type", "a " + spec.type +
                                             " fault acts on connecting; a stdio link has no connection to refuse or delay");
  }
}

}  // namespace faultline
