#pragma once
// A link: one listener and one upstream, the faults configured on it, and its
// open sessions (one per accepted client). Adding, changing or removing a fault
// acts on the open sessions at once, as well as on new ones. A link listens
// while it is enabled and no `down` fault is on it.
//
// The Link itself lives on the proxy's main executor: the admin API, the
// registry and the accept loop call it there. Sessions run on worker
// executors (ProxyEnv::session_executor); the Link posts its calls to them.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "core/host_port.hpp"
#include "faults/byte_fault_spec.hpp"
#include "proxy/fault_book.hpp"
#include "proxy/fault_target.hpp"
#include "proxy/link_stats.hpp"
#include "proxy/proxy_env.hpp"

namespace faultline {

class LinkSession;

struct LinkConfig {
  std::string name;
  std::string listen;    // HOST:PORT; port 0 picks a free port
  std::string upstream;  // HOST:PORT
  bool enabled = true;
  std::string protocol = "tcp";  // tcp, websocket or http
  // The largest message the link decodes, in bytes (a websocket message, an
  // http body); unset: the protocol's default (32 MiB, 16 MiB). Not on tcp.
  std::optional<std::uint64_t> max_message;
};

// The range max_message takes: 1 KiB to 1 GiB.
constexpr std::uint64_t kMinMaxMessage = 1024;
constexpr std::uint64_t kMaxMaxMessage = 1u << 30;
std::string max_message_range();  // the rule, for messages

// The protocols a link may have.
bool is_link_protocol(const std::string& protocol);
std::string link_protocols();  // the list, for messages
// Whether a link of this protocol decodes JSON-RPC and so takes frame faults.
inline bool decodes_frames(const std::string& protocol) { return protocol != "tcp"; }

// Throws ConfigError (at `pointer`/type) when a link of `protocol` cannot take the fault:
// frame faults need a protocol that decodes JSON-RPC, and some work on stdio only.
void check_fault_fits_protocol(const FaultSpec& spec, const std::string& protocol, const std::string& pointer);

// Checks name, listen, upstream, protocol and max_message; errors name the JSON
// pointer under `pointer`. The listen host must be an IP address or localhost
// (a link does not look names up to listen), and the upstream must not be the
// listen address itself (nor, for a listener on 0.0.0.0 or [::], any address of
// this machine on that port): such a link would connect to itself until the
// descriptors ran out. Only for that comparison, and only when the ports are
// equal, is an upstream host name resolved here.
void validate_link_config(const LinkConfig& config, const std::string& pointer);

// The address a link listens on for `host`: an IP address as written, or
// 127.0.0.1 for localhost; nullopt for any other name.
std::optional<boost::asio::ip::address> listen_address(const std::string& host);

class Link : public FaultTarget, public std::enable_shared_from_this<Link> {
 public:
  Link(boost::asio::any_io_executor ex, LinkConfig config, ProxyEnv& env);
  ~Link() override;

  // Starts listening (if enabled). Throws StartupError when the address can't be bound.
  void start();
  // Stops listening and closes every connection (FIN); faults stay configured.
  void stop(const std::string& reason);
  // Stops listening; each session delivers what it has queued or held, then
  // closes (at the latest after `grace`).
  void drain(std::chrono::milliseconds grace, const std::string& reason);

  const std::string& name() const override { return config_.name; }
  const std::string& protocol() const override { return config_.protocol; }
  nlohmann::json describe() const override;
  std::string source() const { return "proxy:" + config_.name; }
  // The configuration, with `listen` showing the bound port once listening.
  const LinkConfig& config() const { return config_; }
  HostPort upstream() const;
  bool listening() const { return acceptor_ != nullptr; }

  void set_enabled(bool enabled);
  void set_upstream(const std::string& upstream);  // new connections use it
  void set_listen(const std::string& listen);      // rebinds; on failure keeps the old address and throws

  // The fault API's operations (FaultTarget).
  // Every fault configured, those waiting for their `after` included.
  const std::vector<std::shared_ptr<const FaultSpec>>& faults() const override { return book_.all(); }
  std::shared_ptr<const FaultSpec> find_fault(const std::string& name) const override;
  void check_fault_fits(const FaultSpec& spec, const std::string& pointer) const override;
  void add_fault(std::shared_ptr<const FaultSpec> spec) override;
  void replace_fault(std::string name, std::shared_ptr<const FaultSpec> spec) override;
  void remove_fault(std::string name) override;
  void remove_all_faults();

  LinkStats& stats() { return stats_; }
  ProxyEnv& env() { return env_; }
  std::size_t open_connections() const { return connections_.size(); }
  // A session has closed; callable from any thread.
  void session_closed(std::uint64_t number);

 private:
  bool should_listen() const;
  void update_listening();
  void listening_may_change();
  void bind_and_listen();
  void stop_listening();
  void close_all(const std::string& reason);
  // Runs `f(session)` on each open session's executor.
  template <class F>
  void for_each_session(F f);
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<Link> self,
                                          std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor);

  boost::asio::any_io_executor ex_;
  LinkConfig config_;
  std::string configured_listen_;  // as given (port 0 stays 0 here)
  ProxyEnv& env_;
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  FaultBook book_;
  std::map<std::uint64_t, std::shared_ptr<LinkSession>> connections_;
  std::uint64_t next_connection_ = 1;
  bool started_ = false;
  LinkStats stats_;
};

}  // namespace faultline
