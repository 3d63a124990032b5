#include "proxy/link_session.hpp"

#include <stdexcept>

namespace faultline {

// One factory per protocol, each in its session's file.
std::shared_ptr<LinkSession> make_tcp_session(SessionStart start);
std::shared_ptr<LinkSession> make_http_session(SessionStart start);
std::shared_ptr<LinkSession> make_websocket_session(SessionStart start);

std::shared_ptr<LinkSession> make_link_session(const std::string& protocol, SessionStart start) {
  if (protocol == "tcp") return make_tcp_session(std::move(start));
  if (protocol == "http") return make_http_session(std::move(start));
  if (protocol == "websocket") return make_websocket_session(std::move(start));
  throw std::logic_error("no session for link protocol " + protocol);  // validate_link_config refuses it first
}

}  // namespace faultline
