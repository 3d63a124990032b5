#include "runtime/runtime.hpp"

#include <csignal>
#include <random>

#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "runtime/admin_api.hpp"

namespace faultline {

std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

namespace {

std::unique_ptr<JsonlRecorder> open_recorder(const RuntimeOptions& o) {
  if (o.events_path.empty()) return nullptr;
  return std::make_unique<JsonlRecorder>(o.events_path, o.events_mode);
}

}  // namespace

Runtime::Runtime(RuntimeOptions options)
    : options_(std::move(options)),
      recorder_(open_recorder(options_)),
      seed_(options_.seed ? *options_.seed : random_seed()),
      env_{events_, seed_},
      workers_(options_.threads),
      links_(io_.get_executor(), env_),
      faults_(links_),
      signals_(io_),
      poll_(io_),
      deadline_(io_) {
  if (recorder_) recorder_->attach(events_);
  if (!workers_.empty()) env_.session_executor = [this] { return workers_.next(); };
  nlohmann::json fields = options_.start_fields;
  fields["seed"] = seed_;
  fields["version"] = FAULTLINE_VERSION;
  events_.emit(options_.source, "run.start", std::move(fields));
}

Runtime::~Runtime() {
  // Whatever is still running stops here, in order: links, the main loop's
  // handlers, the workers (after their sessions closed), then the log.
  if (api_) api_->stop();
  links_.stop_all("run over");
  workers_.stop();
  io_.restart();
  io_.poll();
  end();
}

AdminApi& Runtime::serve_api(const std::string& address, const std::string& token) {
  api_ = std::make_unique<AdminApi>(*this, token);
  api_->listen(address);
  events_.emit(options_.source, "api.up", {{"address", api_->address()}});
  return *api_;
}

void Runtime::wait_signal() {
  signals_.async_wait([this](boost::system::error_code ec, int signo) {
    if (ec || !on_signal_) return;
    on_signal_(signo);
    wait_signal();
  });
}

void Runtime::forward_signals(std::function<void(int)> handler) {
  on_signal_ = std::move(handler);
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  wait_signal();
}

void Runtime::drain_on_signals(std::chrono::milliseconds grace) {
  on_signal_ = [this, grace](int signo) {
    if (draining_) {
      links_.stop_all("second signal");  // a second signal during the drain closes everything at once
      return;
    }
    drain(grace, signo == SIGINT ? "SIGINT" : "SIGTERM");
  };
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  wait_signal();
}

void Runtime::stop_after(std::chrono::steady_clock::duration after, std::chrono::milliseconds grace,
                         std::string reason) {
  deadline_.expires_after(after);
  deadline_.async_wait([this, grace, reason = std::move(reason)](boost::system::error_code ec) {
    if (!ec) drain(grace, reason);
  });
}

void Runtime::drain(std::chrono::milliseconds grace, const std::string& reason) {
  if (draining_) return;
  draining_ = true;
  spdlog::info("shutting down: {}", reason);
  deadline_.cancel();
  if (api_) api_->stop();
  // Stop listening; each connection delivers what it has queued or a fault
  // holds, passes the FIN on, and closes (at the latest after `grace`).
  links_.drain_all(grace, reason);
  stop_when_drained(std::chrono::steady_clock::now() + grace + std::chrono::milliseconds(200));
}

void Runtime::stop_when_drained(std::chrono::steady_clock::time_point until) {
  if (links_.open_sessions() == 0 || std::chrono::steady_clock::now() >= until) {
    stop();
    return;
  }
  poll_.expires_after(std::chrono::milliseconds(10));
  poll_.async_wait([this, until](boost::system::error_code ec) {
    if (!ec) stop_when_drained(until);
  });
}

void Runtime::stop() {
  on_signal_ = nullptr;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  deadline_.cancel();
  poll_.cancel();
  io_.stop();
}

void Runtime::run() {
  io_.run();
  workers_.stop();
  io_.restart();
  io_.poll();  // the closed sessions' last word to their links (forget me) is delivered
}

void Runtime::end(nlohmann::json fields) {
  if (ended_) return;
  ended_ = true;
  fields["seed"] = seed_;
  events_.emit(options_.source, "run.end", std::move(fields));
}

}  // namespace faultline
