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

// True for "localhost" (any case) and an address in 127.0.0.0/8, ::1 or
// ::ffff:127.0.0.0/104; false for any other text ("127.example.com").
bool is_loopback_host(std::string_view host);

// True for an HTTP Host header value (or an origin without its scheme) that
// names loopback: HOST or HOST:PORT with a loopback HOST, an IPv6 one in
// brackets ("localhost:8474", "127.0.0.1", "[::1]:8474").
bool is_loopback_authority(std::string_view authority);

}  // namespace faultline
