#include "proxy/link.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "core/errors.hpp"
#include "faults/frame_registry.hpp"
#include "proxy/link_session.hpp"

namespace faultline {

using boost::asio::ip::tcp;
namespace asio = boost::asio;

// Each protocol here has its session in make_link_session.
const char* const kProtocols[] = {"tcp", "websocket", "http"};

bool is_link_protocol(const std::string& protocol) {
  for (const char* p : kProtocols)
    if (protocol == p) return true;
  return false;
}

std::string link_protocols() {
  std::string list;
  for (const char* p : kProtocols) list += (list.empty() ? "" : ", ") + std::string(p);
  return list;
}

std::string max_message_range() {
  return "must be a whole number of bytes from " + std::to_string(kMinMaxMessage) + " to " +
         std::to_string(kMaxMaxMessage) + " (1 GiB)";
}

void validate_link_config(const LinkConfig& config, const std::string& pointer) {
  if (!is_link_protocol(config.protocol))
    throw ConfigError(pointer + "/protocol", "unknown protocol \"" + config.protocol + "\" (known: " + link_protocols() + ")");
  if (config.name.empty()) throw ConfigError(pointer + "/name", "a link needs a name");
  if (config.name.find('/') != std::string::npos) throw ConfigError(pointer + "/name", "must not contain '/'");
  std::string why;
  if (!parse_host_port(config.listen, &why)) throw ConfigError(pointer + "/listen", why);
  auto up = parse_host_port(config.upstream, &why);
  if (!up) throw ConfigError(pointer + "/upstream", why);
  if (up->port == 0) throw ConfigError(pointer + "/upstream", "the upstream port must not be 0");
  if (config.max_message) {
    if (*config.max_message < kMinMaxMessage || *config.max_message > kMaxMaxMessage)
      throw ConfigError(pointer + "/max_message", max_message_range() + ", got " + std::to_string(*config.max_message));
    if (!decodes_frames(config.protocol))
      throw ConfigError(pointer + "/max_message",
                        "only websocket and http links decode messages; a " + config.protocol + " link relays bytes");
  }
}

Link::Link(asio::any_io_executor ex, LinkConfig config, ProxyEnv& env)
    : ex_(std::move(ex)), config_(std::move(config)), configured_listen_(config_.listen), env_(env) {}

Link::~Link() = default;

HostPort Link::upstream() const { return *parse_host_port(config_.upstream); }

bool Link::should_listen() const {
  if (!config_.enabled) return false;
  for (const auto& f : faults_)
    if (f->fault && f->fault->takes_link_down()) return false;
  return true;
}

void Link::start() {
  started_ = true;
  if (should_listen() && !listening()) bind_and_listen();
  env_.events.emit(source(), "link.up",
                   {{"listen", config_.listen}, {"upstream", config_.upstream}, {"listening", listening()}});
}

template <class F>
void Link::for_each_session(F f) {
  for (auto& [number, session] : connections_)
    asio::dispatch(session->executor(), [session = session, f] { f(*session); });
}

void Link::drain(std::chrono::milliseconds grace, const std::string& reason) {
  started_ = false;
  stop_listening();
  for_each_session([grace, reason](LinkSession& s) { s.drain(grace, reason); });
  env_.events.emit(source(), "link.down", {{"reason", reason}, {"drain_ms", grace.count()}});
}

void Link::stop(const std::string& reason) {
  started_ = false;
  stop_listening();
  close_all(reason);
  env_.events.emit(source(), "link.down", {{"reason", reason}});
}

void Link::bind_and_listen() {
  std::string why;
  auto hp = parse_host_port(configured_listen_, &why);
  if (!hp) throw ConfigError("listen", why);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(hp->host == "localhost" ? "127.0.0.1" : hp->host, ec);
  if (ec) throw StartupError("link " + config_.name + ": listen address " + configured_listen_ + ": not an IP address");
  auto acceptor = std::make_shared<tcp::acceptor>(ex_);
  const tcp::endpoint ep(address, hp->port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw StartupError("link " + config_.name + ": cannot listen on " + configured_listen_ + ": " + ec.message());
  const auto bound = acceptor->local_endpoint();
  config_.listen = HostPort{bound.address().to_string(), bound.port()}.to_string();
  configured_listen_ = config_.listen;  // a port picked by the kernel is kept across disable/enable
  acceptor_ = acceptor;
  asio::co_spawn(ex_, accept_loop(acceptor), asio::detached);
}

void Link::stop_listening() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

void Link::update_listening() {
  if (!started_) return;
  if (should_listen() && !listening()) {
    bind_and_listen();
  } else if (!should_listen() && listening()) {
    stop_listening();
    close_all(config_.enabled ? "link down (down fault)" : "link disabled");
  }
}

void Link::close_all(const std::string& reason) {
  for_each_session([reason](LinkSession& s) { s.shut_down(reason); });
}

asio::awaitable<void> Link::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  auto self = shared_from_this();
  while (acceptor->is_open()) {
    auto session_ex = env_.session_executor ? env_.session_executor() : ex_;
    auto [ec, socket] = co_await acceptor->async_accept(session_ex, asio::as_tuple(asio::use_awaitable));
    if (!acceptor->is_open() || acceptor != acceptor_) co_return;
    if (ec) {
      // Out of descriptors and the like: say so once per burst and keep serving.
      spdlog::warn("{}: accept: {}", config_.name, ec.message());
      asio::steady_timer pause(ex_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const auto number = next_connection_++;
    auto session = make_link_session(config_.protocol,
                                     SessionStart{self, std::move(socket), number, upstream(), config_.max_message});
    connections_.emplace(number, session);
    ++env_.sessions_alive;
    asio::dispatch(session->executor(), [session, faults = faults_]() mutable { session->start(std::move(faults)); });
  }
}

void Link::session_closed(std::uint64_t number) {
  --env_.sessions_alive;
  asio::post(ex_, [self = shared_from_this(), number] { self->connections_.erase(number); });
}

void check_fault_fits_protocol(const FaultSpec& spec, const std::string& protocol, const std::string& pointer) {
  if (!spec.is_frame()) return;
  if (!decodes_frames(protocol))
    throw ConfigError(pointer + "/type", "a " + spec.type +
                                             " fault acts on JSON-RPC messages; it needs a link with protocol "
                                             "websocket or http, and this link's protocol is " + protocol);
  check_frame_fault_transport(*spec.frame, protocol, pointer);
}

void Link::check_fault_fits(const FaultSpec& spec, const std::string& pointer) const {
  check_fault_fits_protocol(spec, config_.protocol, pointer);
}

void Link::set_enabled(bool enabled) {
  if (enabled == config_.enabled) return;
  config_.enabled = enabled;
  update_listening();
  env_.events.emit(source(), enabled ? "link.enabled" : "link.disabled", nlohmann::json::object());
}

void Link::set_upstream(const std::string& upstream) {
  config_.upstream = upstream;
}

void Link::set_listen(const std::string& listen) {
  if (listen == configured_listen_ || listen == config_.listen) return;
  const auto old_configured = configured_listen_;
  const auto old_listen = config_.listen;
  const bool was_listening = listening();
  stop_listening();
  configured_listen_ = listen;
  config_.listen = listen;
  try {
    if (started_ && should_listen()) bind_and_listen();
  } catch (...) {
    configured_listen_ = old_configured;
    config_.listen = old_listen;
    if (was_listening) bind_and_listen();
    throw;
  }
}

std::shared_ptr<const FaultSpec> Link::find_fault(const std::string& name) const {
  for (const auto& f : faults_)
    if (f->name == name) return f;
  return nullptr;
}

void Link::add_fault(std::shared_ptr<const FaultSpec> spec) {
  faults_.push_back(spec);
  stats_.fault(spec->name, spec->type);
  env_.events.emit(source(), "fault.start", spec->to_json());
  for_each_session([spec](LinkSession& s) { s.attach(spec); });
  update_listening();
}

void Link::replace_fault(std::string name, std::shared_ptr<const FaultSpec> spec) {
  for (auto& f : faults_) {
    if (f->name != name) continue;
    f = spec;
    env_.events.emit(source(), "fault.change", spec->to_json());
    for_each_session([name, spec](LinkSession& s) { s.replace(name, spec); });
    update_listening();
    return;
  }
}

void Link::remove_fault(std::string name) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((*it)->name != name) continue;
    env_.events.emit(source(), "fault.end", {{"name", name}, {"type", (*it)->type}});
    faults_.erase(it);
    for_each_session([name](LinkSession& s) { s.detach(name); });
    update_listening();
    return;
  }
}

void Link::remove_all_faults() {
  while (!faults_.empty()) remove_fault(faults_.front()->name);
}

}  // namespace faultline
