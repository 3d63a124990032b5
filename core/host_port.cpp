#include "core/host_port.hpp"

#include <charconv>

namespace faultline {

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<HostPort> {
    if (error) *error = "\"" + std::string(text) + "\" is not HOST:PORT: " + why;
    return std::nullopt;
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("missing ':PORT'");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return fail("an IPv6 host must be written in brackets");
  }
  if (port_text.empty()) return fail("empty port");
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
    return fail("port must be a number from 0 to 65535");
  HostPort result;
  result.host = host.empty() ? "0.0.0.0" : std::string(host);
  result.port = static_cast<std::uint16_t>(port);
  return result;
}

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace faultline
