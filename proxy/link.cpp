#include "proxy/link.hpp"

#include <utility>

#include <strings.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "core/errors.hpp"
#include "proxy/accept_backoff.hpp"
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

namespace {
bool is_localhost(const std::string& host) { return ::strcasecmp(host.c_str(), "localhost") == 0; }
}  // namespace

std::optional<asio::ip::address> listen_address(const std::string& host) {
  if (is_localhost(host)) return asio::ip::address_v4::loopback();
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return address;
}

namespace {

// An IPv4 address written as IPv6 (::ffff:a.b.c.d) as the IPv4 address it is.
asio::ip::address plain(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

// Whether `a` is an address of this machine: one a socket can be bound to.
bool is_local_address(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  asio::io_context io;
  asio::ip::udp::socket probe(io);
  boost::system::error_code ec;
  const asio::ip::udp::endpoint ep(a, 0);
  probe.open(ep.protocol(), ec);
  if (!ec) probe.bind(ep, ec);
  return !ec;
}

// The addresses `host` names: itself when it is one, else what the resolver
// says (none when it does not resolve: connections will say so).
std::vector<asio::ip::address> addresses_of(const std::string& host, std::uint16_t port) {
  if (auto a = listen_address(host)) {
    if (is_localhost(host)) return {*a, asio::ip::address_v6::loopback()};  // both loopbacks
    return {*a};
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(host, std::to_string(port), asio::ip::resolver_base::numeric_service, ec);
  std::vector<asio::ip::address> out;
  if (!ec)
    for (const auto& r : results) out.push_back(r.endpoint().address());
  return out;
}

// Whether a connection to `upstream` would reach a listener on `listen`: the
// same port, and the upstream is the listen address, or the listener takes
// every address (0.0.0.0, [::]) and the upstream is one of this machine's.
// A port of 0 is picked by the kernel when listening: it cannot be the upstream's.
std::optional<asio::ip::address> loops_to(const HostPort& listen, const HostPort& upstream) {
  if (listen.port == 0 || listen.port != upstream.port) return std::nullopt;
  const auto bound = listen_address(listen.host);
  if (!bound) return std::nullopt;
  for (auto a : addresses_of(upstream.host, upstream.port)) {
    a = plain(a);
    // Connecting to 0.0.0.0 or [::] reaches this machine's loopback.
    const auto target = !a.is_unspecified() ? a
                        : a.is_v4()          ? asio::ip::address(asio::ip::address_v4::loopback())
                                             : asio::ip::address(asio::ip::address_v6::loopback());
    if (bound->is_unspecified()) {
      // [::] takes IPv4 too (dual stack); 0.0.0.0 takes only IPv4.
      if ((bound->is_v6() || target.is_v4()) && is_local_address(target)) return a;
    } else if (plain(*bound) == target) {
      return a;
    }
  }
  return std::nullopt;
}

}  // namespace

void validate_link_config(const LinkConfig& config, const std::string& pointer) {
  if (!is_link_protocol(config.protocol))
    throw ConfigError(pointer + "/protocol", "unknown protocol \"" + config.protocol + "\" (known: " + link_protocols() + ")");
  if (config.name.empty()) throw ConfigError(pointer + "/name", "a link needs a name");
  if (config.name.find('/') != std::string::npos) throw ConfigError(pointer + "/name", "must not contain '/'");
  std::string why;
  const auto listen = parse_host_port(config.listen, &why);
  if (!listen) throw ConfigError(pointer + "/listen", why);
  if (!listen_address(listen->host))
    throw ConfigError(pointer + "/listen", "\"" + config.listen + "\": the host must be an IP address or localhost");
  auto up = parse_host_port(config.upstream, &why);
  if (!up) throw ConfigError(pointer + "/upstream", why);
  if (up->port == 0) throw ConfigError(pointer + "/upstream", "the upstream port must not be 0");
  if (const auto address = loops_to(*listen, *up))
    throw ConfigError(pointer + "/upstream", config.upstream + (up->host == address->to_string() ? "" : " (" + address->to_string() + ")") +
                                                 " is the link's own listen address " + config.listen +
                                                 ": every connection would loop back into the link");
  if (config.max_message) {
    if (*config.max_message < kMinMaxMessage || *config.max_message > kMaxMaxMessage)
      throw ConfigError(pointer + "/max_message", max_message_range() + ", got " + std::to_string(*config.max_message));
    if (!decodes_frames(config.protocol))
      throw ConfigError(pointer + "/max_message",
                        "only websocket and http links decode messages; a " + config.protocol + " link relays bytes");
  }
}

Link::Link(asio::any_io_executor ex, LinkConfig config, ProxyEnv& env)
    : ex_(std::move(ex)),
      config_(std::move(config)),
      configured_listen_(config_.listen),
      env_(env),
      book_(ex_, FaultBook::Hooks{
                     .start = [this](const FaultPtr& spec) {
                       for_each_session([spec](LinkSession& s) { s.attach(spec); });
                       listening_may_change();
                     },
                     .stop = [this](const FaultPtr& spec) {
                       for_each_session([spec](LinkSession& s) { s.detach(spec); });
                       listening_may_change();
                     },
                     .change = [this](const FaultPtr& before, const FaultPtr& after) {
                       for_each_session([before, after](LinkSession& s) { s.replace(before, after); });
                       listening_may_change();
                     },
                     .emit = [this](std::string kind, nlohmann::json fields) {
                       env_.events.emit(source(), std::move(kind), std::move(fields));
                     }}) {}

Link::~Link() = default;

nlohmann::json Link::describe() const {
  nlohmann::json toxics = nlohmann::json::array();
  for (const auto& f : faults()) toxics.push_back(f->to_json());
  nlohmann::json j = {{"name", config_.name},       {"listen", config_.listen},     {"upstream", config_.upstream},
                      {"enabled", config_.enabled}, {"protocol", config_.protocol}, {"toxics", toxics}};
  if (config_.max_message) j["max_message"] = *config_.max_message;
  return j;
}

HostPort Link::upstream() const { return *parse_host_port(config_.upstream); }

bool Link::should_listen() const {
  if (!config_.enabled) return false;
  for (const auto& f : book_.acting())
    if (f->fault && f->fault->takes_link_down()) return false;
  return true;
}

// A down fault started or ended, maybe on its own time: when the address
// cannot be bound again, that is recorded (a caller of the fault API also gets
// the error, from its own update_listening()).
void Link::listening_may_change() {
  try {
    update_listening();
  } catch (const std::exception& e) {
    env_.events.emit(source(), "link.error", {{"reason", e.what()}});
  }
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
  const bool was_up = std::exchange(started_, false);
  stop_listening();
  if (was_up) book_.end_all();
  for_each_session([grace, reason](LinkSession& s) { s.drain(grace, reason); });
  if (was_up) env_.events.emit(source(), "link.down", {{"reason", reason}, {"drain_ms", grace.count()}});
}

void Link::stop(const std::string& reason) {
  const bool was_up = std::exchange(started_, false);
  stop_listening();
  if (was_up) book_.end_all();
  close_all(reason);
  if (was_up) env_.events.emit(source(), "link.down", {{"reason", reason}});
}

void Link::bind_and_listen() {
  std::string why;
  auto hp = parse_host_port(configured_listen_, &why);
  if (!hp) throw ConfigError("listen", why);
  const auto address = listen_address(hp->host);
  if (!address) throw ConfigError("listen", "\"" + configured_listen_ + "\": the host must be an IP address or localhost");
  boost::system::error_code ec;
  auto acceptor = std::make_shared<tcp::acceptor>(ex_);
  const tcp::endpoint ep(*address, hp->port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw StartupError("link " + config_.name + ": cannot listen on " + configured_listen_ + ": " + ec.message());
  const auto bound = acceptor->local_endpoint();
  config_.listen = HostPort{bound.address().to_string(), bound.port()}.to_string();
  configured_listen_ = config_.listen;  // a port picked by the kernel is kept across disable/enable
  acceptor_ = acceptor;
  // The loop holds the link from here: it may first run after the link was stopped and let go.
  asio::co_spawn(ex_, accept_loop(shared_from_this(), acceptor), asio::detached);
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

asio::awaitable<void> Link::accept_loop(std::shared_ptr<Link> self, std::shared_ptr<tcp::acceptor> acceptor) {
  AcceptBackoff backoff("link " + config_.name);
  while (acceptor->is_open()) {
    auto session_ex = env_.session_executor ? env_.session_executor() : ex_;
    auto [ec, socket] = co_await acceptor->async_accept(session_ex, asio::as_tuple(asio::use_awaitable));
    if (!acceptor->is_open() || acceptor != acceptor_) co_return;
    if (ec) {
      // Out of descriptors and the like: wait for some to be freed, and keep serving.
      co_await backoff.wait(ex_, ec);
      continue;
    }
    backoff.accepted();
    const auto number = next_connection_++;
    auto session = make_link_session(config_.protocol,
                                     SessionStart{self, std::move(socket), number, upstream(), config_.max_message});
    connections_.emplace(number, session);
    ++env_.sessions_alive;
    asio::dispatch(session->executor(), [session, faults = book_.acting()]() mutable { session->start(std::move(faults)); });
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

std::shared_ptr<const FaultSpec> Link::find_fault(const std::string& name) const { return book_.find(name); }

void Link::add_fault(std::shared_ptr<const FaultSpec> spec) {
  stats_.fault(spec->name, spec->type);
  book_.add(std::move(spec));
  update_listening();
}

void Link::replace_fault(std::string name, std::shared_ptr<const FaultSpec> spec) {
  book_.replace(name, std::move(spec));
  update_listening();
}

void Link::remove_fault(std::string name) {
  book_.remove(name);
  update_listening();
}

void Link::remove_all_faults() {
  while (!book_.all().empty()) book_.remove(book_.all().front()->name);
  update_listening();
}

}  // namespace faultline
