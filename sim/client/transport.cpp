#include "sim/client/transport.hpp"

#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

#include "core/errors.hpp"
#include "sim/client/http_transport.hpp"
#include "sim/client/stdio_transport.hpp"
#include "sim/client/ws_transport.hpp"

namespace faultline::sim {

namespace {

// The words of a command as a POSIX shell splits them (no expansion): blanks
// separate words; single quotes keep everything; double quotes keep everything
// but a backslash before one of " \ $ `; outside quotes a backslash keeps the
// next character.
std::vector<std::string> split_command(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::exchange(word, {}));
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const auto end = text.find('\'', i + 1);
      if (end == std::string::npos) throw ConfigError("--target", "stdio: a ' is not closed");
      word.append(text, i + 1, end - i - 1);
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= text.size()) throw ConfigError("--target", "stdio: a \" is not closed");
        if (text[i] == '"') break;
        if (text[i] == '\\' && i + 1 < text.size() && std::string_view("\"\\$`").find(text[i + 1]) != std::string_view::npos) ++i;
        word += text[i];
      }
    } else if (c == '\\') {
      if (i + 1 < text.size()) word += text[++i];
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

}  // namespace

Target parse_target(const std::string& text, bool sse) {
  Target t;
  t.text = text;
  if (text.rfind("stdio:", 0) == 0) {
    if (sse) throw ConfigError("--transport", "sse needs an http:// target, not a stdio command");
    t.command = split_command(text.substr(6));
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
