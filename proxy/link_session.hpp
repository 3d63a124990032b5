#pragma once
// One accepted client connection on a link, whatever the link's protocol: a
// plain TCP Connection, a WebSocket session or an HTTP session. The Link owns
// the listener and the fault list; a session owns its sockets and the faults
// attached to it.
//
// Threads: a session lives on one executor (a worker thread of the proxy) and
// every call below is made on it: the Link posts them there. A session touches
// its Link only through what is safe from any thread: name(), source(), env()
// (the event log locks), stats() (atomic counters), fault_counters(), and
// session_closed().

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/host_port.hpp"
#include "faults/byte_fault_spec.hpp"

namespace faultline {

class Link;

class LinkSession {
 public:
  virtual ~LinkSession() = default;

  virtual boost::asio::any_io_executor executor() = 0;
  // Attaches the link's faults (as they were when the client was accepted)
  // and starts: opens the upstream, relays.
  virtual void start(std::vector<std::shared_ptr<const FaultSpec>> faults) = 0;
  // Live fault changes: a fault added, removed, or changed (keeping its
  // place). A fault is known by its pointer, not its name: a fault whose count
  // was spent stays attached while a new one of the same name is added.
  virtual void attach(const FaultPtr& spec) = 0;
  virtual void detach(const FaultPtr& spec) = 0;
  virtual void replace(const FaultPtr& before, const FaultPtr& after) = 0;
  // The link stops or goes down: close both sides with a FIN now.
  virtual void shut_down(const std::string& reason) = 0;
  // Graceful stop: stop reading new data, deliver what is queued or held by
  // faults (held data is released at once), then close with a FIN. Closes
  // anyway once `grace` has passed.
  virtual void drain(std::chrono::milliseconds grace, const std::string& reason) = 0;
};

// What a session is made from: its link, the accepted client socket (already
// on the session's executor), the connection number, the upstream address
// as it was at accept time, and the link's message size limit.
struct SessionStart {
  std::shared_ptr<Link> link;
  boost::asio::ip::tcp::socket client;
  std::uint64_t number = 0;
  HostPort upstream;
  std::optional<std::uint64_t> max_message;  // unset: the protocol's default
};

// Makes the session for the link's protocol (tcp, websocket, http).
std::shared_ptr<LinkSession> make_link_session(const std::string& protocol, SessionStart start);

}  // namespace faultline
