#include "sim/client/transport.hpp"

#include <sstream>

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

#include "core/errors.hpp"
#include "sim/client/http_transport.hpp"
#include "sim/client/stdio_transport.hpp"
#include "sim/client/ws_transport.hpp"

namespace faultline::sim {

Target parse_target(const std::string& text, bool sse) {
  Target t;
  t.text = text;
  if (text.rfind("stdio:", 0) == 0) {
    if (sse) throw ConfigError("--transport", "sse needs an http:// target, not a stdio command");
    std::istringstream words(text.substr(6));
    for (std::string w; words >> w;) t.command.push_back(w);
    if (t.command.empty()) throw ConfigError("--target", "stdio: needs a command, as in stdio:npx some-server");
    t.kind = Target::Kind::stdio;
    return t;
  }
  std::string rest;
  if (text.rfind("ws://", 0) == 0) {
    t.kind = Target::Kind::ws;
    rest = text.substr(5);
  } else if (text.rfind("http://", 0) == 0) {
    t.kind = sse ? Target::Kind::sse : Target::Kind::http;
    rest = text.substr(7);
  } else {
    throw ConfigError("--target", "\"" + text + "\" is not stdio:CMD, ws://HOST:PORT/PATH or http://HOST:PORT/PATH");
  }
  if (sse && t.kind != Target::Kind::sse) throw ConfigError("--transport", "sse needs an http:// target");
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string error;
  auto hp = parse_host_port(authority, &error);
  if (!hp) {
    // No port: the scheme's.
    hp = parse_host_port(authority + ":80", &error);
    if (!hp || authority.empty()) throw ConfigError("--target", "\"" + text + "\": " + error);
  }
  t.address = *hp;
  t.host_header = authority;
  return t;
}

std::shared_ptr<ClientTransport> make_transport(asio::any_io_executor ex, const Target& target,
                                                const StreamPolicy& streams) {
  switch (target.kind) {
    case Target::Kind::stdio: return make_stdio_transport(ex, target.command);
    case Target::Kind::ws: return make_ws_transport(ex, target);
    case Target::Kind::http: return make_streamable_http_transport(ex, target, streams);
    case Target::Kind::sse: return make_legacy_sse_transport(ex, target);
  }
  return nullptr;
}

std::string noticed_by(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == boost::beast::http::error::end_of_stream ||
      ec == boost::beast::http::error::partial_message)
    return "EOF";
  return "RST";
}

}  // namespace faultline::sim
