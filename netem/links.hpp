#pragma once
// Network devices over rtnetlink (libnl-route): veth pairs across namespaces,
// ifb devices for ingress shaping, link up, addresses, default routes, and the
// lookup of the interface that carries the default route.

#include <string>
#include <vector>

namespace faultline::netem {

class NlSocket;

// Throws ConfigError unless `dev` is a valid interface name (1..15 chars, no '/', ':' or space).
void check_dev_name(const std::string& dev);

// The ifindex of `dev` in the socket's namespace; ConfigError naming it when absent.
int ifindex_of(NlSocket& sock, const std::string& dev);
bool link_exists(const std::string& netns, const std::string& dev);
std::vector<std::string> list_links(const std::string& netns);

void set_link_up(const std::string& netns, const std::string& dev);

// A veth pair: `dev_a` in `netns_a`, its peer `dev_b` in `netns_b` (empty = caller's namespace).
void create_veth(const std::string& netns_a, const std::string& dev_a, const std::string& netns_b,
                 const std::string& dev_b);
void create_ifb(const std::string& netns, const std::string& dev);
// Returns false if there was no such link.
bool delete_link(const std::string& netns, const std::string& dev);

// `cidr` like "10.213.0.1/24".
void add_address(const std::string& netns, const std::string& dev, const std::string& cidr);
void add_default_route(const std::string& netns, const std::string& gateway);

// Interfaces that carry an IPv4 or IPv6 default route in `netns`.
std::vector<std::string> default_route_interfaces(const std::string& netns = {});

// Writes a /proc/sys value as seen from inside `netns` (e.g. net/ipv4/ip_forward).
void write_sysctl(const std::string& netns, const std::string& key, const std::string& value);

}  // namespace faultline::netem
