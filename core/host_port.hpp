#pragma once
// HOST:PORT parsing for listen and upstream addresses ("127.0.0.1:8474",
// "localhost:6379", "[::1]:80", ":8474" meaning all interfaces).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faultline {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// Returns nullopt with `error` set when the text is not HOST:PORT with a port in 0..65535.
std::optional<HostPort> parse_host_port(std::string_view text, std::string* error = nullptr);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

}  // namespace faultline
